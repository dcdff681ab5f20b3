"""Every way a call is stopped (CLOSE, a lost connection, the deadline, an abort), through the one
mechanism there is: cancelling the call's own task."""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio
import anyio.lowlevel
import pytest

import swill
from swill.testing import TestClient


def make_app(stopped: anyio.Event) -> swill.Swill:
    app = swill.Swill(__name__)

    @app.handle()
    async def add(request: swill.Request[tuple[int, int]]) -> int:
        return request.data[0] + request.data[1]

    @app.handle()
    async def sleepy(request: swill.Request[None]) -> None:
        try:
            await anyio.sleep_forever()
        finally:
            stopped.set()

    @app.handle()
    async def forever(request: swill.Request[None]) -> AsyncIterator[int]:
        try:
            while True:
                yield 1
                await anyio.lowlevel.checkpoint()
        finally:
            stopped.set()

    return app


async def test_calls_complete_and_deadlines_pass() -> None:
    stopped = anyio.Event()
    async with TestClient(make_app(stopped)) as client:
        assert await client.call("add", (1, 2)) == 3
        with pytest.raises(swill.Error) as info:
            await client.call("sleepy", None, timeout=0.05)
        assert info.value.code is swill.Code.DEADLINE_EXCEEDED
        with anyio.fail_after(5):
            await stopped.wait()


async def test_leaving_a_stream_cancels_its_handler() -> None:
    stopped = anyio.Event()
    async with TestClient(make_app(stopped)) as client:
        async with client.stream("forever", None) as call:
            async for _ in call:
                break
        with anyio.fail_after(5):
            await stopped.wait()
