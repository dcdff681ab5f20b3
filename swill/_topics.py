"""Broadcast topics: publish a value once, stream it to every subscriber.

Rules:

1. Publishing never waits for a subscriber. Each subscriber has its own queue; `publish` puts
   the value in every queue of the process (through the broker) and returns.
2. `policy="latest"`: a queue holds at most `queue_size` values; a new value pushes out the
   oldest. A slow subscriber skips values, never blocks anyone.
3. `policy="fifo"`: a subscriber gets every value, in order. A queue holding `queue_size` values
   or more is *full*; one that stays full for `max_lag` seconds is failed with
   `RESOURCE_EXHAUSTED` and its values dropped, so what a slow subscriber holds is bounded by
   what is published within `max_lag`, and it never slows the publisher or the others.
4. Every value gets an id from the broker: 1, 2, 3, ... per topic. A subscriber that passes
   `after=<id>` first gets the retained values newer than that id (the last value with
   `replay=True`, the last `history` values), then live ones; each id at most once, in order.
5. A subscriber whose broker is lost is failed with `UNAVAILABLE`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
from collections import deque
from collections.abc import AsyncIterator, Callable
from types import TracebackType
from typing import TYPE_CHECKING, Annotated, Any, Final, Generic, Literal, TypeVar, cast

import msgspec

from ._brokers import Broker, Entry, broker_for
from ._errors import Code, Error
from ._request import Request, Response
from ._validation import InvalidData, TypeCodec

if TYPE_CHECKING:
    from ._app import Swill

__all__ = ["POLICIES", "Subscription", "Topic", "TopicEvent", "create_topic", "end_subscriptions", "expose"]

logger: Final = logging.getLogger("swill")
_encoder: Final = msgspec.msgpack.Encoder()

T = TypeVar("T")

Policy = Literal["latest", "fifo"]
POLICIES: Final = ("latest", "fifo")

EventId = Annotated[int, msgspec.Meta(ge=0)]
"""What an exposed topic's rpc takes: the last event id a client saw (`nil` for none)."""


class TopicEvent(msgspec.Struct, Generic[T]):
    """One value of a topic as an exposed topic's rpc streams it: `{"id": ..., "value": ...}`.

    A client keeps the `id` of the last event it saw and passes it when it subscribes again, to
    resume where it left off.
    """

    id: int
    value: T


class Topic(Generic[T]):
    """A named stream of values of one type, published once and delivered to every subscriber.

    Create one with `app.topic(...)`, which checks the arguments (see the topics docs).

    Attributes:
        name: The topic's name, unique in its app.
        type: The type of its values; published values are validated and converted into it.
        replay: Whether a new subscriber starts with the last value.
        policy: `"latest"` (a slow subscriber skips to the newest values) or `"fifo"` (every
            value, in order; a subscriber full for `max_lag` seconds is ended).
        queue_size: How many values a subscriber may have waiting.
        max_lag: `fifo`: the seconds a subscriber's queue may stay full.
        history: How many of the last values the topic keeps for subscribers that resume.
        rpcs: The names of the rpcs that expose it.
    """

    def __init__(
        self,
        broker: Broker,
        name: str,
        type: Any,
        *,
        replay: bool,
        policy: Policy,
        queue_size: int,
        max_lag: float,
        history: int,
    ) -> None:
        self.name = name
        self.type = type
        self.replay = replay
        self.policy: Policy = policy
        self.queue_size = queue_size
        self.max_lag = max_lag
        self.history = history
        self.codec: TypeCodec[T] = TypeCodec(type)
        self.rpcs: list[str] = []
        self.dropped = 0
        """Values this process dropped for slow subscribers: pushed out of a `latest` queue, or
        left in a `fifo` queue that fell behind (the `swill_topic_dropped_total` metric)."""
        self._broker = broker
        self._queues: set[_Queue] = set()
        broker.attach(self)

    def __repr__(self) -> str:
        return f"<Topic {self.name!r} policy={self.policy} queue_size={self.queue_size}>"

    @property
    def subscribers(self) -> int:
        """How many subscribers this process has now."""
        return len(self._queues)

    async def publish(self, value: T) -> int:
        """Validate `value`, then deliver it to every subscriber (in every process sharing the
        topic). Never waits for subscribers.

        Returns:
            The value's event id.

        Raises:
            swill.Error: `INVALID_ARGUMENT` when `value` is not of the topic's type;
                `UNAVAILABLE` when the broker can't be reached.
        """
        checked, encoded = self._validate(value)
        await self._broker.start()
        return await self._broker.publish(self, checked, encoded)

    def publish_threadsafe(self, value: T) -> concurrent.futures.Future[int]:
        """Publish from a thread other than the app's event loop.

        The value is validated at once, in the calling thread; the rest happens in the app's
        loop. Don't wait on the future from inside that loop.

        Returns:
            A future of the value's event id (or of the error `publish` would raise).

        Raises:
            swill.Error: `INVALID_ARGUMENT` when `value` is not of the topic's type.
            RuntimeError: The app is not running (it has not started, nor used a topic yet).
        """
        checked, encoded = self._validate(value)
        loop = self._broker.loop
        if loop is None or loop.is_closed():
            raise RuntimeError(f"topic {self.name!r}: the app is not running, there is no loop to publish in")
        return asyncio.run_coroutine_threadsafe(self._broker.publish(self, checked, encoded), loop)

    def subscribe(self, *, after: int | None = None) -> Subscription[T]:
        """Subscribe: iterate the result with `async for` to get the values published from now on.

        Leaving the loop (or `aclose()`, or `async with`) ends the subscription.

        Args:
            after: The id of the last value seen: start with the retained values newer than it
                (`0` for all of them). Without it, a `replay=True` topic starts with its last
                value.

        Returns:
            The subscription, an async iterator of values (`subscription.last_id` is the id of
            the value it returned last).
        """
        return Subscription(self, after)

    def _validate(self, value: Any) -> tuple[T, bytes]:
        """The value as the topic's type (a round trip through MessagePack, which checks Structs
        built in Python too), and its encoding."""
        try:
            encoded = _encoder.encode(value)
            return self.codec.decode(encoded), encoded
        except (TypeError, msgspec.EncodeError) as exc:
            errors = [{"path": "$", "message": str(exc)}]
        except InvalidData as exc:
            errors = exc.errors or [{"path": "$", "message": "invalid"}]
        raise Error(
            Code.INVALID_ARGUMENT,
            f"invalid value for topic {self.name!r}: {errors[0]['message']} at {errors[0]['path']}",
            data=errors,
        )

    # Used by brokers.

    def deliver(self, entry: Entry) -> None:
        """Put a published value in every subscriber's queue (broker side; in the loop)."""
        for queue in tuple(self._queues):
            queue.put(entry)

    def fail_subscribers(self, error: Error) -> None:
        """End every subscriber of this process with `error` (broker side; in the loop)."""
        for queue in tuple(self._queues):
            queue.fail(error)

    def describe(self) -> dict[str, Any]:
        """How introspection shows this topic (without its schema)."""
        return {
            "name": self.name,
            "rpcs": list(self.rpcs),
            "policy": self.policy,
            "replay": self.replay,
            "queue_size": self.queue_size,
            "max_lag": self.max_lag,
            "history": self.history,
        }


class _Queue:
    """One subscriber's pending values, the policy's bookkeeping, and how to wake it."""

    __slots__ = ("error", "fifo", "items", "on_error", "timer", "topic", "waiter")

    def __init__(self, topic: Topic[Any], on_error: Callable[[Error], object] | None) -> None:
        self.topic = topic
        self.fifo = topic.policy == "fifo"
        self.items: deque[Entry] = deque() if self.fifo else deque(maxlen=topic.queue_size)
        self.on_error = on_error
        self.error: Error | None = None
        self.timer: asyncio.TimerHandle | None = None
        self.waiter: asyncio.Future[None] | None = None

    def put(self, entry: Entry) -> None:
        if len(self.items) == self.items.maxlen:
            self.topic.dropped += 1  # `latest`: appending pushes the oldest out
        self.items.append(entry)
        if self.fifo and self.timer is None and len(self.items) >= self.topic.queue_size:
            self.timer = asyncio.get_running_loop().call_later(self.topic.max_lag, self._lagged)
        self._wake()

    def take(self) -> Entry | None:
        if not self.items:
            return None
        entry = self.items.popleft()
        self.settle()
        return entry

    def settle(self) -> None:
        """Stop the lag clock once the queue is below `queue_size`."""
        if self.timer is not None and len(self.items) < self.topic.queue_size:
            self.timer.cancel()
            self.timer = None

    def _lagged(self) -> None:
        self.timer = None
        topic = self.topic
        topic.dropped += len(self.items)
        self.fail(
            Error(
                Code.RESOURCE_EXHAUSTED,
                f"subscriber of topic {topic.name!r} fell behind: its queue stayed full "
                f"({topic.queue_size} values) for {topic.max_lag:g} s",
            )
        )

    def fail(self, error: Error) -> None:
        if self.error is not None:
            return
        self.error = error
        self.detach()
        self._wake()
        if self.on_error is not None:
            try:
                self.on_error(error)
            except Exception:
                logger.exception("ending a subscriber of topic %r failed", self.topic.name)

    def detach(self) -> None:
        self.topic._queues.discard(self)
        self.items.clear()
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def _wake(self) -> None:
        waiter = self.waiter
        if waiter is not None:
            self.waiter = None
            if not waiter.done():
                waiter.set_result(None)

    async def wait(self) -> None:
        waiter = self.waiter = asyncio.get_running_loop().create_future()
        try:
            await waiter
        finally:
            if self.waiter is waiter:
                self.waiter = None


class Subscription(AsyncIterator[T]):
    """A subscriber of a topic: an async iterator of its values, from `topic.subscribe()`.

    Attributes:
        topic: The topic.
        last_id: The event id of the value returned last (`None` before the first).
    """

    __slots__ = ("_after", "_closed", "_initial", "_queue", "_started", "last_id", "topic")

    def __init__(
        self, topic: Topic[T], after: int | None, on_error: Callable[[Error], object] | None = None
    ) -> None:
        self.topic = topic
        self.last_id: int | None = None
        self._after = after
        self._initial: deque[Entry] = deque()
        self._started = False
        self._closed = False
        # Registered now, so nothing published from here on is missed while it starts.
        self._queue = _Queue(topic, on_error)
        topic._queues.add(self._queue)

    def __aiter__(self) -> Subscription[T]:
        return self

    async def __anext__(self) -> T:
        if not self._started:
            await self.start()
        queue = self._queue
        while True:
            if queue.error is not None:
                raise queue.error
            if self._closed:
                raise StopAsyncIteration
            entry = self._initial.popleft() if self._initial else queue.take()
            if entry is None:
                await queue.wait()
            elif self.last_id is None or entry.id > self.last_id:
                self.last_id = entry.id
                return cast(T, entry.value)

    async def start(self) -> None:
        """Take what the topic retains for this subscriber now rather than at the first value.

        Raises:
            swill.Error: `UNAVAILABLE` when the broker can't be reached.
        """
        if self._started:
            return
        self._started = True
        broker = self.topic._broker
        try:
            await broker.start()
            broker.check_available()
            initial = await broker.retained(self.topic, self._after)
        except Error as error:
            self._queue.fail(error)
            raise
        # Values that arrived while the retained ones were fetched may be among them: merge by id.
        merged = {entry.id: entry for entry in (*initial, *self._queue.items)}
        self._queue.items.clear()
        self._queue.settle()
        self._initial.extend(merged[id] for id in sorted(merged))

    async def aclose(self) -> None:
        """End the subscription; iterating it afterwards stops at once."""
        self._close()

    def _close(self) -> None:
        self._closed = True
        self._initial.clear()
        self._queue.detach()
        self._queue._wake()

    async def __aenter__(self) -> Subscription[T]:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._close()

    def __del__(self) -> None:
        # An `async for` left by a cancelled handler never calls aclose(); this does its job.
        self._queue.detach()


def create_topic(
    app: Swill,
    name: str,
    type: Any,
    *,
    replay: bool = False,
    policy: str = "latest",
    queue_size: int = 1,
    max_lag: float = 5.0,
    history: int = 0,
) -> Topic[Any]:
    """Make a topic of `app` (what `app.topic(...)` does); checks the arguments.

    Raises:
        ValueError: A bad argument, a taken name, or an unknown broker.
        TypeError: `type` is not one msgspec can handle.
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"a topic's name must be a non-empty string, got {name!r}")
    if name in app._topics:
        raise ValueError(f"topic {name!r} is created twice")
    if policy not in POLICIES:
        raise ValueError(f"policy must be 'latest' or 'fifo', got {policy!r}")
    if isinstance(queue_size, bool) or not isinstance(queue_size, int) or queue_size < 1:
        raise ValueError(f"queue_size must be an int >= 1, got {queue_size!r}")
    if isinstance(history, bool) or not isinstance(history, int) or history < 0:
        raise ValueError(f"history must be an int >= 0, got {history!r}")
    if not max_lag > 0:
        raise ValueError(f"max_lag must be > 0 seconds, got {max_lag!r}")
    return Topic(
        broker_for(app),
        name,
        type,
        replay=replay,
        policy=cast(Policy, policy),
        queue_size=queue_size,
        max_lag=float(max_lag),
        history=history,
    )


def expose(app: Swill, topic: Topic[Any], name: str | None = None) -> None:
    """Serve `topic` as a streaming rpc that subscribes the caller (what `app.expose` does).

    The rpc takes `nil` (a new subscriber) or the id of the last event the client saw, and
    streams `TopicEvent`s: `{"id": <event id>, "value": <value>}`. A subscriber that falls behind
    a `fifo` topic is ended with `RESOURCE_EXHAUSTED` at once, even while it waits for credit.

    Raises:
        ValueError: The rpc name is taken or reserved.
    """
    rpc = name or topic.name

    async def subscribe(request: Request[int | None], response: Response) -> AsyncIterator[TopicEvent[Any]]:
        subscription = Subscription(topic, request.data, on_error=request._call.abort)
        async with subscription:
            await subscription.start()
            # Leading metadata tells the client it is subscribed: nothing published from now on
            # will be missed.
            response.leading_metadata["topic"] = topic.name
            await response.send_leading_metadata()
            async for value in subscription:
                yield TopicEvent(cast(int, subscription.last_id), value)

    subscribe.__annotations__ = {
        "request": Request[EventId | None],
        "response": Response,
        "return": AsyncIterator[TopicEvent[topic.type]],  # type: ignore[name-defined]
    }
    subscribe.__doc__ = (
        f"Subscribe to topic {topic.name!r}.\n\n"
        "Send nil, or the id of the last event you saw to resume after it. Leading metadata "
        "(`{\"topic\": name}`) comes once subscribed; then `{id, value}` events."
    )
    subscribe.__qualname__ = f"expose.<{topic.name}>"
    app.add_handler(subscribe, name=rpc)
    topic.rpcs.append(rpc)


def end_subscriptions(app: Swill, error: Error | None = None) -> None:
    """End every subscriber of `app`'s topics in this process, with `UNAVAILABLE` by default.

    A topic's stream never ends by itself, so a draining server calls this rather than wait out
    its grace period: clients resume elsewhere with their last event id. Call it in the app's loop.
    """
    error = error or Error(Code.UNAVAILABLE, "the server is shutting down; subscribe again")
    for topic in app._topics.values():
        topic.fail_subscribers(error)
