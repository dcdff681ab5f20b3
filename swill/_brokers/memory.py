"""The in-process broker: topics shared by the handlers of one process, no setup."""

from __future__ import annotations

import asyncio
from collections import deque
from typing import TYPE_CHECKING, Any

from . import Broker, Entry, initial_entries

if TYPE_CHECKING:
    from .._topics import Topic

__all__ = ["MemoryBroker"]


class _Retained:
    __slots__ = ("history", "last", "seq")

    def __init__(self, history: int) -> None:
        self.seq = 0
        self.last: Entry | None = None
        self.history: deque[Entry] = deque(maxlen=history)


class MemoryBroker(Broker):
    """Keeps each topic's ids and retained values in this process's memory."""

    def __init__(self) -> None:
        super().__init__("memory")
        self._retained: dict[str, _Retained] = {}

    def attach(self, topic: Topic[Any]) -> None:
        super().attach(topic)
        self._retained[topic.name] = _Retained(topic.history)

    async def publish(self, topic: Topic[Any], value: Any, encoded: bytes) -> int:
        self.loop = asyncio.get_running_loop()
        state = self._retained[topic.name]
        state.seq += 1
        entry = Entry(state.seq, value)
        if topic.replay:
            state.last = entry
        if topic.history:
            state.history.append(entry)
        topic.deliver(entry)
        return entry.id

    async def retained(self, topic: Topic[Any], after: int | None) -> list[Entry]:
        state = self._retained[topic.name]
        return initial_entries(state.seq, state.last, list(state.history), replay=topic.replay, after=after)
