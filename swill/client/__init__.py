"""The Python client: `Client` and `Call`, over a pluggable `AsyncTransport`.

```python
async with swill.Client("ws://localhost:8000/ws") as client:
    assert await client.call("add", (1, 2)) == 3
    async for i in client.stream("count", 3):
        ...
```
"""

from __future__ import annotations

from ._asgi import ASGITransport
from ._call import Call
from ._client import DEFAULT_WINDOW, UNSET, Client, retry_delay
from ._subscribe import SubscriptionEvent
from ._transport import AsyncTransport, TransportClosed, TransportConnection, TransportError
from ._websocket import WebSocketTransport

__all__ = [
    "DEFAULT_WINDOW",
    "UNSET",
    "ASGITransport",
    "AsyncTransport",
    "Call",
    "Client",
    "SubscriptionEvent",
    "TransportClosed",
    "TransportConnection",
    "TransportError",
    "WebSocketTransport",
    "retry_delay",
]
