"""Expiring credentials end to end: swill.Client(auth=...) against a live server that checks them.

Tokens carry the epoch they expire after; the test moves the server's clock by epochs, so that
nothing depends on wall time. The server refuses expired tokens in AUTH, and calls made on a
connection whose credentials expired.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import pytest

import swill
from tests.conftest import LiveServer

app = swill.Swill(__name__)
clock = {"epoch": 0}
revoked: set[str] = set()
opened: list[str] = []
ticks = app.topic("ticks", int, policy="fifo", queue_size=256, history=256)
app.expose(ticks)


@app.before_accept
def count(connection: swill.Connection) -> None:
    opened.append(connection.id)


@app.authenticate
def check(connection: swill.Connection, credentials: Any) -> None:
    if credentials["token"] in revoked:
        raise swill.Error(swill.Code.UNAUTHENTICATED, "token revoked")
    if credentials["exp"] < clock["epoch"]:
        raise swill.Error(swill.Code.UNAUTHENTICATED, "token expired")
    connection.state.exp = credentials["exp"]


@app.before_request
def fresh(request: swill.Request[Any]) -> None:
    if request.connection.state.exp < clock["epoch"]:
        raise swill.Error(swill.Code.UNAUTHENTICATED, "token expired")


@app.handle()
async def echo(request: swill.Request[int]) -> int:
    return request.data


@app.handle()
async def exp(request: swill.Request[None]) -> int:
    """The expiry of the credentials the connection holds now."""
    expiry: int = request.connection.state.exp
    return expiry


@app.handle()
async def publish(request: swill.Request[int]) -> int:
    return await ticks.publish(request.data)


@app.handle()
async def kick(request: swill.Request[str]) -> None:
    """Close this connection with 4401, as a server does when it finds credentials expired."""
    await request.connection.close(4401, request.data)


@pytest.fixture(scope="module")
def server() -> Iterator[LiveServer]:
    live = LiveServer(app)
    live.start()
    yield live
    live.stop()


@pytest.fixture(autouse=True)
def reset() -> None:
    clock["epoch"] = 0
    revoked.clear()
    opened.clear()


class Tokens:
    """What an application's `auth` does: mint a token valid for this epoch and the next."""

    def __init__(self) -> None:
        self.calls = 0
        self.refresh_gone = False
        self.serial = itertools.count(1)

    def __call__(self) -> dict[str, Any]:
        self.calls += 1
        if self.refresh_gone:
            raise RuntimeError("the refresh token expired: sign in again")
        return {"token": f"t{next(self.serial)}", "exp": clock["epoch"] + 1}


class Events:
    """A subscription iterated by a task of its own."""

    def __init__(self) -> None:
        self.values: list[tuple[int, int, int, bool]] = []
        self.error: swill.Error | None = None
        self.changed = anyio.Event()

    async def run(self, client: swill.Client, after: int) -> None:
        try:
            async for event in client.subscribe("ticks", after=after):
                self.values.append((event.id, event.value, event.missed, event.restarted))
                self.changed.set()
        except swill.Error as error:
            self.error = error
            self.changed.set()

    async def wait(self, done: Callable[[], bool]) -> None:
        with anyio.fail_after(10):
            while not done():
                self.changed = anyio.Event()
                await self.changed.wait()


@asynccontextmanager
async def subscribed(client: swill.Client) -> AsyncIterator[Events]:
    events = Events()
    after = await client.call("publish", -1)  # the topic outlives tests: start after its last id
    async with anyio.create_task_group() as tg:
        tg.start_soon(events.run, client, after)
        yield events
        tg.cancel_scope.cancel()


async def published(client: swill.Client, events: Events, values: range) -> list[int]:
    ids = [await client.call("publish", v, timeout=5) for v in values]
    await events.wait(lambda: len(events.values) >= len(ids) and events.values[-1][0] >= ids[-1])
    return ids


async def test_a_token_that_expires_while_calls_and_a_subscription_run(server: LiveServer) -> None:
    tokens = Tokens()
    failures: list[swill.Error] = []
    answered: list[int] = []

    async def calls(client: swill.Client) -> None:
        for i in range(10_000):
            try:
                answered.append(await client.call("echo", i, timeout=5))
            except swill.Error as error:
                failures.append(error)

    async with swill.Client(server.url, auth=tokens) as client, subscribed(client) as events:
        async with anyio.create_task_group() as tg:
            tg.start_soon(calls, client)
            ids: list[int] = []
            for epoch in range(1, 4):
                ids += await published(client, events, range(epoch * 10, epoch * 10 + 3))
                await client.reauthenticate()  # before the token expires: new credentials
                with anyio.fail_after(10):
                    while await client.call("exp", None, timeout=5) != epoch:
                        pass  # until the server has checked them (calls go on meanwhile)
                clock["epoch"] = epoch  # the old token expires now
            ids += await published(client, events, range(100, 103))
            tg.cancel_scope.cancel()
    assert failures == []
    assert len(answered) > 0 and answered == list(range(len(answered)))
    expected = [*range(10, 13), *range(20, 23), *range(30, 33), 100, 101, 102]
    assert [value for _, value, _, _ in events.values] == expected
    assert [i for i, _, _, _ in events.values] == ids
    assert all(missed == 0 and not restarted for _, _, missed, restarted in events.values)
    assert len(opened) == 1 and tokens.calls == 4  # one connection: nothing was dropped


async def test_a_4401_with_a_refresh_that_works(server: LiveServer) -> None:
    tokens = Tokens()
    async with swill.Client(server.url, auth=tokens) as client, subscribed(client) as events:
        before = await published(client, events, range(1, 4))
        with pytest.raises(swill.Error) as kicked:
            await client.call("kick", "token expired")
        assert kicked.value.code is swill.Code.UNAUTHENTICATED
        assert "token expired" in kicked.value.message
        after = await published(client, events, range(4, 7))  # the subscription resumed
        assert await client.call("echo", 7) == 7
    assert [(i, v) for i, v, _, _ in events.values] == list(zip(before + after, range(1, 7), strict=True))
    assert events.error is None
    assert tokens.calls == 2 and len(opened) == 2


@pytest.mark.parametrize("how", ["refused", "raises"])
async def test_a_4401_with_a_refresh_that_does_not_work(server: LiveServer, how: str) -> None:
    tokens = Tokens()
    async with swill.Client(server.url, auth=tokens) as client, subscribed(client) as events:
        await published(client, events, range(1, 3))
        if how == "refused":
            revoked.update(f"t{n}" for n in range(1, 10))  # the refreshed token is refused too
        else:
            tokens.refresh_gone = True  # auth itself fails
        with pytest.raises(swill.Error):
            await client.call("kick", "token expired")
        await events.wait(lambda: events.error is not None)
        with pytest.raises(swill.Error) as later:
            await client.call("echo", 1)
        auth_calls = tokens.calls
        revoked.clear()  # the user signed in again
        tokens.refresh_gone = False
        await client.connect()  # clears the refusal
        assert await client.call("echo", 2) == 2
    assert tokens.calls == auth_calls + 1
    expected = "token revoked" if how == "refused" else "the refresh token expired: sign in again"
    for error in (events.error, later.value):
        assert error is not None
        assert error.code is swill.Code.UNAUTHENTICATED
        assert expected in error.message
    assert [v for _, v, _, _ in events.values] == [1, 2]
    # Refused twice, the client stops: no more auth. An auth that raises fails each attempt
    # (the retry, the subscription's try, the later call): the user may sign in again meanwhile.
    assert auth_calls == (2 if how == "refused" else 4)


async def test_credentials_never_reach_the_logs(server: LiveServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)  # everything, websockets' frame traces included
    secret = "s3cr3t"  # short: frame traces show only the first bytes of a frame

    def auth() -> dict[str, Any]:
        return {"token": secret, "exp": clock["epoch"] + 1}

    async with swill.Client(server.url, auth=auth) as client:
        assert await client.call("echo", 1) == 1
        await client.reauthenticate()
        with pytest.raises(swill.Error):
            await client.call("kick", "token expired")
        assert await client.call("echo", 2) == 2
    assert len(opened) == 2 and caplog.records
    text = caplog.text
    assert secret not in text
    assert secret.encode().hex() not in text.replace(" ", "")
