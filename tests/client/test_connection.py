"""Connections against real servers: loss, GOAWAY and drain, refusals, a server killed mid-stream."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import anyio
import pytest

import swill
from swill.client import Client
from tests.conftest import LiveServer

from .app import make_app, secure_app
from .conftest import ServerProcess


async def test_server_closing_the_connection_fails_open_calls_and_the_client_reconnects(url: str) -> None:
    async with Client(url, reconnect_delay=0.01) as client:
        first = await client.call("connection_id")
        with pytest.raises(swill.Error) as info:
            async for i in client.stream("forever", "closing"):
                if i == 0:
                    with pytest.raises(swill.Error):  # it closes its own connection too
                        await client.call("close_connection", 1011)
        assert info.value.code is swill.Code.UNAVAILABLE
        assert info.value.data == {"close_code": 1011}
        second = await client.call("connection_id")
        assert second != first


async def test_drain_lets_open_calls_finish_and_new_calls_fail_at_once(
    live_server: Callable[..., LiveServer],
) -> None:
    app = make_app()
    server = live_server(app)
    async with Client(server.url) as client:
        before = await client.call("connection_id")
        call = await client.open("sleep", 0.5)
        await client.ping()  # the server has the call before it drains
        drained = asyncio.run_coroutine_threadsafe(app.drain(grace=10), server.server_loop)
        assert await call.result() == "slept"
        with anyio.fail_after(5):
            await anyio.to_thread.run_sync(drained.result, 5)  # quick: the old connection went idle
        # A drained app closes new connections with 1012 (until its lifespan starts again): the
        # call fails on its one attempt, without a reconnect loop.
        with anyio.fail_after(5), pytest.raises(swill.Error) as info:
            await client.call("connection_id")
        assert (info.value.code, info.value.data) == (swill.Code.UNAVAILABLE, {"close_code": 1012})
        assert before


async def test_uvicorn_shutting_down_fails_open_calls_with_unavailable(
    live_server: Callable[..., LiveServer],
) -> None:
    server = live_server(make_app())
    async with Client(server.url) as client:
        with pytest.raises(swill.Error) as info:
            async for i in client.stream("forever", "shutdown"):
                if i == 0:
                    await anyio.to_thread.run_sync(server.stop)
        assert info.value.code is swill.Code.UNAVAILABLE


async def test_a_refused_connection_is_not_retried(live_server: Callable[..., LiveServer]) -> None:
    server = live_server(secure_app())
    async with Client(server.url) as client:
        for _ in range(3):
            with pytest.raises(swill.Error) as info:
                await client.call("add", (1, 2))
            assert info.value.code is swill.Code.UNAUTHENTICATED
            assert info.value.message.endswith("bad token")
    async with Client(server.url, headers={"Authorization": "Bearer good"}) as client:
        assert await client.call("add", (1, 2)) == 3
        assert await client.call("attempts_seen") == 2  # one refused, this one


async def test_handshake_refused_by_origin(url: str) -> None:
    async with Client(url, headers={"Origin": "http://evil.example"}) as client:
        with pytest.raises(swill.Error) as info:
            await client.call("add", (1, 2))
        # PROTOCOL.md section 6: accepted, then closed with 4403 and a reason the error carries.
        assert info.value.code is swill.Code.PERMISSION_DENIED
        assert "origin http://evil.example is not allowed: add it to Swill(allowed_origins=[...])" in info.value.message


async def test_server_killed_mid_stream(server_process: Callable[..., ServerProcess]) -> None:
    process = server_process()
    async with Client(process.url, reconnect_delay=0.01) as client:
        received: list[int] = []
        with pytest.raises(swill.Error) as info:
            async for i in client.stream("forever", "killed"):
                received.append(i)
                if i == 10:
                    await anyio.to_thread.run_sync(process.kill)
        assert received[:11] == list(range(11))
        assert info.value.code is swill.Code.UNAVAILABLE
        assert info.value.message == "the connection was lost"
        with pytest.raises(swill.Error) as info:
            await client.call("add", (1, 2))
        assert info.value.code is swill.Code.UNAVAILABLE
        assert info.value.message.startswith("can't connect")


async def test_a_response_larger_than_max_receive_size_fails_only_its_call(url: str) -> None:
    async with Client(url, max_receive_size=1000, reconnect_delay=0.01) as client:
        before = await client.call("connection_id")
        with pytest.raises(swill.Error) as info:
            await client.call("blob", 1500)
        assert info.value.code is swill.Code.RESOURCE_EXHAUSTED
        assert "exceeds the client's limit (1000)" in info.value.message
        assert await client.call("blob", 10) == b"x" * 10
        assert await client.call("connection_id") == before  # the same connection went on


async def test_a_response_over_the_transport_cap_closes_the_connection(url: str) -> None:
    async with Client(url, max_receive_size=1000, reconnect_delay=0.01) as client:
        before = await client.call("connection_id")
        with pytest.raises(swill.Error) as info:
            await client.call("blob", 2 * 1000 + 100)  # over transport_max_size(1000): not buffered
        assert info.value.code is swill.Code.UNAVAILABLE
        assert info.value.data == {"close_code": 1009}
        assert await client.call("connection_id") != before  # a new connection
