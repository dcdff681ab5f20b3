"""Where topics live: the broker that orders published values and keeps the retained ones.

Rules every broker keeps:

1. A topic's values get ids 1, 2, 3, ... in publish order; the broker is the one place that
   assigns them, so every process sharing a topic sees the same value under the same id.
2. Values reach a process's subscribers through `Topic.deliver`, in id order, once each.
3. What a topic retains (its last value with `replay=True`, its last `history` values) is kept
   by the broker, so a subscriber in any process can start from it (`initial_entries`).
4. A broker that can't do its job raises `swill.Error(UNAVAILABLE)` to publishers and fails
   subscribers with it, and recovers by itself when it can.
"""

from __future__ import annotations

import asyncio
import weakref
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from .._app import Swill
    from .._topics import Topic

__all__ = ["Broker", "Entry", "broker_for", "initial_entries"]


class Entry(NamedTuple):
    """One published value and its id."""

    id: int
    value: Any


class Broker(ABC):
    """The backend shared by an app's topics.

    Args:
        description: How the broker is named in messages (no credentials).
    """

    def __init__(self, description: str) -> None:
        self.description = description
        self.topics: dict[str, Topic[Any]] = {}
        self.loop: asyncio.AbstractEventLoop | None = None

    def attach(self, topic: Topic[Any]) -> None:
        """Take charge of `topic` (called once, when the app creates it)."""
        self.topics[topic.name] = topic

    async def start(self) -> None:
        """Get ready to serve; called at app startup and before any use. Idempotent."""
        self.loop = asyncio.get_running_loop()

    async def close(self) -> None:
        """Stop; called at app shutdown."""
        self.loop = None

    def check_available(self) -> None:
        """Raise `swill.Error(UNAVAILABLE)` when new subscriptions can't get values now."""
        return None

    @abstractmethod
    async def publish(self, topic: Topic[Any], value: Any, encoded: bytes) -> int:
        """Publish a validated value (and its MessagePack encoding); returns its id.

        Raises:
            swill.Error: `UNAVAILABLE` when the broker can't be reached.
        """

    @abstractmethod
    async def retained(self, topic: Topic[Any], after: int | None) -> list[Entry]:
        """What a new subscriber gets first (see `initial_entries`)."""


def initial_entries(
    seq: int, last: Entry | None, history: list[Entry], *, replay: bool, after: int | None
) -> list[Entry]:
    """What a new subscriber gets before live values, oldest first.

    Args:
        seq: The id of the newest value published so far (0 for none).
        last: The newest value, if the topic keeps it.
        history: The values the topic keeps, oldest first.
        replay: Whether the topic replays its last value to new subscribers.
        after: The id the subscriber saw last, or `None` for a new subscriber.

    Returns:
        Without `after`: the last value when `replay`, else nothing. With `after`: every retained
        value newer than it; all of them when `after` is newer than anything published (the
        topic's ids started over, e.g. a broker restarted without its data).
    """
    retained = list(history)
    if replay and last is not None and (not retained or retained[-1].id < last.id):
        retained.append(last)
    if after is None:
        return retained[-1:] if replay else []
    if after > seq:
        return retained
    return [entry for entry in retained if entry.id > after]


_brokers: weakref.WeakKeyDictionary[Swill, Broker] = weakref.WeakKeyDictionary()


def broker_for(app: Swill) -> Broker:
    """The broker of `app`, made from `app.broker` on first use and tied to the app's lifespan.

    Raises:
        ValueError: `app.broker` is not `None`, `"memory://"` or a Redis URL.
    """
    broker = _brokers.get(app)
    if broker is None:
        broker = _brokers[app] = _make(app.broker)
        app.on_startup(broker.start)
        app.on_shutdown(broker.close)
    return broker


def _make(url: str | None) -> Broker:
    if url is None or url in ("memory", "memory://"):
        from .memory import MemoryBroker

        return MemoryBroker()
    if url.startswith(("redis://", "rediss://", "unix://")):
        from .redis import RedisBroker

        return RedisBroker(url)
    raise ValueError(f"unknown broker {url!r}: use None for in-process topics or a redis:// URL")
