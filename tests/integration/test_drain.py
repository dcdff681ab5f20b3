"""GOAWAY and the graceful drain (PROTOCOL.md section 1a)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import anyio
import websockets

from tests.conftest import LiveServer, decode, encode

from .app import app


async def test_drain_sends_goaway_lets_calls_finish_then_ends_the_rest(live_server: Callable[..., LiveServer]) -> None:
    server = live_server(app)
    async with websockets.connect(server.url) as ws:
        assert decode(await ws.recv())[0] == 8
        await ws.send(encode([0, 1, "wait", None, None, 0.1]))  # finishes within the grace
        await ws.send(encode([0, 2, "wait", None, None, 3600]))  # does not
        await ws.send(encode([0, 3, "add", None, None, [1, 1]]))
        assert decode(await ws.recv()) == [6, 3, 2, None, None]

        loop = server.server_loop
        drained = asyncio.run_coroutine_threadsafe(app.drain(grace=0.5), loop)
        frames = []
        with anyio.fail_after(5):
            assert decode(await ws.recv())[0] == 11  # GOAWAY on id 0
            await ws.send(encode([0, 4, "add", None, None, [1, 1]]))
            try:
                while True:
                    frames.append(decode(await ws.recv()))
            except websockets.ConnectionClosed as closed:
                assert closed.rcvd is not None and closed.rcvd.code == 1001
        drained.result(5)
    by_id = {frame[1]: frame for frame in frames}
    assert by_id[4][:3] == [5, 4, "UNAVAILABLE"]
    assert by_id[1] == [6, 1, "done", None, None]
    assert by_id[2][:3] == [5, 2, "UNAVAILABLE"]
