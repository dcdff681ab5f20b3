"""Topic semantics on the in-memory broker, driven directly: policies, replay, ids, resume."""

from __future__ import annotations

import gc
import threading
import time
from typing import Annotated, Any

import annotated_types as at
import anyio
import msgspec
import pytest

import swill
from swill._topics import Subscription, Topic, end_subscriptions

pytestmark = pytest.mark.anyio


def make_topic(**options: Any) -> Topic[Any]:
    app = swill.Swill(__name__)
    kind = options.pop("type", int)
    topic: Topic[Any] = app.topic("t", kind, **options)
    return topic


async def take(subscription: Subscription[Any], n: int, wait: float = 5.0) -> list[Any]:
    with anyio.fail_after(wait):
        return [await anext(subscription) for _ in range(n)]


async def nothing_pending(subscription: Subscription[Any]) -> None:
    """The subscription has no value ready: taking one would wait."""
    with anyio.move_on_after(0) as scope:
        await anext(subscription)
    assert scope.cancelled_caught


async def publish(topic: Topic[Any], *values: Any) -> list[int]:
    return [await topic.publish(value) for value in values]


# Ids.


async def test_publish_returns_consecutive_ids_and_subscribers_see_them() -> None:
    topic = make_topic()
    subscription = topic.subscribe()
    assert await publish(topic, 10, 20, 30) == [1, 2, 3]
    topic_fifo = make_topic(policy="fifo", queue_size=8)
    sub_fifo = topic_fifo.subscribe()
    await publish(topic_fifo, 10, 20, 30)
    assert await take(sub_fifo, 3) == [10, 20, 30]
    assert sub_fifo.last_id == 3
    assert await take(subscription, 1) == [30]
    assert subscription.last_id == 3


# policy="latest"


async def test_latest_slow_subscriber_keeps_only_the_newest_values() -> None:
    topic = make_topic(policy="latest", queue_size=3)
    slow = topic.subscribe()
    with anyio.fail_after(1):  # the publisher never waits for the subscriber
        await publish(topic, *range(100))
    assert await take(slow, 3) == [97, 98, 99]
    await nothing_pending(slow)


async def test_latest_fast_subscriber_gets_every_value() -> None:
    topic = make_topic(policy="latest", queue_size=1)
    fast = topic.subscribe()
    seen = []
    for value in range(20):
        await topic.publish(value)
        seen += await take(fast, 1)
    assert seen == list(range(20))


# policy="fifo"


async def test_fifo_slow_subscriber_within_max_lag_gets_every_value_in_order() -> None:
    topic = make_topic(policy="fifo", queue_size=2, max_lag=30)
    slow = topic.subscribe()
    with anyio.fail_after(1):
        await publish(topic, *range(50))
    assert await take(slow, 50) == list(range(50))


async def test_fifo_queue_that_drains_stops_counting_lag() -> None:
    topic = make_topic(policy="fifo", queue_size=2, max_lag=30)
    subscription = topic.subscribe()
    await publish(topic, 1, 2, 3)
    assert subscription._queue.timer is not None  # full: the lag clock runs
    assert await take(subscription, 2) == [1, 2]
    assert subscription._queue.timer is None  # below queue_size again: it stopped


async def test_fifo_subscriber_stuck_longer_than_max_lag_is_ended_and_others_go_on() -> None:
    topic = make_topic(policy="fifo", queue_size=4, max_lag=0.2)
    ended = anyio.Event()
    errors: list[swill.Error] = []

    def on_error(error: swill.Error) -> None:
        errors.append(error)
        ended.set()

    stuck = Subscription(topic, None, on_error=on_error)
    fast = topic.subscribe()
    started = time.monotonic()
    got = []
    for value in range(10):
        with anyio.fail_after(1):
            await topic.publish(value)
        got += await take(fast, 1)
    with anyio.fail_after(5):
        await ended.wait()
    assert time.monotonic() - started >= 0.2
    assert [e.code for e in errors] == [swill.Code.RESOURCE_EXHAUSTED]
    assert "fell behind" in errors[0].message
    with pytest.raises(swill.Error) as raised:
        await anext(stuck)
    assert raised.value.code is swill.Code.RESOURCE_EXHAUSTED
    assert topic.subscribers == 1  # the stuck one let go of its queue
    await publish(topic, 10, 11)
    assert got + await take(fast, 2) == list(range(12))


async def test_fifo_lag_is_measured_while_waiting_without_new_values() -> None:
    # Full, then nothing more is published: the subscriber is still ended after max_lag.
    topic = make_topic(policy="fifo", queue_size=1, max_lag=0.1)
    ended = anyio.Event()
    subscription = Subscription(topic, None, on_error=lambda error: ended.set())
    await topic.publish(1)
    with anyio.fail_after(5):
        await ended.wait()
    with pytest.raises(swill.Error):
        await anext(subscription)


# Replay and resume.


async def test_replay_gives_a_new_subscriber_the_last_value_at_once() -> None:
    topic = make_topic(replay=True)
    await publish(topic, 1, 2)
    subscription = topic.subscribe()
    assert await take(subscription, 1) == [2]
    assert subscription.last_id == 2
    await nothing_pending(subscription)
    await topic.publish(3)
    assert await take(subscription, 1) == [3]


async def test_without_replay_a_new_subscriber_waits_for_the_next_value() -> None:
    topic = make_topic()
    await publish(topic, 1, 2)
    subscription = topic.subscribe()
    await nothing_pending(subscription)
    await topic.publish(3)
    assert await take(subscription, 1) == [3]


async def test_replay_before_anything_was_published_gives_nothing() -> None:
    topic = make_topic(replay=True)
    subscription = topic.subscribe()
    await nothing_pending(subscription)


@pytest.mark.parametrize(
    ("after", "expected"),
    [
        (5, [6, 7, 8]),  # resume: exactly what was missed
        (8, []),  # up to date
        (0, [4, 5, 6, 7, 8]),  # everything retained
        (2, [4, 5, 6, 7, 8]),  # 3 fell out of the history: what is left, the gap shows in the ids
        (100, [4, 5, 6, 7, 8]),  # ids started over (a restart): what is retained
    ],
)
async def test_resume_after_an_id_while_history_holds_it(after: int, expected: list[int]) -> None:
    topic = make_topic(policy="fifo", queue_size=16, history=5)
    await publish(topic, *range(1, 9))  # values equal their ids
    subscription = topic.subscribe(after=after)
    assert await take(subscription, len(expected)) == expected
    await nothing_pending(subscription)
    await topic.publish(9)
    assert await take(subscription, 1) == [9]


async def test_resume_on_a_replay_topic_without_history_uses_the_last_value() -> None:
    topic = make_topic(replay=True)
    await publish(topic, 1, 2, 3)
    assert await take(topic.subscribe(after=1), 1) == [3]
    await nothing_pending(topic.subscribe(after=3))


async def test_values_published_while_a_subscriber_starts_come_once_in_order() -> None:
    topic = make_topic(policy="fifo", queue_size=16, history=10)
    await publish(topic, 1, 2)
    subscription = topic.subscribe(after=0)
    await publish(topic, 3, 4)  # before the first anext: both queued and retained
    assert await take(subscription, 4) == [1, 2, 3, 4]
    await nothing_pending(subscription)


# Validation.


class Reading(msgspec.Struct):
    sensor: str
    celsius: Annotated[float, at.Ge(-273.15)]


async def test_published_values_are_validated_with_the_topic_type() -> None:
    topic = make_topic(type=Reading, policy="fifo", queue_size=4)
    subscription = topic.subscribe()
    await topic.publish(Reading("a", 20.0))
    await topic.publish({"sensor": "b", "celsius": 21})  # converted into the type
    with pytest.raises(swill.Error) as raised:
        await topic.publish(Reading("c", -300.0))
    assert raised.value.code is swill.Code.INVALID_ARGUMENT
    assert raised.value.data == [{"path": "$.celsius", "message": "Expected `float` >= -273.15"}]
    with pytest.raises(swill.Error):
        await topic.publish("hot")
    assert await take(subscription, 2) == [Reading("a", 20.0), Reading("b", 21.0)]
    await nothing_pending(subscription)


async def test_a_value_messagepack_cannot_hold_is_refused() -> None:
    topic = make_topic(type=Any)
    with pytest.raises(swill.Error) as raised:
        await topic.publish(object())
    assert raised.value.code is swill.Code.INVALID_ARGUMENT
    assert raised.value.data[0]["path"] == "$"


# Threads.


async def test_publish_threadsafe_from_another_thread() -> None:
    topic = make_topic(policy="fifo", queue_size=8)
    subscription = topic.subscribe()
    await topic.publish(0)  # the app's loop is known once a topic was used (or the app started)
    ids: list[int] = []

    def publisher() -> None:
        ids.extend(topic.publish_threadsafe(value).result(5) for value in (1, 2))

    thread = threading.Thread(target=publisher)
    thread.start()
    assert await take(subscription, 3) == [0, 1, 2]
    await anyio.to_thread.run_sync(thread.join, 5)
    assert ids == [2, 3]


async def test_publish_threadsafe_validates_in_the_calling_thread() -> None:
    topic = make_topic()
    await topic.publish(0)
    with pytest.raises(swill.Error) as raised:
        await anyio.to_thread.run_sync(topic.publish_threadsafe, "nope")
    assert raised.value.code is swill.Code.INVALID_ARGUMENT


def test_publish_threadsafe_before_the_app_runs_is_an_error() -> None:
    topic = make_topic()
    with pytest.raises(RuntimeError, match="not running"):
        topic.publish_threadsafe(1)


# Unsubscribing.


async def test_leaving_the_loop_or_closing_unsubscribes() -> None:
    topic = make_topic(replay=True)
    await topic.publish(0)
    async for _ in topic.subscribe():
        break  # no aclose(): the dropped iterator lets go of its queue
    gc.collect()
    assert topic.subscribers == 0
    subscription = topic.subscribe()
    assert topic.subscribers == 1
    await subscription.aclose()
    assert topic.subscribers == 0
    with pytest.raises(StopAsyncIteration):
        await anext(subscription)
    async with topic.subscribe() as inner:
        assert topic.subscribers == 1
        await topic.publish(1)
        assert await take(inner, 1) == [1]
    assert topic.subscribers == 0


async def test_a_closed_subscription_wakes_its_waiting_reader() -> None:
    topic = make_topic()
    subscription = topic.subscribe()
    result: list[str] = []

    async def reader() -> None:
        async for _ in subscription:
            pass
        result.append("stopped")

    async with anyio.create_task_group() as tg:
        tg.start_soon(reader)
        await anyio.wait_all_tasks_blocked()
        await subscription.aclose()
    assert result == ["stopped"]


async def test_ending_the_subscriptions_of_an_app_fails_them_with_unavailable() -> None:
    app = swill.Swill()
    first: Topic[int] = app.topic("first", int)
    second: Topic[str] = app.topic("second", str, policy="fifo")
    ended: list[swill.Error] = []
    exposed = Subscription(first, None, on_error=ended.append)
    waiting = second.subscribe()
    raised: list[swill.Error] = []

    async def handler() -> None:  # waits for the next value when the subscriptions end
        try:
            await anext(waiting)
        except swill.Error as error:
            raised.append(error)

    async with anyio.create_task_group() as tg:
        tg.start_soon(handler)
        await anyio.wait_all_tasks_blocked()
        end_subscriptions(app)
    assert [e.code for e in ended + raised] == [swill.Code.UNAVAILABLE] * 2
    with pytest.raises(swill.Error) as again:
        await anext(exposed)
    assert again.value.code is swill.Code.UNAVAILABLE
    assert first.subscribers == second.subscribers == 0


async def test_closing_a_full_fifo_subscription_stops_its_lag_clock() -> None:
    topic = make_topic(policy="fifo", queue_size=1, max_lag=30)
    subscription = topic.subscribe()
    await topic.publish(1)
    queue = subscription._queue
    timer = queue.timer
    assert timer is not None
    await subscription.aclose()
    assert queue.timer is None and timer.cancelled()
    assert topic.subscribers == 0


async def test_a_failing_error_callback_is_logged_and_the_subscriber_ended_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    topic = make_topic()
    calls: list[swill.Error] = []

    def on_error(error: swill.Error) -> None:
        calls.append(error)
        raise RuntimeError("callback broke")

    subscription = Subscription(topic, None, on_error=on_error)
    topic.fail_subscribers(swill.Error(swill.Code.UNAVAILABLE, "gone"))
    subscription._queue.fail(swill.Error(swill.Code.INTERNAL, "again"))  # a second ending is ignored
    assert [e.code for e in calls] == [swill.Code.UNAVAILABLE]
    assert "ending a subscriber of topic 't' failed" in caplog.text
    await topic.publish(1)  # the publisher is not disturbed
    with pytest.raises(swill.Error) as raised:
        await anext(subscription)
    assert raised.value.code is swill.Code.UNAVAILABLE


# Creating topics.


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"policy": "lifo"}, "policy"),
        ({"queue_size": 0}, "queue_size"),
        ({"queue_size": True}, "queue_size"),
        ({"history": -1}, "history"),
        ({"max_lag": 0}, "max_lag"),
    ],
)
def test_bad_topic_options_are_refused(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        swill.Swill().topic("t", int, **options)


def test_a_topic_name_is_taken_once_and_must_not_be_empty() -> None:
    app = swill.Swill()
    app.topic("t", int)
    with pytest.raises(ValueError, match="twice"):
        app.topic("t", int)
    with pytest.raises(ValueError, match="non-empty"):
        app.topic("", int)


def test_an_unknown_broker_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown broker"):
        swill.Swill(broker="kafka://x").topic("t", int)
