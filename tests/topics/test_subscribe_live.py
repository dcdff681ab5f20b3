"""`Client.subscribe` against real servers that die, drain and lose their broker.

Servers run in processes of their own (uvicorn, `swill run`), killed and restarted on the same
port; Redis is a real redis-server, stopped and started again. Every wait has a timeout.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest

import swill
from swill.client import Client

from .conftest import ROOT, RedisServer, Worker, free_port

APP = "tests.topics.resume_app:app"
SWILL = str(Path(sys.executable).with_name("swill"))


class Restartable(Worker):
    """A `Worker` that can be killed (SIGKILL) and started again on the same listening socket."""

    def __init__(self, app: str, env: dict[str, str]) -> None:
        super().__init__(app, env)
        self.command = [str(arg) for arg in self.process.args]  # type: ignore[union-attr]
        self.env = {**os.environ, **env}

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(10)

    def restart(self) -> None:
        fd = self.sock.fileno()
        self.process = subprocess.Popen(self.command, cwd=ROOT, env=self.env, pass_fds=[fd])


@pytest.fixture
def restartable() -> Iterator[list[Restartable]]:
    started: list[Restartable] = []
    yield started
    for worker in started:
        worker.stop()


def fast(url: str) -> Client:
    """A client that tries again soon: the servers here come back within seconds."""
    return Client(url, reconnect_delay=0.05, max_reconnect_delay=0.5)


class Collector:
    """Iterates a subscription in a task of its own, keeping its events (a cancelled `anext` would
    end an async generator, so waits happen here, on an event, not on the iterator)."""

    def __init__(self, events: AsyncIterator[swill.SubscriptionEvent[Any]]) -> None:
        self.events: list[swill.SubscriptionEvent[Any]] = []
        self._iterator = events
        self._changed = anyio.Event()

    async def run(self) -> None:
        async for event in self._iterator:
            self.events.append(event)
            self._changed.set()

    async def wait_for(self, n: int, wait: float = 30) -> list[swill.SubscriptionEvent[Any]]:
        with anyio.fail_after(wait):
            while len(self.events) < n:
                self._changed = anyio.Event()
                await self._changed.wait()
        return self.events

    async def publish_until(self, client: Client, rpc: str, value: Any, n: int, attempts: int = 100) -> None:
        """Publish `value` until `n` events arrived: for a subscription resuming on a server whose
        ids started over, where what is published before it subscribes again is not replayed."""
        for _ in range(attempts):
            try:
                await client.call(rpc, value, timeout=5)
            except swill.Error:  # the server is not up yet
                await anyio.sleep(0.1)
                continue
            with anyio.move_on_after(0.2):
                await self.wait_for(n)
                return
        raise AssertionError(f"fewer than {n} events: {self.events}")


@asynccontextmanager
async def collecting(events: AsyncIterator[swill.SubscriptionEvent[Any]]) -> AsyncIterator[Collector]:
    collector = Collector(events)
    async with anyio.create_task_group() as tg:
        tg.start_soon(collector.run)
        yield collector
        tg.cancel_scope.cancel()


def plain(events: list[swill.SubscriptionEvent[Any]]) -> list[tuple[int, Any, int, bool]]:
    return [(e.id, e.value, e.missed, e.restarted) for e in events]


async def test_fifo_on_redis_across_a_killed_server_nothing_lost_nothing_twice(
    redis_server: RedisServer, restartable: list[Restartable], workers: list[Worker]
) -> None:
    env = {"SWILL_TEST_BROKER": redis_server.url}
    subscribed_to = Restartable(APP, env)
    restartable.append(subscribed_to)
    publisher = Worker(APP, env)
    workers.append(publisher)
    async with fast(subscribed_to.url) as client, fast(publisher.url) as pub:
        await client.call("ready", 10.0, timeout=15)
        await pub.call("ready", 10.0, timeout=15)
        async with collecting(client.subscribe("ticks", after=0)) as events:
            ids = [await pub.call("publish", n, timeout=5) for n in (10, 20, 30)]
            await events.wait_for(3)
            subscribed_to.kill()  # mid-subscription, without a goodbye
            ids += [await pub.call("publish", n, timeout=5) for n in (40, 50)]
            subscribed_to.restart()  # same port
            await events.wait_for(5)
            ids += [await pub.call("publish", 60, timeout=5)]
            seen = await events.wait_for(6)
    assert [e.id for e in seen] == ids == list(range(ids[0], ids[0] + 6))
    assert [(e.value, e.missed, e.restarted) for e in seen] == [(v, 0, False) for v in (10, 20, 30, 40, 50, 60)]


async def test_latest_on_redis_across_a_killed_server_reports_what_was_missed(
    redis_server: RedisServer, restartable: list[Restartable], workers: list[Worker]
) -> None:
    env = {"SWILL_TEST_BROKER": redis_server.url}
    subscribed_to = Restartable(APP, env)
    restartable.append(subscribed_to)
    publisher = Worker(APP, env)
    workers.append(publisher)
    async with fast(subscribed_to.url) as client, fast(publisher.url) as pub:
        await client.call("ready", 10.0, timeout=15)
        await pub.call("ready", 10.0, timeout=15)
        first = await pub.call("publish_level", 1, timeout=5)
        async with collecting(client.subscribe("levels")) as events:
            await events.wait_for(1)  # the replayed value
            subscribed_to.kill()
            for level in (2, 3, 4):
                await pub.call("publish_level", level, timeout=5)
            subscribed_to.restart()
            seen = await events.wait_for(2)  # a latest topic keeps only the last value
    assert plain(seen) == [(first, 1, 0, False), (first + 3, 4, 2, False)]


async def test_redis_stopped_and_started_under_a_subscription(
    redis_server: RedisServer, workers: list[Worker]
) -> None:
    env = {"SWILL_TEST_BROKER": redis_server.url}
    worker = Worker(APP, env)
    workers.append(worker)
    async with fast(worker.url) as client:
        await client.call("ready", 10.0, timeout=15)
        async with collecting(client.subscribe("ticks", after=0)) as events:
            for n in range(1, 11):
                assert await client.call("publish", n, timeout=5) == n
            await events.wait_for(10)
            redis_server.stop()  # subscribers fail with UNAVAILABLE: the subscription tries again
            redis_server.start()  # no persistence: Redis comes back empty, the ids start over
            await client.call("ready", 10.0, timeout=15)
            # The resumed subscription asks for ids after 10: Redis has fewer, so it sends what it
            # has, whenever it resumes (within the ten publishes it takes to reach id 10 again).
            await events.publish_until(client, "publish", 11, 11)
            seen = events.events
    assert plain(seen)[:10] == [(n, n, 0, False) for n in range(1, 11)]
    assert (seen[10].value, seen[10].restarted, seen[10].missed) == (11, True, 0)


class SwillRun:
    """`swill run` of the app on a fixed port, in memory (no broker)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.process = subprocess.Popen(
            [SWILL, "run", APP, "--port", str(port), "--log-level", "warning"],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT), "SWILL_TEST_BROKER": ""},
        )

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.terminate()
        return self.process.wait(30)


async def test_a_drained_swill_run_then_a_fresh_one_on_the_same_port() -> None:
    port = free_port()
    first = SwillRun(port)
    second: SwillRun | None = None
    try:
        async with fast(f"ws://127.0.0.1:{port}/ws") as client:
            async with collecting(client.subscribe("ticks")) as events:
                await events.publish_until(client, "publish", 7, 1)  # once `swill run` listens
                for _ in range(9):  # ids past 10: the new process takes that long to reach them
                    await client.call("publish", 7, timeout=5)
                await events.wait_for(10)
                first.process.send_signal(signal.SIGTERM)  # drain: GOAWAY, then UNAVAILABLE ends the stream
                with anyio.fail_after(30):
                    assert await anyio.to_thread.run_sync(first.stop) in (0, -signal.SIGTERM)
                second = SwillRun(port)  # the in-memory topic starts over in the new process
                await events.publish_until(client, "publish", 8, 11)
                seen = events.events
    finally:
        first.stop()
        if second is not None:
            second.stop()
    assert [(e.value, e.missed, e.restarted) for e in seen[:10]] == [(7, 0, False)] * 10
    assert (seen[10].value, seen[10].restarted, seen[10].missed) == (8, True, 0)
