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


async def test_a_stream_that_never_awaits_yields_to_the_loop_every_YIELD_EVERY_messages() -> None:
    """Other tasks run at least once per `YIELD_EVERY` messages a never-awaiting handler sends."""
    import asyncio

    from swill._responder import YIELD_EVERY

    app = swill.Swill(__name__)
    produced = [0]

    @app.handle()
    async def rows(request: swill.Request[int]) -> AsyncIterator[int]:
        for i in range(request.data):  # never awaits
            produced[0] += 1
            yield i

    gaps: list[int] = []
    done = False

    async def watch() -> None:
        seen = produced[0]
        for _ in range(1_000_000):  # bounded
            if done:
                return
            await asyncio.sleep(0)
            gaps.append(produced[0] - seen)
            seen = produced[0]

    async with TestClient(app) as client:
        watcher = asyncio.ensure_future(watch())
        with anyio.fail_after(10):
            async with client.stream("rows", 2000, window=None) as call:
                received = [value async for value in call]
        done = True
        await watcher
    assert received == list(range(2000))
    assert max(gaps) <= YIELD_EVERY


async def test_a_deadline_that_passes_while_the_handler_holds_the_loop_is_deadline_exceeded() -> None:
    """The timer can't run while a handler never yields: the check before a frame goes finds it."""
    import time

    app = swill.Swill(__name__)

    def past_deadline(request: swill.Request[None]) -> None:
        assert request.deadline is not None
        while time.monotonic() < request.deadline:  # holds the loop until the deadline has passed
            pass

    @app.handle()
    async def busy(request: swill.Request[None]) -> int:
        past_deadline(request)
        return 1

    @app.handle()
    async def busy_rows(request: swill.Request[None]) -> AsyncIterator[int]:
        past_deadline(request)
        yield 1

    async with TestClient(app) as client:
        for rpc in ("busy", "busy_rows"):
            with pytest.raises(swill.Error) as info:
                if rpc == "busy":
                    await client.call(rpc, None, timeout=0.01)
                else:
                    async with client.stream(rpc, None, timeout=0.01) as call:
                        [value async for value in call]
            assert info.value.code is swill.Code.DEADLINE_EXCEEDED, (rpc, info.value)
