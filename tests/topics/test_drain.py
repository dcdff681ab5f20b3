"""A drain ends topic streams at once instead of waiting out the grace period."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import anyio
import websockets

import swill
from tests.conftest import LiveServer, decode, encode


async def test_drain_ends_subscriptions_without_waiting_for_the_grace(live_server: Callable[..., LiveServer]) -> None:
    app = swill.Swill(__name__, drain_grace=60)
    temperature = app.topic("temperature", float)
    app.expose(temperature)
    server = live_server(app)
    async with websockets.connect(server.url) as ws:
        assert decode(await ws.recv())[0] == 8
        await ws.send(encode([0, 1, "temperature", None, {"window": 8}, None]))
        with anyio.fail_after(5):
            assert decode(await ws.recv()) == [2, 1, {"topic": "temperature"}]  # subscribed
        drained = asyncio.run_coroutine_threadsafe(app.drain(), server.server_loop)
        frames = []
        with anyio.fail_after(5):  # far less than the 60 s grace
            try:
                while True:
                    frames.append(decode(await ws.recv()))
            except websockets.ConnectionClosed as closed:
                assert closed.rcvd is not None and closed.rcvd.code == 1001
        await anyio.to_thread.run_sync(drained.result, 5)
    assert frames[0][0] == 11  # GOAWAY first
    assert frames[-1][:3] == [5, 1, "UNAVAILABLE"]
