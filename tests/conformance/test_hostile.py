"""PROTOCOL.md sections 2 and 6 against hostile input: raw bytes on the wire, the connection goes on."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import anyio
import msgspec
import pytest
import websockets

import swill
from tests.conftest import LiveServer, LogWatch, encode

from .conftest import RawClient

MAX_ID = 2**53 - 1


def with_tail(prefix: list[object], tail: bytes) -> bytes:
    """An array of `prefix` plus one last element given as raw MessagePack."""
    return bytes([0x90 + len(prefix) + 1]) + b"".join(msgspec.msgpack.encode(x) for x in prefix) + tail


def nested(depth: int) -> bytes:
    return b"\x91" * depth + b"\xc0"


DEEP = 100_000
"""Deeper than msgspec decodes on any Python (its limit follows the interpreter's recursion
limits: about 1,000 levels on 3.11, 10,000 on 3.13); 100 KB, so a server of its own with a
larger max_message_size than the conformance app's takes these."""

deep_app = swill.Swill(__name__, max_message_size=1 << 20)


@deep_app.handle()
async def echo(request: swill.Request[Any]) -> Any:
    return request.data


@deep_app.handle()
async def add(request: swill.Request[tuple[int, int]]) -> int:
    return request.data[0] + request.data[1]


@deep_app.handle()
async def total(request: swill.StreamingRequest[int]) -> int:
    return sum([x async for x in request])


@deep_app.handle()
async def sleepy(request: swill.Request[str]) -> str:
    await anyio.sleep_forever()
    return "never"


@pytest.fixture(scope="module")
def deep_server() -> Iterator[LiveServer]:
    live = LiveServer(deep_app)
    live.start()
    yield live
    live.stop()


@pytest.fixture
async def deep(deep_server: LiveServer) -> AsyncIterator[RawClient]:
    async with websockets.connect(deep_server.url, max_size=None) as ws:
        raw = RawClient(ws)
        assert (await raw.recv())[0] == 8
        yield raw


async def test_deep_request_data_fails_its_call(deep: RawClient) -> None:
    client = deep
    await client.send(with_tail([0, 1, "echo", None, None], nested(DEEP)))
    assert (await client.recv())[:3] == [5, 1, "INVALID_ARGUMENT"]
    await client.send([0, 2, "add", None, None, [1, 2]])
    assert await client.recv() == [6, 2, 3, None, None]


async def test_deep_request_metadata_fails_its_call(deep: RawClient) -> None:
    client = deep
    deep_map = b"\x81\xa1k" * DEEP + b"\xc0"
    await client.send(b"\x96" + encode(0) + encode(1) + encode("echo") + deep_map + b"\xc0\xc0")
    assert (await client.recv())[:3] == [5, 1, "INVALID_ARGUMENT"]
    await client.send([0, 2, "add", None, None, [1, 2]])
    assert await client.recv() == [6, 2, 3, None, None]


async def test_deep_data_frame_fails_the_open_call_only(deep: RawClient) -> None:
    client = deep
    await client.send([0, 1, "sleepy", None, None, "deep"], [0, 2, "total"])
    await client.send(with_tail([1, 2], nested(DEEP)))
    assert (await client.recv_for(2, credit=False))[:3] == [5, 2, "INVALID_ARGUMENT"]
    await client.nothing_for(1)
    await client.send([0, 3, "add", None, None, [1, 2]])
    assert await client.recv_for(3) == [6, 3, 3, None, None]


async def test_deep_frame_with_no_readable_id_is_answered_on_id_zero(deep: RawClient) -> None:
    client = deep
    await client.send(nested(DEEP))
    assert (await client.recv())[:3] == [5, 0, "INVALID_ARGUMENT"]


@pytest.mark.parametrize("id", [MAX_ID + 1, 2**64 - 1])
async def test_request_id_beyond_the_range_is_answered_on_id_zero(client: RawClient, id: int) -> None:
    await client.send([0, id, "add", None, None, [1, 2]])
    assert (await client.recv())[:3] == [5, 0, "INVALID_ARGUMENT"]
    await client.send([0, MAX_ID, "add", None, None, [1, 2]])  # the largest id is fine, and unused
    assert await client.recv() == [6, MAX_ID, 3, None, None]


async def test_absurd_lengths_are_malformed(client: RawClient) -> None:
    await client.send(b"\xdd\xff\xff\xff\xff", with_tail([0, 1, "add", None, None], b"\xdd\xff\xff\xff\xff"))
    assert (await client.recv())[:3] == [5, 0, "INVALID_ARGUMENT"]
    assert (await client.recv())[:3] == [5, 1, "INVALID_ARGUMENT"]


async def test_a_clients_protocol_errors_log_a_line_per_kind_with_a_count(
    server: LiveServer, watch_log: Callable[[str], LogWatch]
) -> None:
    protocol = watch_log("swill.protocol")
    everything = watch_log("swill")
    async with websockets.connect(server.url) as ws:
        client = RawClient(ws)
        await client.recv()  # HELLO
        for _ in range(50):
            await client.send(b"\x92\xc1", b"\xc1", "text")
        await client.send([0, 5, "add", None, None, [1, 1]], [0, 5, "add", None, None, [1, 1]])
        for _ in range(151):
            await client.recv()
    first = await protocol.wait(lambda r: r.kind == "malformed frame" and r.count == 100)  # type: ignore[attr-defined]
    await protocol.wait_for(lambda records: sum(r.connection_id == first.connection_id for r in records) == 3)  # type: ignore[attr-defined]
    lines = {r.kind: r for r in protocol.records if r.connection_id == first.connection_id}  # type: ignore[attr-defined]
    assert {kind: record.count for kind, record in lines.items()} == {  # type: ignore[attr-defined]
        "malformed frame": 100,
        "text message": 50,
        "non-increasing call id": 1,
    }
    assert all(record.exc_info is None for record in everything.records)
    assert not any("Traceback" in message for message in everything.messages())


async def test_each_protocol_error_is_logged_at_debug(server: LiveServer, watch_log: Callable[[str], LogWatch]) -> None:
    log = watch_log("swill.protocol")
    logging.getLogger("swill.protocol").setLevel(logging.DEBUG)  # restored by watch_log
    async with websockets.connect(server.url) as ws:
        client = RawClient(ws)
        await client.recv()  # HELLO
        await client.send("one", "two")
        await client.recv()
        await client.recv()
    await log.wait_for(lambda records: sum(r.levelno == logging.DEBUG for r in records) == 2)


async def test_an_invalid_message_fails_a_streamed_request_when_it_arrives(client: RawClient) -> None:
    # `stuck` never reads its stream: the call fails all the same, at once.
    await client.send([0, 1, "stuck", None, None, 1], [1, 1, 2], [1, 1, "three"])
    frame = await client.recv_for(1, credit=False)
    assert frame[:3] == [5, 1, "INVALID_ARGUMENT"]
    assert frame[4] == [{"path": "$", "message": "Expected `int`, got `str`", "index": 2}]
    await client.send([0, 2, "stuck", None, None, "first"])  # invalid before the handler starts
    assert (await client.recv_for(2, credit=False))[:3] == [5, 2, "INVALID_ARGUMENT"]
