"""A client that grants unlimited credit and stops reading, against a handler that never awaits:
the server's buffer for it stays bounded, other connections are served, and drain still ends it
(PROTOCOL.md section 5)."""

from __future__ import annotations

import asyncio
import signal
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager

import anyio
import pytest
import websockets
from websockets.client import ClientProtocol
from websockets.uri import parse_uri

import swill
from swill._asgi import SEND_HIGH_WATER
from swill._responder import YIELD_EVERY
from swill.testing import TestClient
from tests.conftest import LiveServer, decode, encode

ROW = b"x" * 1024
BOUND = SEND_HIGH_WATER + 2 * len(ROW)  # the mark, plus one DATA frame and small control frames

app = swill.Swill(__name__, drain_grace=0.5)
produced = [0]
ended = threading.Event()


@app.handle()
async def firehose(request: swill.Request[int]) -> AsyncIterator[bytes]:
    try:
        for _ in range(request.data):  # never awaits
            produced[0] += 1
            yield ROW
    finally:
        ended.set()


@app.handle()
async def add(request: swill.Request[tuple[int, int]]) -> int:
    return request.data[0] + request.data[1]


def buffered(live: LiveServer) -> list[int]:
    """Every connection's buffered bytes, read in the server's own thread."""
    return asyncio.run_coroutine_threadsafe(_buffered(), live.server_loop).result(5)


async def _buffered() -> list[int]:
    return [connection.buffered_bytes for connection in app.connections]


@contextmanager
def unread_socket(url: str, *frames: object) -> Iterator[socket.socket]:
    """A WebSocket client that sends `frames` after the handshake and then never reads again,
    with a small receive buffer, so that the server soon has nowhere to put what it sends."""
    protocol = ClientProtocol(parse_uri(url))
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(5)
    try:
        sock.connect((parse_uri(url).host, parse_uri(url).port))
        protocol.send_request(protocol.connect())
        sock.sendall(b"".join(protocol.data_to_send()))
        while protocol.handshake_exc is None and not any(True for _ in protocol.events_received()):
            protocol.receive_data(sock.recv(4096))
        assert protocol.handshake_exc is None
        for frame in frames:
            protocol.send_binary(encode(frame))
        sock.sendall(b"".join(protocol.data_to_send()))
        yield sock
    finally:
        sock.close()


async def over_the_mark(live: LiveServer) -> None:
    """Wait, in the server's thread, until a connection is over its high-water mark: its producer
    then waits."""

    async def check() -> bool:
        for _ in range(1_000_000):
            if any(connection.buffered_bytes > SEND_HIGH_WATER for connection in app.connections):
                return True
            await asyncio.sleep(0)
        return False

    future = asyncio.run_coroutine_threadsafe(check(), live.server_loop)
    assert await anyio.to_thread.run_sync(future.result, 20)


async def test_firehose_into_an_unread_socket(live_server: Callable[..., LiveServer]) -> None:
    live = live_server(app)
    # No window: unlimited credit.
    with unread_socket(live.url, [0, 1, "firehose", None, None, 10_000_000]):
        # The producer waits once the connection is over its mark (what the kernel and uvicorn
        # hold is full by then).
        await over_the_mark(live)
        seen = []
        async with websockets.connect(live.url) as other:
            assert decode(await other.recv())[0] == 8
            for id in range(1, 21):
                await other.send(encode([0, id, "add", None, None, [id, 1]]))
                with anyio.fail_after(5):
                    assert decode(await other.recv()) == [6, id, id + 1, None, None]
                seen.extend(buffered(live))
        assert max(seen) <= BOUND
        assert produced[0] < 100_000  # far from the 10 GB it would have encoded
        drained = asyncio.run_coroutine_threadsafe(app.drain(grace=0.5), live.server_loop)
        await anyio.to_thread.run_sync(drained.result, 10)
        assert await anyio.to_thread.run_sync(ended.wait, 5)
        assert buffered(live) == []  # the connection is gone


async def test_a_handler_that_never_awaits_lets_others_run() -> None:
    ticks = [0]
    fair = swill.Swill()

    @fair.handle()
    async def rows(request: swill.Request[int]) -> AsyncIterator[int]:
        for _ in range(request.data):  # never awaits: the server yields for it
            yield ticks[0]

    async def tick() -> None:
        while True:
            ticks[0] += 1
            await asyncio.sleep(0)

    async with TestClient(fair) as client:
        ticker = asyncio.get_running_loop().create_task(tick())
        try:
            values = [value async for value in client.stream("rows", 1000, window=None)]
        finally:
            ticker.cancel()
    assert len(values) == 1000
    assert len(set(values)) >= 1000 // (2 * YIELD_EVERY)  # the ticker ran at least every 2 x YIELD_EVERY messages


@pytest.fixture(autouse=True)
def reset() -> None:
    produced[0] = 0
    ended.clear()


async def test_sigterm_under_swill_run_drains_during_a_firehose() -> None:
    from tests.client.test_cli import Served

    served = Served("tests.integration.test_firehose:app")
    try:
        with unread_socket(served.url, [0, 1, "firehose", None, None, 10_000_000]):
            async with websockets.connect(served.url) as other:  # the server still serves others
                assert decode(await other.recv())[0] == 8
                await other.send(encode([0, 1, "add", None, None, [1, 2]]))
                with anyio.fail_after(5):
                    assert decode(await other.recv()) == [6, 1, 3, None, None]
            started = time.monotonic()
            served.process.send_signal(signal.SIGTERM)
            # drain_grace (0.5 s), a second for the calls' last frames and one for the socket,
            # then uvicorn's --timeout-graceful-shutdown (1 s): 3.5 s, and room for a slow machine.
            returncode = await anyio.to_thread.run_sync(served.stop)
            took = time.monotonic() - started
    finally:
        if served.process.poll() is None:
            served.process.kill()
            served.stop()
    assert returncode in (0, -signal.SIGTERM)
    print(f"drained in {took:.2f} s")
    assert took < 15, f"took {took:.1f} s, log: {served.log}"
    assert any("firehose" in line or "Finished server process" in line for line in served.log)
