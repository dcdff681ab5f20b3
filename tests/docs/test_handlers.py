"""examples/handlers.py, as docs/handlers.md describes it."""

from __future__ import annotations

import hashlib
import itertools
import time
from collections.abc import Callable

import anyio
import pytest

import swill
from examples import handlers
from swill.client import Client

from .conftest import LogWatch, RawClient, open_raw


@pytest.fixture
def url(serve: Callable[..., str]) -> str:
    return serve(handlers.app)


async def test_the_four_kinds(url: str) -> None:
    async with open_raw(url) as client:
        await client.send([0, 1, "add", None, None, [2, 3]])
        assert await client.until_end(1) == [[6, 1, 5, None, None]]

        await client.send([0, 2, "countdown", None, None, 3])
        assert await client.until_end(2) == [[1, 2, 3], [1, 2, 2], [1, 2, 1], [3, 2, None]]

        await client.send([0, 3, "average", None, None, 1.0], [1, 3, 2.0], [1, 3, 6.0], [3, 3])
        assert (await client.until_end(3))[-1] == [6, 3, 3.0, None, None]

        await client.send([0, 4, "text.upper"], [1, 4, "hi"])
        assert await client.recv_for(4, credit=False) == [1, 4, "HI"]
        await client.send([1, 4, "there"])
        assert await client.recv_for(4, credit=False) == [1, 4, "THERE"]
        await client.send([3, 4])
        assert await client.recv_for(4, credit=False) == [3, 4, None]


async def test_def_handlers_run_in_threads(url: str) -> None:
    async with open_raw(url) as client:
        await client.send([0, 1, "sha256", None, None, b"swill"])
        assert await client.until_end(1) == [[6, 1, hashlib.sha256(b"swill").hexdigest(), None, None]]

        await client.send([0, 2, "words", None, None, "one two  three"])
        assert await client.until_end(2) == [[1, 2, "one"], [1, 2, "two"], [1, 2, "three"], [3, 2, None]]

        await client.send([0, 3, "crunch", None, None, 4])
        assert await client.until_end(3) == [[6, 3, 0 + 1 + 4 + 9, None, None]]


async def test_a_deadline_stops_a_thread_that_checks_cancelled(url: str, watch_log: Callable[[str], LogWatch]) -> None:
    log = watch_log(handlers.log.name)
    async with open_raw(url) as client:
        await client.send([0, 1, "crunch", None, {"timeout": 50}, 10**12])
        [error] = await client.until_end(1)
        assert error[:3] == [5, 1, "DEADLINE_EXCEEDED"]
    # Without the `request.cancelled` check the loop would run for hours.
    await log.wait_for(lambda records: any("crunch stopped" in r.getMessage() for r in records))


async def test_a_deadline_cancels_an_async_handler(url: str) -> None:
    async with open_raw(url) as client:
        await client.send([0, 1, "wait", None, {"timeout": 50}, 3600.0])
        [error] = await client.until_end(1)
        assert error[:3] == [5, 1, "DEADLINE_EXCEEDED"]
        await client.send([0, 2, "wait", None, {"timeout": 5000}, 0.0])
        assert await client.until_end(2) == [[6, 2, "done", None, None]]


async def post(poster: RawClient, id: int, note: str) -> int:
    """Post a note on call `id`; returns how many watchers got it."""
    await poster.send([0, id, "post", None, None, note])
    [[kind, _, delivered, *_]] = await poster.until_end(id)
    assert kind == 6
    return int(delivered)


async def test_cancelling_a_stream_runs_its_finally(url: str) -> None:
    ids = itertools.count(1)
    async with open_raw(url) as watcher, open_raw(url) as poster:
        await watcher.send([0, 1, "watch", None, None, None])
        with anyio.fail_after(5):  # the watcher is registered once its handler started
            while await post(poster, next(ids), "hello") == 0:
                pass
        assert await watcher.recv_for(1, credit=False) == [1, 1, "hello"]

        await watcher.send([4, 1, "bye"])  # CLOSE
        with anyio.fail_after(5):  # its `finally` unregisters it
            while await post(poster, next(ids), "anyone?") == 1:
                pass
        await watcher.nothing_for(1)
        assert handlers.watchers == set()


async def test_client_calls_in_a_handler_inherit_its_deadline(serve: Callable[..., str]) -> None:
    app = swill.Swill()

    @app.handle()
    async def remaining(request: swill.Request[None]) -> float | None:
        return None if request.deadline is None else request.deadline - time.monotonic()

    @app.handle()
    async def relay(request: swill.Request[str]) -> float | None:
        async with Client(request.data) as client:
            left: float | None = await client.call("remaining")
            return left

    url = serve(app)
    async with open_raw(url) as raw:
        await raw.send([0, 1, "relay", None, {"timeout": 2000}, url])
        [[kind, _, left, *_]] = await raw.until_end(1)
        assert kind == 6 and 0 < left < 2
        await raw.send([0, 2, "relay", None, None, url])
        assert await raw.until_end(2) == [[6, 2, None, None, None]]
