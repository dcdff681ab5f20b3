"""Replays tests/fixtures/client_scripts.json against the Python client (format: the README there).

The client runs over a scripted transport: no sockets, no real waits (backoff is 0). After each
step the event loop runs until the client has nothing left to do.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
import pytest

import swill
from swill.client import AsyncTransport, TransportClosed, TransportConnection, TransportError

SCRIPTS = json.loads((Path(__file__).parents[1] / "fixtures" / "client_scripts.json").read_text())["scripts"]
IGNORED_SENT = {7, 9}  # CREDIT and PING: flow control and keepalive are not what scripts check
SETTLE_ROUNDS = 200


class ScriptedConnection(TransportConnection):
    def __init__(self) -> None:
        self.sent: list[list[Any]] = []
        self.checked = 0
        self.inbox: list[bytes | TransportClosed] = []
        self.waiter: asyncio.Future[None] | None = None
        self.closed: TransportClosed | None = None

    def push(self, item: bytes | TransportClosed) -> None:
        self.inbox.append(item)
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    async def send(self, message: bytes) -> None:
        if self.closed is not None:
            raise self.closed
        self.sent.append(msgspec.msgpack.decode(message))

    async def receive(self) -> bytes | str:
        [message] = await self.receive_batch()
        return message

    async def receive_batch(self) -> list[bytes | str]:
        while not self.inbox:
            self.waiter = asyncio.get_running_loop().create_future()
            await self.waiter
        item = self.inbox.pop(0)
        if isinstance(item, TransportClosed):
            self.closed = item
            raise item
        return [item]

    async def close(self, code: int = 1000, reason: str = "") -> None:
        if self.closed is None:
            self.closed = TransportClosed(code, reason)
            self.push(self.closed)


class ScriptedTransport(AsyncTransport):
    def __init__(self) -> None:
        self.attempts: list[asyncio.Future[ScriptedConnection]] = []
        self.connections: list[ScriptedConnection] = []

    async def connect(
        self, url: str, *, subprotocols: Sequence[str], headers: Mapping[str, str], max_size: int | None
    ) -> TransportConnection:
        assert "token" not in url
        attempt: asyncio.Future[ScriptedConnection] = asyncio.get_running_loop().create_future()
        self.attempts.append(attempt)
        return await attempt


@dataclass
class Outcome:
    """What the application saw of one call or subscription."""

    values: list[Any] = field(default_factory=list)
    result: Any = None
    has_result: bool = False
    error: swill.Error | None = None
    ended: bool = False
    call: swill.Call[Any] | None = None

    @property
    def pending(self) -> bool:
        return not (self.has_result or self.error or self.ended)


class Replayer:
    def __init__(self, script: dict[str, Any]) -> None:
        self.script = script
        self.transport = ScriptedTransport()
        self.auth_calls = 0
        options = script.get("client", {})
        credentials: list[Any] | None = options.get("auth")
        self.client = swill.Client(
            "ws://scripted.test/ws",
            transport=self.transport,
            auth=None if credentials is None else self._auth(credentials),
            backoff=lambda attempt: 0.0,
            max_receive_size=options.get("max_receive_size", 16 << 20),
        )
        self.outcomes: dict[str, Outcome] = {}
        self.tasks: list[asyncio.Task[None]] = []

    def _auth(self, credentials: list[Any]) -> Any:
        def auth() -> Any:
            value = credentials[min(self.auth_calls, len(credentials) - 1)]
            self.auth_calls += 1
            if isinstance(value, dict) and "$raise" in value:
                raise RuntimeError(value["$raise"])
            return value

        return auth

    async def run(self) -> None:
        try:
            for index, step in enumerate(self.script["steps"]):
                self.step = f"step {index}: {json.dumps(step)}"
                await self.apply(step)
                await settle()
        finally:
            for task in self.tasks:
                task.cancel()
            await asyncio.gather(*self.tasks, return_exceptions=True)
            await self.client.aclose()

    def conn(self, step: dict[str, Any]) -> ScriptedConnection:
        index = step.get("connection")
        return self.transport.connections[-1 if index is None else index - 1]

    async def apply(self, step: dict[str, Any]) -> None:
        for key, handler in self.handlers.items():
            if key in step:
                handler(self, step)
                return
        raise AssertionError(f"unknown step {step}")

    # Application actions: started, not awaited.

    def start(self, name: str, coro: Any) -> None:
        self.tasks.append(asyncio.get_running_loop().create_task(coro))

    def do_call(self, step: dict[str, Any]) -> None:
        outcome = self.outcomes[step["call"]] = Outcome()

        async def run() -> None:
            await record(outcome, self.client.call(step["rpc"], step.get("data")))

        self.start(step["call"], run())

    def do_open(self, step: dict[str, Any]) -> None:
        outcome = self.outcomes[step["open"]] = Outcome()
        args = (step["rpc"], step["data"]) if "data" in step else (step["rpc"],)

        async def run() -> None:
            try:
                outcome.call = await self.client.open(*args)
            except swill.Error as error:
                outcome.error = error

        self.start(step["open"], run())

    def do_stream(self, step: dict[str, Any]) -> None:
        outcome = self.outcomes[step["stream"]] = Outcome()
        self.start(step["stream"], iterate(outcome, self.client.stream(step["rpc"], step.get("data"))))

    def do_subscribe(self, step: dict[str, Any]) -> None:
        outcome = self.outcomes[step["subscribe"]] = Outcome()

        async def events() -> Any:
            async for event in self.client.subscribe(step["rpc"], after=step["after"]):
                assert isinstance(event, swill.SubscriptionEvent)
                yield {"id": event.id, "value": event.value, "missed": event.missed, "restarted": event.restarted}

        self.start(step["subscribe"], iterate(outcome, events()))

    def opened(self, name: str) -> swill.Call[Any]:
        call = self.outcomes[name].call
        assert call is not None, f"{name} is not open"
        return call

    def do_send(self, step: dict[str, Any]) -> None:
        self.start(step["send"], self.opened(step["send"]).send(step["data"]))

    def do_end(self, step: dict[str, Any]) -> None:
        self.start(step["end"], self.opened(step["end"]).end())

    def do_result(self, step: dict[str, Any]) -> None:
        outcome = self.outcomes[step["result"]]
        self.start(step["result"], record(outcome, self.opened(step["result"]).result()))

    def do_iterate(self, step: dict[str, Any]) -> None:
        outcome = self.outcomes[step["iterate"]]
        self.start(step["iterate"], iterate(outcome, self.opened(step["iterate"])))

    def do_cancel(self, step: dict[str, Any]) -> None:
        self.opened(step["cancel"]).cancel()

    def do_reauthenticate(self, step: dict[str, Any]) -> None:
        self.start("reauthenticate", self.client.reauthenticate())

    # Socket events and frames in.

    def do_socket(self, step: dict[str, Any]) -> None:
        event = step["socket"]
        if event == "close":
            self.conn(step).push(TransportClosed(step["code"], step.get("reason", "")))
            return
        pending = [attempt for attempt in self.transport.attempts if not attempt.done()]
        assert pending, f"{self.step}: no connection attempt is waiting"
        if event == "open":
            conn = ScriptedConnection()
            self.transport.connections.append(conn)
            pending[0].set_result(conn)
        else:
            assert event == "refuse"
            pending[0].set_exception(TransportError(step.get("reason", "refused")))

    def do_receive(self, step: dict[str, Any]) -> None:
        self.conn(step).push(msgspec.msgpack.encode(step["receive"]))

    # Expectations.

    def expect_connections(self, step: dict[str, Any]) -> None:
        assert len(self.transport.attempts) == step["expect_connections"], self.step

    def expect_auth_calls(self, step: dict[str, Any]) -> None:
        assert self.auth_calls == step["expect_auth_calls"], self.step

    def expect_sent(self, step: dict[str, Any]) -> None:
        conn = self.conn(step)
        sent = [frame for frame in conn.sent[conn.checked :] if frame[0] not in IGNORED_SENT]
        conn.checked = len(conn.sent)
        expected = step["expect_sent"]
        assert len(sent) == len(expected) and all(map(frame_matches, expected, sent)), (
            f"{self.step}: sent {sent}"
        )

    def expect(self, step: dict[str, Any]) -> None:
        outcome = self.outcomes[step["expect"]]
        where = f"{self.step}: {outcome}"
        if "result" in step:
            assert outcome.has_result and outcome.result == step["result"], where
        if "values" in step:
            assert outcome.values == step["values"], where
        if "events" in step:
            assert outcome.values == step["events"], where
        if "error" in step:
            assert outcome.error is not None, where
            assert outcome.error.code == step["error"]["code"], where
            assert step["error"].get("message_includes", "") in outcome.error.message, where
            assert step["error"].get("message", outcome.error.message) == outcome.error.message, where
        if "ended" in step:
            assert outcome.ended == step["ended"], where
        if "pending" in step:
            assert outcome.pending == step["pending"], where

    # A step is told by its first key in this order (an "expect" step also has "result", ...).
    handlers: Mapping[str, Any] = {
        "expect": expect,
        "expect_sent": expect_sent,
        "expect_connections": expect_connections,
        "expect_auth_calls": expect_auth_calls,
        "call": do_call,
        "open": do_open,
        "stream": do_stream,
        "subscribe": do_subscribe,
        "send": do_send,
        "end": do_end,
        "result": do_result,
        "iterate": do_iterate,
        "cancel": do_cancel,
        "reauthenticate": do_reauthenticate,
        "socket": do_socket,
        "receive": do_receive,
    }


async def record(outcome: Outcome, awaitable: Any) -> None:
    try:
        outcome.result = await awaitable
        outcome.has_result = True
    except swill.Error as error:
        outcome.error = error


async def iterate(outcome: Outcome, iterable: Any) -> None:
    try:
        async for value in iterable:
            outcome.values.append(value)
        outcome.ended = True
    except swill.Error as error:
        outcome.error = error


async def settle() -> None:
    """Let every task run until none has anything left to do (bounded)."""
    for _ in range(SETTLE_ROUNDS):
        await asyncio.sleep(0)


def frame_matches(expected: Any, actual: list[Any]) -> bool:
    """`expected` (from a script) matches a sent frame, after the README's normalisation."""
    return _matches(expected, normalized(actual))


def normalized(frame: list[Any]) -> list[Any]:
    frame = list(frame)
    if frame and frame[0] == 0:
        while len(frame) < 5:
            frame.append(None)  # REQUEST: absent metadata and options are nil; data stays as sent
        return frame
    while frame and frame[-1] is None:
        frame.pop()
    return frame


def _matches(expected: Any, actual: Any) -> bool:
    if expected == {"$any": True}:
        return True
    if isinstance(expected, list):
        if not isinstance(actual, list):
            return False
        for index, item in enumerate(expected):
            if index >= len(actual):
                if item != {"$any": True}:
                    return False
            elif not _matches(item, actual[index]):
                return False
        return len(actual) <= len(expected)
    if isinstance(expected, dict):
        return (
            isinstance(actual, dict)
            and expected.keys() == actual.keys()
            and all(_matches(v, actual[k]) for k, v in expected.items())
        )
    return bool(expected == actual) and type(expected) is type(actual)


@pytest.mark.parametrize("script", SCRIPTS, ids=[s["name"] for s in SCRIPTS])
async def test_script(script: dict[str, Any]) -> None:
    await Replayer(script).run()


def test_matching_rules() -> None:
    any_ = {"$any": True}
    assert frame_matches([4, 1, any_], [4, 1])
    assert frame_matches([4, 1, any_], [4, 1, "why"])
    assert frame_matches([0, 1, "f", None, any_], [0, 1, "f"])
    assert not frame_matches([0, 1, "f", None, any_], [0, 1, "f", None, None, None])
    assert frame_matches([0, 1, "f", None, any_, None], [0, 1, "f", None, {"window": 8}, None])
    assert frame_matches([3, 1], [3, 1, None])
    assert not frame_matches([1, 1, 1], [1, 1, True])
    assert not frame_matches([1, 1, {"a": 1}], [1, 1, {"a": 1, "b": 2}])
