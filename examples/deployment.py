"""Serve with uvicorn from Python, with limits set and a graceful drain on shutdown
(docs/deployment.md).

Run it with `python -m examples.deployment`; stop it with Ctrl+C or SIGTERM.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator

import anyio
import uvicorn

import swill

app = swill.Swill(__name__, max_message_size=1 << 20, drain_grace=10.0)


@app.handle()
async def ticks(request: swill.Request[float]) -> AsyncIterator[int]:
    """A slow stream: a tick every `interval` seconds, ten in all."""
    for i in range(10):
        yield i
        await anyio.sleep(request.data)


class DrainingServer(uvicorn.Server):
    """A uvicorn server that drains Swill connections before it closes them."""

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for server in self.servers:
            server.close()  # no new connections
        await app.drain()  # GOAWAY, let calls finish for drain_grace seconds, close with 1001
        await super().shutdown(sockets)


config = uvicorn.Config(
    app,
    host="127.0.0.1",
    port=8000,
    ws_max_size=2 << 20,  # above max_message_size: an oversize message fails one call, not all
    ws_ping_interval=20.0,  # below the proxy's idle timeout
    timeout_graceful_shutdown=15,  # above drain_grace
)

if __name__ == "__main__":
    DrainingServer(config).run()
