"""The client facing a hostile server: a bad frame fails what it names, never the client itself."""

from __future__ import annotations

import anyio
import msgspec
import pytest

import swill
from swill.client import Client

from .conftest import Peer, fake_server

MAX_ID = 2**53 - 1


def with_tail(prefix: list[object], tail: bytes) -> bytes:
    return bytes([0x90 + len(prefix) + 1]) + b"".join(msgspec.msgpack.encode(x) for x in prefix) + tail


DEEP = 100_000  # deeper than msgspec decodes on any Python


def nested(depth: int) -> bytes:
    return b"\x91" * depth + b"\xc0"


def answering_with(bad: bytes | None = None, *, first: bytes | None = None) -> object:
    """A server that answers the REQUEST for rpc "bad" with `bad(id)` bytes and any other with
    RESPONSE `"ok"`; `first` goes out right after HELLO."""

    async def script(peer: Peer) -> None:
        if first is not None:
            await peer.ws.send(first)
        while True:
            frame = await peer.recv(30)
            if frame[0] != 0:
                continue
            if frame[2] == "bad" and bad is not None:
                await peer.ws.send(bad.replace(b"\xff\xee", msgspec.msgpack.encode(frame[1])))
            else:
                await peer.send([6, frame[1], "ok"])

    return script


ID = b"\xff\xee"  # where `answering_with` puts the call id


@pytest.mark.parametrize(
    "bad",
    [
        b"\x93\x06" + ID + nested(DEEP),  # RESPONSE nested deeper than msgspec decodes
        b"\x93\x01" + ID + nested(DEEP),  # DATA likewise
        b"\x96\x05" + ID + b"\xa1x\xa1y" + b"\xd4\xff\x00\xc0",  # ERROR whose data can't decode
        b"\x92\x06" + ID,  # RESPONSE without data
    ],
    ids=["deep-response", "deep-data", "bad-error-data", "short-response"],
)
async def test_a_bad_frame_fails_its_call_and_the_connection_goes_on(bad: bytes) -> None:
    async with fake_server(answering_with(bad)) as fake, Client(fake.url) as client:  # type: ignore[arg-type]
        with anyio.fail_after(5), pytest.raises(swill.Error) as info:
            await client.call("bad")
        assert info.value.code is swill.Code.INTERNAL and "protocol violation" in info.value.message
        with anyio.fail_after(5):
            assert await client.call("good") == "ok"


@pytest.mark.parametrize(
    "noise",
    [
        nested(DEEP),  # no readable id at all
        msgspec.msgpack.encode([6, MAX_ID + 1, 1]),  # an id beyond the range
        msgspec.msgpack.encode([6, 2**64 - 1, 1]),
        msgspec.msgpack.encode([6, 77, 1]),  # a frame for a call that never existed
        msgspec.msgpack.encode([1, 78, 1]),
        b"\xdd\xff\xff\xff\xff",  # an absurd length
    ],
    ids=["deep", "id-2**53", "id-2**64", "unknown-call-response", "unknown-call-data", "absurd-length"],
)
async def test_noise_on_the_connection_disturbs_no_call(noise: bytes) -> None:
    async with fake_server(answering_with(first=noise)) as fake, Client(fake.url) as client:  # type: ignore[arg-type]
        with anyio.fail_after(5):
            assert await client.call("good") == "ok"
            assert await client.call("again") == "ok"


async def test_an_oversize_frame_fails_its_call_and_the_connection_goes_on() -> None:
    big = b"\x93\x06" + ID + msgspec.msgpack.encode("x" * 5000)
    async with fake_server(answering_with(big)) as fake:  # type: ignore[arg-type]
        async with Client(fake.url, max_receive_size=4096) as client:
            with anyio.fail_after(5), pytest.raises(swill.Error) as info:
                await client.call("bad")
            assert info.value.code is swill.Code.RESOURCE_EXHAUSTED
            with anyio.fail_after(5):
                assert await client.call("good") == "ok"
        assert fake.connections == 1


async def test_a_frame_over_the_transport_cap_ends_the_connection_not_the_client() -> None:
    huge = b"\x93\x06" + ID + msgspec.msgpack.encode("x" * 9000)  # over transport_max_size(4096)
    async with fake_server(answering_with(huge)) as fake:  # type: ignore[arg-type]
        async with Client(fake.url, max_receive_size=4096) as client:
            with anyio.fail_after(5), pytest.raises(swill.Error) as info:
                await client.call("bad")
            assert (info.value.code, info.value.data) == (swill.Code.UNAVAILABLE, {"close_code": 1009})
            with anyio.fail_after(5):
                assert await client.call("good") == "ok"  # a new connection
        assert fake.connections == 2
