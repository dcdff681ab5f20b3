"""Ask a live server for its introspection document."""

from __future__ import annotations

from typing import Any

import anyio
import msgspec
from websockets.asyncio.client import connect

from .._errors import Code, Error
from .._introspect import INTROSPECT
from .._protocol import SUBPROTOCOL, ClientProtocol, ErrorReceived, ResponseReceived

__all__ = ["fetch_document"]


def fetch_document(url: str, *, timeout: float = 30.0) -> dict[str, Any]:
    """Call `swill.introspect` on the server at `url` and return the document.

    Raises:
        swill.Error: The server answered with an error.
        TimeoutError: No answer within `timeout` seconds.
    """
    return anyio.run(_fetch, url, timeout)


async def _fetch(url: str, seconds: float) -> dict[str, Any]:
    protocol = ClientProtocol()
    with anyio.fail_after(seconds):
        async with connect(url, subprotocols=[SUBPROTOCOL], max_size=None) as websocket:  # type: ignore[list-item]
            call = protocol.send_request(INTROSPECT, None)
            for outgoing in protocol.data_to_send():
                await websocket.send(outgoing)
            async for message in websocket:
                if isinstance(message, str):
                    protocol.receive_text(message)
                else:
                    protocol.receive_data(message)
                for event in protocol.events_received():
                    if isinstance(event, ResponseReceived) and event.id == call:
                        document: dict[str, Any] = msgspec.msgpack.decode(event.data)
                        return document
                    if isinstance(event, ErrorReceived) and event.id in (0, call):
                        raise event.error
    raise Error(Code.UNAVAILABLE, f"{url} closed the connection before answering")
