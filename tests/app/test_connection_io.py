"""One connection's I/O (swill/_asgi.py), driven in process through the ASGI interface: what it
writes first, which tasks it holds while idle and leaves behind, its bound on buffered bytes, and
how it gives up on a client that stopped reading."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Callable, MutableMapping
from typing import Any

import anyio
import pytest

import swill
from swill._asgi import SEND_HIGH_WATER
from swill._responder import YIELD_EVERY
from tests.conftest import decode, encode

ROW = b"x" * 1024

app = swill.Swill(__name__)
ended: list[str] = []


@app.handle()
async def add(request: swill.Request[tuple[int, int]]) -> int:
    return request.data[0] + request.data[1]


@app.handle()
async def rows(request: swill.Request[int]) -> AsyncIterator[bytes]:
    for _ in range(request.data):  # never awaits: the connection's bound stops it
        yield ROW


@app.handle()
async def sleepy(request: swill.Request[None]) -> None:
    await asyncio.Event().wait()


@app.after_connection
def remember(connection: swill.Connection) -> None:
    ended.append(connection.id)


authenticated = swill.Swill(__name__, auth_timeout=0.2)
authenticated.handle(name="add")(add)


@authenticated.authenticate
async def check(connection: swill.Connection, credentials: Any) -> None:
    if credentials == "slow":
        await asyncio.Event().wait()  # still checking when auth_timeout passes
    if credentials != "ok":
        raise swill.Error(swill.Code.UNAUTHENTICATED, "no")


SCOPE: dict[str, Any] = {
    "type": "websocket",
    "path": "/ws",
    "raw_path": b"/ws",
    "root_path": "",
    "headers": [(b"host", b"testserver")],
    "query_string": b"",
    "subprotocols": ["swill.v1"],
    "client": ("127.0.0.1", 1),
    "server": ("127.0.0.1", 2),
    "scheme": "ws",
    "asgi": {"version": "3.0"},
    "state": {},
    "extensions": {},
}


class Peer:
    """The ASGI server's side of one connection: what the app sends is kept in `sent`; with
    `reading` cleared, a `websocket.send` waits, as on a client that stopped reading."""

    def __init__(self, app: swill.Swill, *frames: Any, **scope: Any) -> None:
        self.inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.inbox.put_nowait({"type": "websocket.connect"})
        for frame in frames:
            self.send_frame(frame)
        self.sent: list[MutableMapping[str, Any]] = []
        self.arrived = asyncio.Event()
        self.reading = asyncio.Event()
        self.reading.set()
        self.gone = False
        self.refused = 0
        self.before = asyncio.all_tasks()  # the test's own and its runner's
        self.task = asyncio.get_running_loop().create_task(app({**SCOPE, **scope}, self.inbox.get, self._send))

    def tasks(self) -> set[asyncio.Task[Any]]:
        """The tasks that run now and did not before the connection."""
        return asyncio.all_tasks() - self.before

    def send_frame(self, frame: Any) -> None:
        self.inbox.put_nowait({"type": "websocket.receive", "bytes": encode(frame)})

    async def _send(self, message: MutableMapping[str, Any]) -> None:
        if message["type"] == "websocket.send":
            await self.reading.wait()
            if self.gone:
                self.refused += 1
                raise OSError("the socket is gone")  # as an ASGI server's send does then
        self.sent.append(message)
        self.arrived.set()

    @property
    def frames(self) -> list[Any]:
        return [decode(m["bytes"]) for m in self.sent if m["type"] == "websocket.send"]

    async def wait_for(self, predicate: Callable[[], bool]) -> None:
        with anyio.fail_after(5):
            while not predicate():
                self.arrived.clear()
                await self.arrived.wait()

    async def disconnect(self) -> None:
        self.inbox.put_nowait({"type": "websocket.disconnect", "code": 1000})
        with anyio.fail_after(5):
            await self.task


async def settle(predicate: Callable[[], bool]) -> bool:
    """Let the loop run a bounded number of steps until `predicate()` holds."""
    for _ in range(100):
        if predicate():
            return True
        await asyncio.sleep(0)
    return predicate()


async def over_the_mark(peer: Peer, *rows: tuple[int, int]) -> swill.Connection:
    """With the client no longer reading, open `rows` streams (call id, row count) and wait until
    the connection is over its high-water mark; the connection."""
    await peer.wait_for(lambda: bool(peer.frames))  # HELLO
    peer.reading.clear()
    for id, count in rows:
        peer.send_frame([0, id, "rows", None, None, count])
    [connection] = app.connections
    assert await settle(lambda: connection.buffered_bytes > SEND_HIGH_WATER)
    return connection


async def test_hello_is_the_first_frame_whatever_came_with_the_handshake() -> None:
    peer = Peer(app, [9, 7], [0, 1, "add", None, None, [1, 2]], [0, 2, "nope"], [0, 3, "rows", None, None, 3])
    await peer.wait_for(lambda: len(peer.frames) >= 7)
    assert peer.sent[0]["type"] == "websocket.accept"
    frames = peer.frames
    assert frames[0][:2] == [8, 0]
    assert [10, 7] in frames
    assert [6, 1, 3, None, None] in frames
    assert frames[-1] == [3, 3, None]
    await peer.disconnect()


@pytest.mark.parametrize(
    "scope",
    [{}, {"root_path": "/api", "path": "/api/ws"}, {"path": "/ws", "root_path": "", "headers": [(b"x", b"y")]}],
    ids=["at-its-path", "under-a-root-path", "no-host"],
)
async def test_the_endpoint_is_reached_straight_or_through_starlettes_routing(scope: dict[str, Any]) -> None:
    peer = Peer(app, [0, 1, "add", None, None, [1, 2]], **scope)
    await peer.wait_for(lambda: [6, 1, 3, None, None] in peer.frames)
    await peer.disconnect()


async def test_other_websocket_paths_are_left_to_starlette() -> None:
    peer = Peer(app, path="/elsewhere")
    with anyio.fail_after(5):
        await peer.task
    assert peer.sent == [{"type": "websocket.close", "code": 1000, "reason": ""}]


async def test_an_idle_connection_holds_its_own_task_and_no_other() -> None:
    peer = Peer(app, [0, 1, "add", None, None, [1, 2]], [0, 2, "rows", None, None, 200], [9, 1])
    await peer.wait_for(lambda: [3, 2, None] in peer.frames and [10, 1] in peer.frames)
    assert await settle(lambda: peer.tasks() == {peer.task})  # no writer waits for work, no call lingers
    await peer.disconnect()
    assert peer.tasks() == set()


async def test_an_authenticated_idle_connection_holds_no_task_for_credentials() -> None:
    peer = Peer(authenticated, [12, 0, "ok"], [0, 1, "add", None, None, [2, 2]])
    await peer.wait_for(lambda: [6, 1, 4, None, None] in peer.frames)
    assert await settle(lambda: peer.tasks() == {peer.task})
    peer.send_frame([12, 0, "ok"])  # a later AUTH is checked by a task of its own, which ends
    peer.send_frame([0, 2, "add", None, None, [3, 3]])
    await peer.wait_for(lambda: [6, 2, 6, None, None] in peer.frames)
    assert await settle(lambda: peer.tasks() == {peer.task})
    await peer.disconnect()
    assert peer.tasks() == set()


async def test_a_check_still_running_at_auth_timeout_closes_with_4401() -> None:
    peer = Peer(authenticated, [12, 0, "slow"], [0, 1, "add", None, None, [2, 2]])
    await peer.wait_for(lambda: bool(peer.sent) and peer.sent[-1]["type"] == "websocket.close")
    assert peer.sent[-1]["code"] == 4401
    assert peer.sent[-1]["reason"] == "no valid credentials within 0.2 s"
    assert all(frame[0] == 8 for frame in peer.frames)  # HELLO, and no response: the call waited
    await peer.disconnect()
    assert peer.tasks() == set()


async def test_a_connection_that_goes_away_leaves_no_task_behind() -> None:
    peer = Peer(app, [0, 1, "sleepy", None, None, None], [0, 2, "rows", None, None, 10_000_000])
    await peer.wait_for(lambda: any(frame[0] == 1 for frame in peer.frames))
    await peer.disconnect()  # both calls are still running
    assert peer.tasks() == set()


async def test_a_producer_waits_at_the_mark_until_the_client_reads_again() -> None:
    ended.clear()
    peer = Peer(app)
    connection = await over_the_mark(peer, (1, 1000))  # 1 MiB, without credit limits
    for _ in range(50):  # the producer waits: nothing more is queued
        await asyncio.sleep(0)
        assert connection.buffered_bytes <= SEND_HIGH_WATER + 2 * len(ROW)
    peer.reading.set()
    await peer.wait_for(lambda: [3, 1, None] in peer.frames)
    assert sum(1 for frame in peer.frames if frame[0] == 1) == 1000
    await peer.disconnect()
    assert ended == [connection.id]


async def test_closing_a_connection_whose_client_stopped_reading_gives_up_on_it() -> None:
    ended.clear()
    peer = Peer(app)
    connection = await over_the_mark(peer, (1, 10_000_000))
    with anyio.fail_after(5):
        await connection.close(1001, "bye")  # the close frame can't go: given up after CLOSE_LINGER
        await peer.task  # the connection ended without the client's disconnect, its call with it
    assert ended == [connection.id]
    assert not any(message["type"] == "websocket.close" for message in peer.sent)
    assert peer.tasks() == set()


@pytest.fixture(autouse=True)
def no_tasks_left() -> None:
    ended.clear()


async def test_a_drain_that_begins_while_connection_hooks_run_closes_with_1012() -> None:
    hooked = swill.Swill(__name__)
    entered, release = asyncio.Event(), asyncio.Event()

    @hooked.before_accept
    async def slow(connection: swill.Connection) -> None:
        entered.set()
        await release.wait()

    peer = Peer(hooked, [0, 1, "add", None, None, [1, 2]])
    with anyio.fail_after(5):
        await entered.wait()
        await hooked.drain(grace=0)  # nothing to wait for: the connection is not accepted yet
    release.set()
    with anyio.fail_after(5):
        await peer.task
    assert [message["type"] for message in peer.sent] == ["websocket.accept", "websocket.close"]
    assert peer.sent[-1]["code"] == 1012
    assert peer.tasks() == set()


async def test_a_stream_that_keeps_the_connection_at_its_mark_does_not_stop_the_client_being_heard() -> None:
    peer = Peer(app)
    await over_the_mark(peer, (1, 10_000_000))
    # The receive loop waits for the writer: from the PING on, whose PONG it queued over the mark,
    # or (Python 3.12+, where the call's task starts inside the loop's step) from the REQUEST on.
    peer.send_frame([9, 5])
    await settle(peer.inbox.empty)
    peer.reading.set()  # from now on the stream refills the queue as fast as the writer empties it
    await peer.wait_for(lambda: [10, 5] in peer.frames)
    await peer.disconnect()  # read all the same: the handler is cancelled, the connection ends
    assert peer.tasks() == set()


@pytest.mark.parametrize("rpc", ["add", "rows"])
async def test_a_socket_that_fails_as_frames_are_written_ends_the_connection_quietly(rpc: str) -> None:
    ended.clear()
    peer = Peer(app)
    await peer.wait_for(lambda: bool(peer.frames))
    peer.gone = True
    # `add`'s response is written by its call (write_now), `rows`' frames by the writer task.
    peer.send_frame([0, 1, rpc, None, None, [1, 2] if rpc == "add" else 10_000_000])
    [connection] = app.connections
    assert await settle(lambda: peer.refused > 0)
    for _ in range(200):  # what is queued once nothing can be written is dropped, not kept
        await asyncio.sleep(0)
        assert connection.buffered_bytes <= len(ROW) + 16
    await peer.disconnect()  # what the ASGI server sends next; nothing was raised to it
    assert ended == [connection.id]
    assert peer.tasks() == set()


async def test_streams_over_the_mark_take_turns() -> None:
    """Streams that wait for room get it in turn: one that never awaits can't keep it from the
    others (a firehose beside a small feed on the same connection)."""
    peer = Peer(app)
    await over_the_mark(peer, (1, 1000), (3, 1000))
    peer.reading.set()
    await peer.wait_for(lambda: [3, 1, None] in peer.frames and [3, 3, None] in peer.frames)
    ids = [frame[1] for frame in peer.frames if frame[0] == 1]
    runs = [len(list(rows)) for _, rows in itertools.groupby(ids)]
    # Turns of about a high-water mark's worth each, alternating (the first stream, which
    # filled the mark before the client read, gets two in a row).
    assert len(runs) > 20
    assert max(runs) <= 2 * SEND_HIGH_WATER // len(ROW)
    await peer.disconnect()


async def test_a_flood_of_frames_is_read_a_few_at_a_time_between_other_work() -> None:
    """An ASGI server hands over what one socket read held: thousands of small frames at once. The
    connection reads them a few dozen at a time, and the loop's other work runs in between."""
    peer = Peer(app)
    await peer.wait_for(lambda: bool(peer.frames))
    for _ in range(2000):
        peer.send_frame([7, 999, 1])  # CREDIT for a call that isn't open: read and ignored
    left: list[int] = []
    with anyio.fail_after(5):
        while peer.inbox.qsize():
            left.append(peer.inbox.qsize())  # what this other task sees each time it runs
            await asyncio.sleep(0)
    gaps = [before - after for before, after in itertools.pairwise([*left, 0])]
    assert len(gaps) > 20
    assert max(gaps) <= 2 * YIELD_EVERY
    await peer.disconnect()
