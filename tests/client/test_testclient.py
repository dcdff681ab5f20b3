"""`swill.testing.TestClient`: the same client, in-process, with the app's lifespan."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, MutableMapping
from contextlib import asynccontextmanager
from typing import Any

import anyio
import anyio.lowlevel
import pytest

import swill
from swill.testing import TestClient

from .app import make_app, secure_app


async def test_every_kind_of_call() -> None:
    async with TestClient(make_app()) as client:
        assert await client.call("add", (1, 2)) == 3
        assert [i async for i in client.stream("count", 3)] == [0, 1, 2]
        call = await client.open("total")
        await call.send(1)
        await call.send(2)
        await call.end()
        assert await call.result() == 3
        with pytest.raises(swill.Error) as info:
            await client.call("fail", {"code": "NOT_FOUND", "message": "gone"})
        assert info.value.code is swill.Code.NOT_FOUND


async def test_lifespan_runs_around_the_block() -> None:
    events: list[str] = []

    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[dict[str, Any]]:
        events.append("startup")
        yield {"greeting": "hi"}
        events.append("shutdown")

    app = swill.Swill(lifespan=lifespan)

    @app.handle()
    async def greet(request: swill.Request[str]) -> str:
        events.append("call")
        return f"{request.connection.scope['state']['greeting']} {request.data}"

    async with TestClient(app) as client:
        assert events == ["startup"]
        assert await client.call("greet", "you") == "hi you"
    assert events == ["startup", "call", "shutdown"]


async def test_window_bounds_what_the_server_produces_ahead() -> None:
    t = uuid.uuid4().hex
    async with TestClient(make_app(), window=4) as client:
        call = client.stream("forever", t)
        iterator = aiter(call)
        assert await anext(iterator) == 0
        await anyio.wait_all_tasks_blocked()
        # 4 sent (the window), the fifth taken from the handler and held until credit comes.
        assert await client.call("produced", t) == 5
        assert await anext(iterator) == 1  # two taken: credit for two goes back
        await anyio.wait_all_tasks_blocked()
        assert await client.call("produced", t) == 7
        call.cancel()


async def test_headers_reach_connection_hooks() -> None:
    app = secure_app()
    async with TestClient(app) as client:
        with pytest.raises(swill.Error) as info:
            await client.call("add", (1, 1))
        assert info.value.code is swill.Code.UNAUTHENTICATED
    async with TestClient(app, headers={"Authorization": "Bearer good"}) as client:
        assert await client.call("add", (1, 1)) == 2


async def test_drain_in_process() -> None:
    app = make_app()
    async with TestClient(app) as client:
        before = await client.call("connection_id")
        call = await client.open("sleep", 0.2)
        await client.ping()  # the server has the call before it drains
        async with anyio.create_task_group() as tg:
            tg.start_soon(app.drain, 5)
            assert await call.result() == "slept"
        with anyio.fail_after(5), pytest.raises(swill.Error) as info:  # drained: new connections close
            await client.call("connection_id")
        assert (info.value.code, info.value.data) == (swill.Code.UNAVAILABLE, {"close_code": 1012})
        assert before


async def test_server_closing_the_connection() -> None:
    async with TestClient(make_app(), reconnect_delay=0.01) as client:
        with pytest.raises(swill.Error) as info:
            await client.call("close_connection", 4403)
        assert info.value.code is swill.Code.PERMISSION_DENIED


async def test_exception_escaping_the_app_is_raised_on_exit() -> None:
    async def broken(scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        async with TestClient(broken, lifespan=False) as client:
            with pytest.raises(swill.Error) as info:
                await client.call("add", (1, 1))
            assert info.value.code is swill.Code.UNAVAILABLE
    async with TestClient(broken, lifespan=False, raise_server_exceptions=False) as client:
        with pytest.raises(swill.Error):
            await client.call("add", (1, 1))


async def test_refused_handshake() -> None:
    async with TestClient(make_app(), headers={"Origin": "http://evil.example"}) as client:
        with pytest.raises(swill.Error) as info:
            await client.call("add", (1, 1))
        assert info.value.code is swill.Code.PERMISSION_DENIED
        assert "origin http://evil.example is not allowed" in info.value.message


async def test_failed_startup_is_raised() -> None:
    app = swill.Swill()

    @app.on_startup
    def explode() -> None:
        raise ValueError("no database")

    with pytest.raises(RuntimeError, match="no database"):
        async with TestClient(app):
            pass


async def test_many_concurrent_calls_in_process() -> None:
    async with TestClient(make_app()) as client:
        results: dict[int, int] = {}

        async def one(i: int) -> None:
            results[i] = await client.call("add", (i, 1))

        async with anyio.create_task_group() as tg:
            for i in range(300):  # more REQUESTs than the in-process queue holds: senders wait for room
                tg.start_soon(one, i)
        assert results == {i: i + 1 for i in range(300)}


async def test_a_call_while_the_app_drains_fails_at_once() -> None:
    app = make_app()
    async with TestClient(app) as client:
        call = await client.open("sleep", 0.5)
        await client.ping()  # the server has the call before it drains
        async with anyio.create_task_group() as tg:
            tg.start_soon(app.drain, 5)
            for _ in range(1000):  # until the client has the GOAWAY
                if client.server_settings is None:
                    break
                await anyio.lowlevel.checkpoint()
            # The new connection is closed with 1012 before its HELLO: that was the call's one
            # attempt, not the first of a reconnect loop.
            with anyio.fail_after(5), pytest.raises(swill.Error) as info:
                await client.call("connection_id")
            assert (info.value.code, info.value.data) == (swill.Code.UNAVAILABLE, {"close_code": 1012})
            assert await call.result() == "slept"
