"""A live app for the log and trace tests, and a log handler that tests can wait on."""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager

import anyio
import pytest
import websockets

import swill
from tests.conformance.conftest import RawClient
from tests.conftest import LiveServer

app = swill.Swill(__name__, client_window=8)

# Set by a sync hook just before the second value of `count` goes out: from there to waiting for
# credit the call never yields to the event loop, so a CREDIT sent after it always finds it waiting.
about_to_send: dict[int, threading.Event] = {}


@app.before_response_message
def mark(request: swill.Request[int], message: object) -> None:
    if request.rpc == "count" and message == 1:
        about_to_send.setdefault(request.data, threading.Event()).set()


@app.handle()
async def add(request: swill.Request[tuple[int, int]]) -> int:
    return request.data[0] + request.data[1]


@app.handle()
async def count(request: swill.Request[int]) -> AsyncIterator[int]:
    for i in range(3):
        yield i


@app.handle()
async def total(request: swill.StreamingRequest[int]) -> int:
    return sum([x async for x in request])


@app.handle()
async def me(request: swill.Request[None]) -> str:
    return request.connection.id


@app.handle()
async def fail(request: swill.Request[None]) -> None:
    raise swill.Error(swill.Code.PERMISSION_DENIED, "no")


@app.handle()
async def hang(request: swill.Request[None]) -> None:
    await anyio.sleep_forever()


@pytest.fixture(scope="module")
def server() -> Iterator[LiveServer]:
    live = LiveServer(app)
    live.start()
    yield live
    live.stop()


@asynccontextmanager
async def connect(server: LiveServer) -> AsyncIterator[RawClient]:
    async with websockets.connect(server.url, subprotocols=[websockets.Subprotocol("swill.v1")]) as ws:
        client = RawClient(ws)
        assert (await client.recv())[0] == 8
        yield client


class Collector(logging.Handler):
    """Keeps the records of one logger; `wait` blocks (in a worker thread) until one matches."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self._changed = threading.Condition()

    def emit(self, record: logging.LogRecord) -> None:
        with self._changed:
            self.records.append(record)
            self._changed.notify_all()

    async def wait(self, predicate: Callable[[logging.LogRecord], bool]) -> logging.LogRecord:
        def until() -> bool:
            with self._changed:
                return self._changed.wait_for(lambda: any(predicate(r) for r in self.records), timeout=5)

        if not await anyio.to_thread.run_sync(until):
            raise TimeoutError(f"no matching record in {self.records}")
        with self._changed:
            return next(r for r in self.records if predicate(r))


@pytest.fixture
def collect() -> Iterator[Callable[[str], Collector]]:
    """`collect("swill.access")` enables the logger at INFO and collects its records."""
    attached: list[tuple[logging.Logger, Collector, int]] = []

    def start(name: str) -> Collector:
        logger = logging.getLogger(name)
        collector = Collector()
        attached.append((logger, collector, logger.level))
        logger.addHandler(collector)
        logger.setLevel(logging.INFO)
        return collector

    yield start
    for logger, collector, level in attached:
        logger.removeHandler(collector)
        logger.setLevel(level)
