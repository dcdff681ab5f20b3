"""The Redis broker against a real redis-server: sharing, retained values, loss and recovery."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import pytest

import swill
from swill._brokers import broker_for
from swill._brokers.redis import RedisBroker
from swill._topics import Subscription, Topic
from swill.client import Client

from .conftest import RedisServer, Worker

pytestmark = pytest.mark.anyio


@asynccontextmanager
async def process(url: str, **options: Any) -> AsyncIterator[Topic[Any]]:
    """One app with a Redis broker, as one worker process would have it, started and stopped."""
    app = swill.Swill(broker=url)
    topic: Topic[Any] = app.topic("t", int, **options)
    broker = broker_for(app)
    await broker.start()
    try:
        yield topic
    finally:
        await broker.close()


def broker(topic: Topic[Any]) -> RedisBroker:
    assert isinstance(topic._broker, RedisBroker)
    return topic._broker


async def take(subscription: Subscription[Any], n: int) -> list[Any]:
    with anyio.fail_after(5):
        return [await anext(subscription) for _ in range(n)]


async def test_a_value_published_in_one_process_reaches_subscribers_in_every_process(
    redis_server: RedisServer,
) -> None:
    async with process(redis_server.url, policy="fifo", queue_size=8) as here:
        async with process(redis_server.url, policy="fifo", queue_size=8) as there:
            local, remote = here.subscribe(), there.subscribe()
            await local.start()
            await remote.start()
            assert [await here.publish(1), await there.publish(2), await here.publish(3)] == [1, 2, 3]
            assert await take(local, 3) == [1, 2, 3]
            assert await take(remote, 3) == [1, 2, 3]
            assert remote.last_id == 3


async def test_the_last_value_and_history_live_in_redis(redis_server: RedisServer) -> None:
    async with process(redis_server.url, replay=True, history=3, policy="fifo", queue_size=8) as here:
        for value in range(10, 16):
            await here.publish(value)  # ids 1..6
    async with process(redis_server.url, replay=True, history=3, policy="fifo", queue_size=8) as later:
        assert await take(later.subscribe(), 1) == [15]
        resumed = later.subscribe(after=4)
        assert await take(resumed, 2) == [14, 15]
        gap = later.subscribe(after=1)  # 2 and 3 fell out of the history
        assert await take(gap, 3) == [13, 14, 15]
        assert gap.last_id == 6
        await later.publish(16)
        assert await take(resumed, 1) == [16]


async def test_values_from_redis_are_validated_with_the_topic_type(redis_server: RedisServer) -> None:
    async with process(redis_server.url, policy="fifo", queue_size=8) as here:
        subscription = here.subscribe()
        await subscription.start()
        # Another app declares the topic with another type: what this one refuses is skipped.
        other = swill.Swill(broker=redis_server.url)
        strings: Topic[str] = other.topic("t", str)
        try:
            await strings.publish("not an int")
        finally:
            await broker(strings).close()
        await here.publish(7)
        assert await take(subscription, 1) == [7]


async def test_losing_redis_fails_subscribers_and_publishers_until_it_returns(redis_server: RedisServer) -> None:
    async with process(redis_server.url, policy="fifo", queue_size=8, history=10) as topic:
        ended = anyio.Event()
        subscription = Subscription(topic, None, on_error=lambda error: ended.set())
        await subscription.start()
        await topic.publish(1)
        assert await take(subscription, 1) == [1]

        redis_server.stop()
        with anyio.fail_after(5):
            await ended.wait()
        with pytest.raises(swill.Error) as raised:
            await anext(subscription)
        assert raised.value.code is swill.Code.UNAVAILABLE
        with pytest.raises(swill.Error) as raised:
            await topic.publish(2)
        assert raised.value.code is swill.Code.UNAVAILABLE
        assert f"127.0.0.1:{redis_server.port}" in raised.value.message
        with pytest.raises(swill.Error) as raised:
            await anext(topic.subscribe())
        assert raised.value.code is swill.Code.UNAVAILABLE

        redis_server.start()
        with anyio.fail_after(10):
            await broker(topic).connected.wait()
        again = topic.subscribe(after=1)
        await again.start()
        assert await topic.publish(3) == 1  # Redis came back empty: ids start over
        assert await take(again, 1) == [3]


async def test_a_process_started_while_redis_is_down_recovers(redis_server: RedisServer) -> None:
    redis_server.stop()
    async with process(redis_server.url) as topic:
        with pytest.raises(swill.Error) as raised:
            await topic.publish(1)
        assert raised.value.code is swill.Code.UNAVAILABLE
        redis_server.start()
        with anyio.fail_after(10):
            await broker(topic).connected.wait()
        subscription = topic.subscribe()
        await subscription.start()
        await topic.publish(2)
        assert await take(subscription, 1) == [2]


async def test_two_uvicorn_processes_share_a_topic_across_a_redis_restart(
    redis_server: RedisServer, workers: list[Worker]
) -> None:
    env = {"SWILL_TEST_BROKER": redis_server.url}
    workers += [Worker("tests.topics.redis_app:app", env), Worker("tests.topics.redis_app:app", env)]
    a, b = workers
    async with Client(a.url) as on_a, Client(b.url) as on_b:
        pids = {await on_a.call("ready", 10.0, timeout=15), await on_b.call("ready", 10.0, timeout=15)}
        assert len(pids) == 2  # two processes

        # after=0: everything the history holds, then live; nothing is missed whenever it starts.
        async with on_b.stream("ticks", 0) as watching:
            events = aiter(watching)
            assert [await on_a.call("publish", n, timeout=5) for n in (10, 20, 30)] == [1, 2, 3]
            with anyio.fail_after(5):
                got = [await anext(events) for _ in range(3)]
            assert got == [{"id": 1, "value": 10}, {"id": 2, "value": 20}, {"id": 3, "value": 30}]

            redis_server.stop()
            with anyio.fail_after(10), pytest.raises(swill.Error) as raised:
                await anext(events)
            assert raised.value.code is swill.Code.UNAVAILABLE
        with pytest.raises(swill.Error) as raised:
            await on_a.call("publish", 40, timeout=5)
        assert raised.value.code is swill.Code.UNAVAILABLE
        assert "unavailable" in raised.value.message

        redis_server.start()
        await on_a.call("ready", 10.0, timeout=15)
        await on_b.call("ready", 10.0, timeout=15)
        async with on_b.stream("ticks", 3) as watching:  # resume: Redis lost its data, ids restart
            events = aiter(watching)
            assert await on_a.call("publish", 50, timeout=5) == 1
            with anyio.fail_after(5):
                assert await anext(events) == {"id": 1, "value": 50}
