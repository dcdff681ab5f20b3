"""Fixtures shared by every test folder: a real uvicorn server on 127.0.0.1 and raw frames."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any

import anyio
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


class LogWatch(logging.Handler):
    """Keeps the records of a logger, whichever thread logs them, and lets a test wait for some."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self._changed = threading.Condition()

    def emit(self, record: logging.LogRecord) -> None:
        with self._changed:
            self.records.append(record)
            self._changed.notify_all()

    async def wait_for(self, predicate: Callable[[list[logging.LogRecord]], bool], seconds: float = 5) -> None:
        """Wait until `predicate(records)` holds, for at most `seconds`."""

        def wait() -> bool:
            with self._changed:
                return self._changed.wait_for(lambda: predicate(self.records), seconds)

        assert await anyio.to_thread.run_sync(wait), f"log records: {self.messages()}"

    async def wait(self, predicate: Callable[[logging.LogRecord], bool]) -> logging.LogRecord:
        """Wait (at most 5 s) for a record that matches `predicate`, and return the first one."""
        await self.wait_for(lambda records: any(predicate(r) for r in records))
        with self._changed:
            return next(r for r in self.records if predicate(r))

    def messages(self) -> list[str]:
        return [record.getMessage() for record in self.records]


@pytest.fixture
def watch_log() -> Iterator[Callable[[str], LogWatch]]:
    """`watch_log("swill.access")` records that logger's INFO records and above until the test ends."""
    attached: list[tuple[logging.Logger, LogWatch, int]] = []

    def watch(name: str) -> LogWatch:
        logger = logging.getLogger(name)
        handler = LogWatch()
        attached.append((logger, handler, logger.level))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        return handler

    yield watch
    for logger, handler, level in attached:
        logger.removeHandler(handler)
        logger.setLevel(level)
