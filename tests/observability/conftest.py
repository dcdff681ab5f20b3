"""A live app for the log and trace tests, and a log handler that tests can wait on."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager

import anyio
import pytest
import websockets

import swill
from tests.conformance.conftest import RawClient
from tests.conftest import LiveServer, LogWatch

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


Collector = LogWatch


@pytest.fixture
def collect(watch_log: Callable[[str], LogWatch]) -> Callable[[str], LogWatch]:
    """`collect("swill.access")` enables the logger at INFO and collects its records."""
    return watch_log
