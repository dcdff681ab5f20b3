"""What the client puts on the wire, and how it takes what a scripted server sends."""

from __future__ import annotations

import contextlib
from typing import Any

import anyio
import msgspec
import pytest

import swill
from swill.client import Client, TransportClosed, WebSocketTransport

from .conftest import Peer, Script, fake_server


async def answer_all(peer: Peer) -> None:
    """Answer every REQUEST with RESPONSE `data`; record nothing."""
    while True:
        frame = await peer.recv(30)
        if frame[0] == 0:
            await peer.send([6, frame[1], frame[5] if len(frame) > 5 else None])


async def silent(peer: Peer) -> None:
    while True:
        await peer.recv(30)  # never answers anything


def recording(frames: list[Any]) -> Script:
    """A script that keeps every frame in `frames` and answers each with RESPONSE `nil`."""

    async def script(peer: Peer) -> None:
        while True:
            frame = await peer.recv(30)
            frames.append(frame)
            await peer.send([6, frame[1], None])

    return script


def holding_first(release: anyio.Event, *, goaway_on: str | None = None) -> Script:
    """A server that keeps the call to rpc "first" open until `release` is set (then answers
    "first"), answers other REQUESTs with their rpc's name and PINGs with PONG. `goaway_on`:
    send GOAWAY on REQUEST "first" (`"first"`) or before the PONG (`"ping"`)."""

    async def finish(peer: Peer, id: int) -> None:
        await release.wait()
        await peer.send([6, id, "first"])

    async def script(peer: Peer) -> None:
        async with anyio.create_task_group() as tg:
            while True:
                frame = await peer.recv(30)
                if frame[0] == 9:
                    await peer.send(*([[11, 0, "bye"]] if goaway_on == "ping" else []), [10, frame[1]])
                elif frame[0] == 0 and frame[2] == "first":
                    if goaway_on == "first":
                        await peer.send([11, 0, "restart"])
                    tg.start_soon(finish, peer, frame[1])
                elif frame[0] == 0:
                    await peer.send([6, frame[1], frame[2]])

    return script


async def test_request_layout_metadata_timeout_and_window() -> None:
    frames: list[Any] = []

    async def script(peer: Peer) -> None:
        for _ in range(3):
            frame = await peer.recv()
            frames.append(frame)
            await peer.send([6, frame[1], None] if frame[2] != "count" else [3, frame[1]])

    async with fake_server(script) as fake, Client(fake.url, metadata={"m": 1}) as client:
        await client.call("add", [1, 2], timeout=1.1)
        assert [x async for x in client.stream("count", 3, window=8)] == []
        call = await client.open("total", metadata={"n": 2}, window=None)
        await call.result()
    assert frames[0][:4] == [0, 1, "add", {"m": 1}]
    assert frames[0][4] == {"timeout": 1100}
    assert frames[0][5] == [1, 2]
    assert frames[1] == [0, 2, "count", {"m": 1}, {"window": 8}, 3]
    assert frames[2] == [0, 3, "total", {"m": 1, "n": 2}, None]  # no data: the array stops early


async def test_timeout_is_whole_milliseconds_rounded_up() -> None:
    requests: list[Any] = []
    async with fake_server(recording(requests)) as fake, Client(fake.url) as client:
        await client.connect()
        with contextlib.suppress(swill.Error):  # the deadline may pass before the answer comes
            await client.call("f", timeout=0.0004)
        await client.call("f", timeout=2.5)
        await client.call("f", timeout=1.1)
    assert [frame[4]["timeout"] for frame in requests] == [1, 2500, 1100]


async def test_credit_is_granted_as_the_application_consumes() -> None:
    got: list[Any] = []

    async def script(peer: Peer) -> None:
        request = await peer.recv()
        id = request[1]
        assert request[4] == {"window": 4}
        await peer.send(*[[1, id, i] for i in range(4)])  # the whole window
        got.append(await peer.recv())  # CREDIT for the first two taken
        await peer.send([1, id, 4], [1, id, 5], [3, id])
        got.append(await peer.recv())

    async with fake_server(script) as fake, Client(fake.url, window=4) as client:
        assert [x async for x in client.stream("s", None)] == [0, 1, 2, 3, 4, 5]
    assert got == [[7, 1, 2], [7, 1, 2]]


async def test_streamed_request_waits_for_the_servers_credit() -> None:
    seen: list[Any] = []

    async def script(peer: Peer) -> None:
        request = await peer.recv()
        id = request[1]
        seen.append(await peer.recv())
        seen.append(await peer.recv())
        seen.append(await peer.recv())  # the PING: the third DATA waits for credit
        await peer.send([10, seen[-1][1]])
        await peer.send([7, id, 1])
        seen.append(await peer.recv())
        seen.append(await peer.recv())
        await peer.send([6, id, "ok"])

    async with fake_server(script, hello={"client_window": 3}) as fake, Client(fake.url) as client:
        call = await client.open("up", "first")  # REQUEST's data counts against the window
        async with anyio.create_task_group() as tg:

            async def send_all() -> None:
                for i in range(3):
                    await call.send(i)
                await call.end()

            tg.start_soon(send_all)
            await anyio.wait_all_tasks_blocked()  # the sender waits for credit after two messages
            await client.ping()
        assert await call.result() == "ok"
    assert [frame[0] for frame in seen] == [1, 1, 9, 1, 3]
    assert [frame[2] for frame in seen[:2]] == [0, 1]


async def test_message_larger_than_hello_says_is_refused_locally() -> None:
    requests: list[Any] = []
    async with fake_server(recording(requests), hello={"max_message_size": 100}) as fake, Client(fake.url) as client:
        with pytest.raises(swill.Error) as info:
            await client.call("f", b"x" * 200)
        assert info.value.code is swill.Code.RESOURCE_EXHAUSTED
        call = await client.open("g")
        with pytest.raises(swill.Error) as info:
            await call.send("y" * 200)
        assert info.value.code is swill.Code.RESOURCE_EXHAUSTED
        await call.end()
        await client.call("h", b"x" * 10)
    assert [frame[:3] for frame in requests if frame[0] == 0] == [[0, 1, "g"], [0, 2, "h"]]


async def test_concurrency_limit_from_hello_queues_calls() -> None:
    order: list[Any] = []

    async def script(peer: Peer) -> None:
        first = await peer.recv()
        order.append(first[2])
        with anyio.move_on_after(0.2):  # the second REQUEST must not come while the first is open
            order.append((await peer.recv())[2])
        await peer.send([6, first[1], 1])
        second = await peer.recv()
        order.append(second[2])
        await peer.send([6, second[1], 2])

    async with fake_server(script, hello={"max_concurrent_calls": 1}) as fake, Client(fake.url) as client:
        await client.connect()
        results: list[int] = []
        async with anyio.create_task_group() as tg:

            async def call(name: str) -> None:
                results.append(await client.call(name))

            tg.start_soon(call, "a")
            await anyio.wait_all_tasks_blocked()
            tg.start_soon(call, "b")
    assert order == ["a", "b"]
    assert sorted(results) == [1, 2]


async def test_leaving_async_for_early_sends_close() -> None:
    closed: list[Any] = []
    done = anyio.Event()

    async def script(peer: Peer) -> None:
        request = await peer.recv()
        await peer.send(*[[1, request[1], i] for i in range(5)])
        closed.append(await peer.recv_until(4))
        done.set()
        await peer.recv(30)

    async with fake_server(script) as fake, Client(fake.url) as client:
        async for i in client.stream("s"):
            if i == 1:
                break
        with anyio.fail_after(5):
            await done.wait()
    assert closed[0][:2] == [4, 1]


async def test_local_deadline_then_close_after_the_grace() -> None:
    frames: list[Any] = []
    done = anyio.Event()

    async def script(peer: Peer) -> None:
        frames.append(await peer.recv())
        frames.append(await peer.recv(10))  # the server never answers: CLOSE comes after the grace
        done.set()
        await peer.recv(30)

    async with fake_server(script) as fake, Client(fake.url) as client:
        await client.connect()
        with anyio.fail_after(5):
            with pytest.raises(swill.Error) as info:
                await client.call("never", timeout=0.1)
        assert info.value.code is swill.Code.DEADLINE_EXCEEDED
        assert frames[1:] == []  # CLOSE waits for the grace
        with anyio.fail_after(5):
            await done.wait()
    assert frames[1][:2] == [4, 1]


async def test_deadline_passed_before_start_sends_nothing() -> None:
    requests: list[Any] = []
    async with fake_server(recording(requests)) as fake, Client(fake.url) as client:
        with pytest.raises(swill.Error) as info:
            await client.call("f", timeout=0)
        assert info.value.code is swill.Code.DEADLINE_EXCEEDED
        await client.call("g")
    assert [frame[:3] for frame in requests] == [[0, 1, "g"]]


async def test_server_breaking_the_protocol_fails_the_call_with_internal() -> None:
    async def script(peer: Peer) -> None:
        request = await peer.recv()
        await peer.send([1, request[1], 0], [6, request[1], 1])  # RESPONSE after DATA
        await answer_all(peer)

    async with fake_server(script) as fake, Client(fake.url) as client:
        with pytest.raises(swill.Error) as info:
            async for _ in client.stream("s"):
                pass
        assert info.value.code is swill.Code.INTERNAL
        assert await client.call("again", 5) == 5  # the connection goes on


async def test_extension_frames_and_connection_errors_are_ignored() -> None:
    async def script(peer: Peer) -> None:
        request = await peer.recv()
        await peer.send([40, request[1], "ext"], [5, 0, "INVALID_ARGUMENT", "about the connection"])
        await peer.send([6, request[1], "ok"])

    async with fake_server(script) as fake, Client(fake.url) as client:
        assert await client.call("f") == "ok"


async def test_goaway_moves_new_calls_to_a_new_connection() -> None:
    release = anyio.Event()
    async with fake_server(holding_first(release, goaway_on="first")) as fake, Client(fake.url) as client:
        first = await client.open("first", None)
        await client.ping()  # its PONG comes after GOAWAY: the client has seen it
        assert await client.call("second") == "second"
        assert fake.connections == 2
        release.set()
        assert await first.result() == "first"  # finished on the old connection


async def test_a_44xx_close_is_a_refusal_and_the_client_does_not_reconnect() -> None:
    async def script(peer: Peer) -> None:
        await peer.close(4401, "bad token")

    async with fake_server(script) as fake, Client(fake.url) as client:
        for _ in range(2):
            with pytest.raises(swill.Error) as info:
                await client.call("f")
            assert info.value.code is swill.Code.UNAUTHENTICATED
            assert info.value.message == "bad token"
            assert info.value.data == {"close_code": 4401}
        assert fake.connections == 1


async def test_lost_connection_fails_open_calls_and_the_next_call_reconnects() -> None:
    async def script(peer: Peer) -> None:
        request = await peer.recv()
        if request[2] == "drop":
            await peer.close(1011, "oops")
        else:
            await peer.send([6, request[1], "fine"])
            await peer.recv(30)

    async with fake_server(script) as fake, Client(fake.url, reconnect_delay=0.01) as client:
        with pytest.raises(swill.Error) as info:
            await client.call("drop")
        assert info.value.code is swill.Code.UNAVAILABLE
        assert "1011" in info.value.message
        assert await client.call("ok") == "fine"
        assert fake.connections == 2


async def test_keepalive_drops_a_connection_that_does_not_answer_pings() -> None:
    async with fake_server(silent) as fake, Client(fake.url, keepalive=0.1) as client:
        with anyio.fail_after(5), pytest.raises(swill.Error) as info:
            await client.call("f")
        assert info.value.code is swill.Code.UNAVAILABLE
        assert "PONG" in info.value.message


async def test_ping_without_pong_is_deadline_exceeded() -> None:
    async with fake_server(silent) as fake, Client(fake.url) as client:
        with pytest.raises(swill.Error) as info:
            await client.ping(timeout=0.05)
        assert info.value.code is swill.Code.DEADLINE_EXCEEDED


async def test_no_hello_means_no_connection() -> None:
    async with fake_server(silent, hello={}) as fake, Client(fake.url, connect_timeout=0.2) as client:
        with pytest.raises(swill.Error) as info:
            await client.call("f")
        assert info.value.code is swill.Code.UNAVAILABLE
        assert "HELLO" in info.value.message


async def test_refused_connection_is_unavailable() -> None:
    async with fake_server(answer_all) as fake:
        url = fake.url
    async with Client(url, reconnect_delay=0.01) as client:
        for _ in range(2):
            with pytest.raises(swill.Error) as info:
                await client.call("f")
            assert info.value.code is swill.Code.UNAVAILABLE
            assert info.value.message.startswith(f"can't connect to {url}")


async def test_a_call_waiting_through_connection_attempts_is_bounded_by_its_timeout() -> None:
    async with fake_server(answer_all) as fake:
        url = fake.url
    async with Client(url, backoff=lambda attempt: 30.0) as client:  # the retries would take minutes
        with anyio.fail_after(5), pytest.raises(swill.Error) as info:
            await client.call("f", timeout=0.2)
        assert info.value.code is swill.Code.DEADLINE_EXCEEDED
    async with Client(url, retries=0, backoff=lambda attempt: 30.0) as client:
        with anyio.fail_after(5), pytest.raises(swill.Error) as info:  # one attempt, no wait
            await client.call("f")
        assert info.value.code is swill.Code.UNAVAILABLE


async def test_each_call_waits_through_a_round_of_attempts_that_backs_off_from_the_start() -> None:
    async with fake_server(answer_all) as fake:
        url = fake.url
    delays: list[int] = []

    def backoff(attempt: int) -> float:
        delays.append(attempt)
        return 0.0

    async with Client(url, retries=2, backoff=backoff) as client:
        for _ in range(2):
            with anyio.fail_after(5), pytest.raises(swill.Error) as info:
                await client.call("f")
            assert info.value.code is swill.Code.UNAVAILABLE
    assert delays == [1, 2, 3, 1, 2, 3]  # 3 attempts a call; the second round starts afresh


async def test_fragmented_and_burst_messages_arrive_whole_and_in_order() -> None:
    async def script(peer: Peer) -> None:
        request = await peer.recv()
        id = request[1]
        frame = msgspec.msgpack.encode([1, id, "x" * 3000])
        await peer.ws.send([frame[:1000], frame[1000:2000], frame[2000:]])  # one message, three frames
        for i in range(3000):  # a burst: many messages to a TCP segment, reading pauses and resumes
            await peer.ws.send(msgspec.msgpack.encode([1, id, i]))
        await peer.send([3, id])
        await peer.recv(30)

    async with fake_server(script) as fake, Client(fake.url, window=None) as client:
        messages = [m async for m in client.stream("s")]
    assert messages == ["x" * 3000, *range(3000)]


async def test_websocket_transport_on_its_own() -> None:
    async def script(peer: Peer) -> None:
        await peer.ws.send("a text message")
        await peer.send([10, 1], [10, 2])
        await peer.recv(30)

    async with fake_server(script) as fake:
        connection = await WebSocketTransport().connect(
            fake.url, subprotocols=["swill.v1"], headers={}, max_size=None
        )
        assert connection.subprotocol == "swill.v1"
        hello = await connection.receive()
        assert isinstance(hello, bytes) and msgspec.msgpack.decode(hello)[0] == 8
        assert await connection.receive() == "a text message"
        with anyio.fail_after(5):
            frames = await connection.receive_batch()
            while len(frames) < 2:
                frames += await connection.receive_batch()
        assert frames == [msgspec.msgpack.encode([10, 1]), msgspec.msgpack.encode([10, 2])]
        await connection.close()
        with pytest.raises(TransportClosed) as info:
            await connection.receive_batch()
        assert info.value.code == 1000


async def test_a_text_message_from_the_server_is_reported_and_ignored(caplog: pytest.LogCaptureFixture) -> None:
    async def script(peer: Peer) -> None:
        request = await peer.recv()
        await peer.ws.send("not a frame")
        await peer.send([6, request[1], "ok"])
        await peer.recv(30)

    async with fake_server(script) as fake, Client(fake.url) as client:
        assert await client.call("f") == "ok"
    assert "text message" in caplog.text


async def test_a_call_cancelled_while_waiting_for_a_slot_gives_nothing_away() -> None:
    release = anyio.Event()
    async with fake_server(holding_first(release), hello={"max_concurrent_calls": 1}) as fake:
        async with Client(fake.url) as client:
            first = await client.open("first", None)
            with anyio.move_on_after(0.1):
                await client.call("waits")  # no slot: gives up waiting
            release.set()
            assert await first.result() == "first"
            assert await client.call("third") == "third"  # the slot came back, exactly once


async def test_goaway_sends_calls_waiting_for_a_slot_to_a_new_connection() -> None:
    release = anyio.Event()
    async with fake_server(holding_first(release, goaway_on="ping"), hello={"max_concurrent_calls": 1}) as fake:
        async with Client(fake.url) as client:
            first = await client.open("first", None)
            results: list[str] = []

            async def second() -> None:
                results.append(await client.call("second"))

            async with anyio.create_task_group() as tg:
                tg.start_soon(second)
                await anyio.wait_all_tasks_blocked()  # `second` waits for the only slot
                await client.ping()  # answered with GOAWAY, then PONG
            assert results == ["second"]
            assert fake.connections == 2
            release.set()
            assert await first.result() == "first"


async def test_sending_after_the_server_ended_the_call_is_a_no_op() -> None:
    async def script(peer: Peer) -> None:
        request = await peer.recv()
        await peer.send([6, request[1], "early"])
        await answer_all(peer)

    async with fake_server(script) as fake, Client(fake.url) as client:
        call = await client.open("up")
        assert await call.result() == "early"
        await call.send(1)  # ignored, as the server would ignore it
        await call.end()
