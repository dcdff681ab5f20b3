"""Fixtures shared by every test folder: a real uvicorn server on 127.0.0.1 and raw frames."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from typing import Any

import msgspec
import pytest
import uvicorn


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class LiveServer:
    """A uvicorn server running `app` in a thread, on a port the OS picked."""

    def __init__(self, app: Any, **config: Any) -> None:
        self.config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on", **config)
        self.server = uvicorn.Server(self.config)
        self.loop: asyncio.AbstractEventLoop | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        async def serve() -> None:
            self.loop = asyncio.get_running_loop()
            await self.server.serve()

        asyncio.run(serve())

    def start(self) -> None:
        self.thread.start()
        started = threading.Event()
        for _ in range(200):
            if self.server.started:
                started.set()
                break
            self.thread.join(0.05)
        if not started.is_set():
            raise RuntimeError("uvicorn did not start")

    @property
    def server_loop(self) -> asyncio.AbstractEventLoop:
        """The server thread's event loop, for `asyncio.run_coroutine_threadsafe`."""
        assert self.loop is not None
        return self.loop

    @property
    def port(self) -> int:
        sockets = self.server.servers[0].sockets
        return int(sockets[0].getsockname()[1])

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture
def live_server() -> Iterator[Callable[..., LiveServer]]:
    """Start servers for apps: `url = live_server(app).url`; all stop at the end of the test."""
    servers: list[LiveServer] = []

    def start(app: Any, **config: Any) -> LiveServer:
        server = LiveServer(app, **config)
        server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def encode(frame: Any) -> bytes:
    return msgspec.msgpack.encode(frame)


def decode(message: bytes | str) -> Any:
    assert isinstance(message, bytes), f"expected a binary message, got {message!r}"
    return msgspec.msgpack.decode(message)
