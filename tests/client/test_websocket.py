"""The WebSocket transport on websockets' sans-I/O protocol: handshake, options, keepalive."""

from __future__ import annotations

import asyncio
from typing import Any

import anyio
import msgspec
import pytest
from websockets.asyncio.server import ServerConnection, serve

import swill
from swill.client import Client, TransportClosed, TransportError, WebSocketTransport

from .conftest import Peer, fake_server


async def echo_requests(peer: Peer) -> None:
    while True:
        frame = await peer.recv(30)
        await peer.send([6, frame[1], frame[5]])


async def test_deflate_is_offered_and_used_when_asked() -> None:
    seen: list[Any] = []

    async def script(peer: Peer) -> None:
        seen.append(peer.ws.request.headers.get("Sec-WebSocket-Extensions") if peer.ws.request else None)
        await echo_requests(peer)

    async with fake_server(script) as fake:
        async with Client(fake.url, transport=WebSocketTransport(compression="deflate")) as client:
            assert await client.call("echo", "x" * 5000) == "x" * 5000
    assert seen[0] is not None and "permessage-deflate" in seen[0]


async def test_unknown_compression_is_refused() -> None:
    with pytest.raises(ValueError, match="compression"):
        WebSocketTransport(compression="brotli")


async def test_headers_and_origin_go_into_the_handshake() -> None:
    seen: list[Any] = []

    async def script(peer: Peer) -> None:
        assert peer.ws.request is not None
        seen.append(peer.ws.request.headers)
        await echo_requests(peer)

    async with fake_server(script) as fake:
        headers = {"X-Trace": "abc", "Origin": "https://app.example"}
        async with Client(fake.url, headers=headers) as client:
            assert await client.call("echo", 1) == 1
    assert seen[0]["X-Trace"] == "abc" and seen[0]["Origin"] == "https://app.example"
    assert seen[0]["Sec-WebSocket-Protocol"] == "swill.v1"
    assert seen[0]["User-Agent"].startswith("swill/")


@pytest.mark.parametrize("url", ["http://127.0.0.1:1/ws", "ws://[bad/ws"])
async def test_a_bad_url_is_a_transport_error(url: str) -> None:
    with pytest.raises(TransportError):
        await WebSocketTransport().connect(url, subprotocols=[], headers={}, max_size=None)


async def test_an_http_refusal_names_the_status() -> None:
    async with fake_server(echo_requests) as fake:  # serves swill.v1 only
        with pytest.raises(TransportError, match="HTTP 400"):
            await WebSocketTransport().connect(fake.url, subprotocols=["other"], headers={}, max_size=None)


async def test_nothing_listening_is_a_transport_error() -> None:
    async with fake_server(echo_requests) as fake:
        url = fake.url
    with pytest.raises(TransportError):
        await WebSocketTransport(open_timeout=5).connect(url, subprotocols=[], headers={}, max_size=None)


async def test_a_peer_that_stops_answering_pings_is_dropped() -> None:
    stalled = asyncio.Event()
    done = asyncio.Event()

    async def handler(ws: ServerConnection) -> None:
        ws.transport.pause_reading()  # a dead peer: reads nothing, answers no ping
        stalled.set()
        await done.wait()
        ws.transport.abort()

    async with serve(handler, "127.0.0.1", 0, ping_interval=None) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        transport = WebSocketTransport(ping_interval=0.05, ping_timeout=0.2, close_timeout=0.2)
        connection = await transport.connect(f"ws://127.0.0.1:{port}/ws", subprotocols=[], headers={}, max_size=None)
        with anyio.fail_after(5):
            await stalled.wait()
            with pytest.raises(TransportClosed) as info:
                await connection.receive_batch()
        assert info.value.code == 1006
        await connection.close()
        done.set()


async def test_send_after_close_raises_transport_closed() -> None:
    async with fake_server(echo_requests) as fake:
        connection = await WebSocketTransport().connect(fake.url, subprotocols=["swill.v1"], headers={}, max_size=None)
        await connection.close(1000, "done")
        with pytest.raises(TransportClosed):
            await connection.send(b"\x90")


async def test_client_still_works_with_a_default_transport(url: str) -> None:
    async with Client(url) as client:
        assert isinstance(client.transport, WebSocketTransport)
        assert await client.call("add", (1, 2)) == 3
        with pytest.raises(swill.Error):
            await client.call("no.such.rpc")


class CountingWrites:
    """Wraps an asyncio transport, counting `write` calls."""

    def __init__(self, transport: Any) -> None:
        self.inner = transport
        self.writes = 0

    def write(self, data: bytes) -> None:
        self.writes += 1
        self.inner.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


async def test_messages_sent_in_one_turn_of_the_loop_go_out_in_one_write() -> None:
    received: list[Any] = []
    all_there = asyncio.Event()

    async def script(peer: Peer) -> None:
        while True:
            received.append(await peer.recv(30))
            if len(received) == 64:
                all_there.set()

    async with fake_server(script) as fake:
        connection: Any = await WebSocketTransport().connect(
            fake.url, subprotocols=["swill.v1"], headers={}, max_size=None
        )
        counting = connection._connection.transport = CountingWrites(connection._connection.transport)
        await asyncio.gather(*(connection.send(msgspec.msgpack.encode([9, n])) for n in range(64)))
        with anyio.fail_after(5):
            await all_there.wait()
        writes = counting.writes
        await connection.close()
    assert writes == 1
    assert received == [[9, n] for n in range(64)]


async def test_credit_goes_out_at_once_while_the_consumer_works_through_a_batch() -> None:
    async def script(peer: Peer) -> None:
        request = await peer.recv(30)
        await peer.send(*([1, request[1], n] for n in range(4)))
        credit = await peer.recv(30)
        assert credit == [7, request[1], 2]
        await peer.send([3, request[1]])
        await peer.recv(30)

    async with fake_server(script) as fake, Client(fake.url, window=4) as client:
        await client.connect()
        inner = client._conn.transport._connection  # type: ignore[union-attr]
        counting = inner.transport = CountingWrites(inner.transport)
        call = client.stream("count", 4)
        writes_seen = []
        async for n in call:
            writes_seen.append((n, counting.writes))  # no await between messages of one batch
        assert [n for n, _ in writes_seen] == [0, 1, 2, 3]
        request_writes = writes_seen[0][1]
        assert writes_seen[2][1] == request_writes + 1  # the CREDIT was written after message 1
