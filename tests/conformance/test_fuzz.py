"""A structure-aware fuzzer: hostile frames on several connections while a canary connection
checks every one of its results; afterwards the server holds no call task and no buffered byte."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import anyio
import pytest
import websockets
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import LiveServer, encode

from .app import app
from .conftest import RawClient

RPCS = ["add", "echo", "order", "count", "total", "chat", "sleepy", "forever", "fail", "blocking_count", "stuck"]

ints = st.one_of(
    st.integers(-3, 40),
    st.sampled_from([2**31 - 1, 2**32, 2**53 - 1, 2**53, 2**63 - 1, 2**64 - 1, -(2**63)]),
    st.integers(-(2**63), 2**64 - 1),
)
values = st.recursive(
    st.none() | st.booleans() | ints | st.floats() | st.text(max_size=20) | st.binary(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
    max_leaves=12,
)
metadata = st.none() | st.dictionaries(st.text(max_size=8), values, max_size=3) | values
options = st.none() | st.fixed_dictionaries({}, optional={"timeout": ints, "window": ints, "x": values}) | values
ids = st.one_of(st.integers(1, 60), ints)


@st.composite
def frame(draw: st.DrawFn) -> Any:
    """One frame of any type, with field values of any type, and any arity."""
    known = st.sampled_from(range(13))
    type_ = draw(st.one_of(known, known, known, st.integers(13, 40), ints))
    fields: list[Any] = [type_, draw(ids)]
    if type_ == 0:
        fields += [draw(st.sampled_from(RPCS) | st.text(max_size=10) | values), draw(metadata), draw(options)]
    more = draw(st.lists(values, max_size=4))
    fields += more
    cut = draw(st.integers(0, len(fields)))
    return fields if draw(st.booleans()) else fields[:cut]


def nested(depth: int) -> bytes:
    return b"\x91" * depth + b"\xc0"


@st.composite
def message(draw: st.DrawFn) -> bytes | str:
    """What a hostile client may put in one WebSocket message."""
    kind = draw(st.sampled_from(["frame", "frame", "frame", "truncated", "deep", "huge map", "text", "bytes"]))
    if kind == "frame":
        return encode(draw(frame()))
    if kind == "truncated":
        data = encode(draw(frame()))
        return data[: draw(st.integers(0, max(0, len(data) - 1)))]
    if kind == "deep":
        prefix = encode(draw(frame()))[:-1] if draw(st.booleans()) else b"\x93\x01\x01"
        return prefix + nested(draw(st.integers(500, 3000)))
    if kind == "huge map":
        return (
            b"\x93\x00\x01" + b"\xde\x0f\xa0" + b"".join(b"\xcd" + i.to_bytes(2, "big") + b"\xc0" for i in range(4000))
        )
    if kind == "text":
        return draw(st.text(max_size=30))
    return draw(st.binary(max_size=64))


async def hostile(url: str, messages: list[bytes | str]) -> None:
    """Send `messages`, reading (and dropping) whatever comes back meanwhile; then check that
    the connection is still served: a PING gets its PONG."""
    async with websockets.connect(url, max_size=None) as ws:
        ponged = anyio.Event()

        async def drain() -> None:
            async for message in ws:
                if isinstance(message, bytes) and message == encode([10, 2**40]):
                    ponged.set()

        async with anyio.create_task_group() as task_group:
            task_group.start_soon(drain)
            for message in messages:
                await ws.send(message)
            await ws.send(encode([9, 2**40]))
            with anyio.fail_after(10):
                await ponged.wait()
            task_group.cancel_scope.cancel()


async def canary(url: str, rounds: int) -> None:
    """Calls whose every result is checked, on a connection of its own."""
    async with websockets.connect(url) as ws:
        client = RawClient(ws)
        assert (await client.recv())[0] == 8
        id = 0
        for n in range(rounds):
            id += 1
            await client.send([0, id, "add", None, None, [n, 1]])
            assert await client.recv_for(id) == [6, id, n + 1, None, None]
            id += 1
            await client.send([0, id, "count", None, {"window": 2}, 3])
            frames = [await client.recv_for(id), await client.recv_for(id)]
            await client.send([7, id, 5])
            frames += [await client.recv_for(id), await client.recv_for(id)]
            assert frames == [[1, id, 0], [1, id, 1], [1, id, 2], [3, id, {"counted": 3}]]
            id += 1
            await client.send([0, id, "total", None, None, 1], [1, id, 2], [3, id])
            assert await client.recv_for(id, credit=False) == [6, id, 3, None, None]


async def round_of(url: str, batches: list[list[bytes | str]]) -> None:
    with anyio.fail_after(30):
        async with anyio.create_task_group() as task_group:
            for batch in batches:
                task_group.start_soon(hostile, url, batch)
            task_group.start_soon(canary, url, 5)


@pytest.fixture(scope="module")
def baseline(server: LiveServer) -> Iterator[int]:
    """How many tasks the idle server runs; the fuzzer must leave it at that."""
    yield run_on(server, _tasks())


def run_on(server: LiveServer, coroutine: Any) -> Any:
    return asyncio.run_coroutine_threadsafe(coroutine, server.server_loop).result(30)


async def _tasks() -> int:
    return len(asyncio.all_tasks())


async def _settled(baseline: int) -> tuple[int, list[int], int]:
    """Wait (a bounded number of loop turns and short sleeps) until every connection and call
    of the fuzzer is gone; return what is left."""
    for _ in range(500):
        if not app.connections and len(asyncio.all_tasks()) <= baseline:
            break
        await asyncio.sleep(0.01)
    return len(app.connections), [c.buffered_bytes for c in app.connections], len(asyncio.all_tasks())


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batches=st.lists(st.lists(message(), min_size=1, max_size=25), min_size=1, max_size=3))
def test_fuzzed_frames_leave_the_canary_and_the_server_intact(
    server: LiveServer, baseline: int, batches: list[list[bytes | str]]
) -> None:
    anyio.run(round_of, server.url, batches)
    connections, buffered, tasks = run_on(server, _settled(baseline))
    assert (connections, buffered) == (0, [])
    assert tasks <= baseline
