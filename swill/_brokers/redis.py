"""The Redis broker: topics shared by every process and host connected to one Redis.

Rules:

1. One Lua script publishes: it takes the next id (`INCR`), stores the last value and the history
   when the topic keeps them, and `PUBLISH`es `b"<id> <msgpack value>"`. Redis runs scripts one at
   a time, so the channel carries values in id order.
2. Each process reads every topic's channel over one pattern subscription, in one task, decodes
   each value once and delivers it to its local subscribers.
3. When that subscription breaks, every local subscriber is failed with `UNAVAILABLE` (it may have
   missed values) and the task reconnects with backoff; until it has, new subscriptions are
   refused with `UNAVAILABLE`. Publishing raises `UNAVAILABLE` while Redis can't be reached.
4. Keys: `swill:topic:<name>:seq`, `...:last`, `...:history`; channel `swill:topic:<name>`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from .._errors import Code, Error
from . import Broker, Entry, initial_entries

if TYPE_CHECKING:
    from .._topics import Topic

__all__ = ["PREFIX", "RedisBroker"]

logger: Final = logging.getLogger("swill")

PREFIX: Final = "swill:topic:"

_PUBLISH: Final = """
local id = redis.call('INCR', KEYS[1])
local message = id .. ' ' .. ARGV[1]
if ARGV[2] == '1' then redis.call('SET', KEYS[2], message) end
local history = tonumber(ARGV[3])
if history > 0 then
    redis.call('LPUSH', KEYS[3], message)
    redis.call('LTRIM', KEYS[3], 0, history - 1)
end
redis.call('PUBLISH', ARGV[4], message)
return id
"""

_MIN_BACKOFF: Final = 0.05
_MAX_BACKOFF: Final = 2.0


def _describe(url: str) -> str:
    """The URL without credentials, for messages."""
    parts = urlsplit(url)
    host = parts.hostname or parts.path or "?"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path if parts.hostname else ''}"


class RedisBroker(Broker):
    """Shares topics through Redis (redis-py's asyncio client).

    Args:
        url: A `redis://`, `rediss://` or `unix://` URL, e.g. `"redis://127.0.0.1:6379/0"`.
    """

    def __init__(self, url: str) -> None:
        super().__init__(_describe(url))
        self.url = url
        self.connected = asyncio.Event()
        """Set while the subscription to the topics' channels is up."""
        self._client: aioredis.Redis | None = None
        self._reader: asyncio.Task[None] | None = None
        self._script: Any = None
        self._tried = asyncio.Event()  # the reader's first attempt to subscribe is over

    async def start(self) -> None:
        if self._client is None:
            await super().start()
            # One quick retry: after Redis restarts, a pooled connection fails once, a new one works.
            self._client = aioredis.Redis.from_url(
                self.url, retry=Retry(NoBackoff(), 1), socket_connect_timeout=2.0, socket_timeout=5.0
            )
            self._script = self._client.register_script(_PUBLISH)
            self._reader = asyncio.get_running_loop().create_task(self._read(), name="swill topics: redis reader")
        # So that the first subscribers find the subscription up, or Redis known to be down.
        await self._tried.wait()

    async def close(self) -> None:
        reader, self._reader = self._reader, None
        if reader is not None:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()
        self.connected.clear()
        await super().close()
        self._fail_all(Error(Code.UNAVAILABLE, "the server is shutting down"))

    def check_available(self) -> None:
        if not self.connected.is_set():
            raise Error(Code.UNAVAILABLE, f"the topic broker {self.description} is unavailable")

    async def publish(self, topic: Topic[Any], value: Any, encoded: bytes) -> int:
        assert self._client is not None
        keys = [f"{PREFIX}{topic.name}:seq", f"{PREFIX}{topic.name}:last", f"{PREFIX}{topic.name}:history"]
        args = [encoded, "1" if topic.replay else "0", topic.history, f"{PREFIX}{topic.name}"]
        try:
            return int(await self._script(keys=keys, args=args))
        except (RedisError, OSError) as exc:
            raise self._unavailable(f"can't publish to topic {topic.name!r}", exc) from exc

    async def retained(self, topic: Topic[Any], after: int | None) -> list[Entry]:
        if not topic.replay and (after is None or not topic.history):
            return []
        assert self._client is not None
        key = f"{PREFIX}{topic.name}"
        try:
            async with self._client.pipeline(transaction=True) as pipe:
                pipe.get(f"{key}:seq")
                pipe.get(f"{key}:last")
                pipe.lrange(f"{key}:history", 0, -1)
                seq, last, history = await pipe.execute()
        except (RedisError, OSError) as exc:
            raise self._unavailable(f"can't subscribe to topic {topic.name!r}", exc) from exc
        entries = [self._decode(topic, message) for message in reversed(history)]
        return initial_entries(
            int(seq or 0),
            None if last is None else self._decode(topic, last),
            entries,
            replay=topic.replay,
            after=after,
        )

    def _unavailable(self, what: str, exc: BaseException) -> Error:
        return Error(Code.UNAVAILABLE, f"{what}: the topic broker {self.description} is unavailable ({exc})")

    @staticmethod
    def _decode(topic: Topic[Any], message: bytes) -> Entry:
        id, _, payload = message.partition(b" ")
        return Entry(int(id), topic.codec.decode(payload))

    # The reader task.

    async def _read(self) -> None:
        delay = _MIN_BACKOFF
        while True:
            try:
                await self._listen()
            except (RedisError, OSError) as exc:
                if self.connected.is_set():
                    logger.warning("lost the topic broker %s: %s", self.description, exc)
                else:
                    logger.debug("can't reach the topic broker %s: %s", self.description, exc)
            delay = _MIN_BACKOFF if self.connected.is_set() else min(delay * 2, _MAX_BACKOFF)
            self._lost()
            self._tried.set()
            await asyncio.sleep(delay)

    async def _listen(self) -> None:
        # A connection of its own, without retries: a broken subscription must be seen, not hidden.
        client = aioredis.Redis.from_url(self.url, retry=Retry(NoBackoff(), 0), socket_connect_timeout=2.0)
        try:
            async with client.pubsub() as pubsub:
                await pubsub.psubscribe(f"{PREFIX}*")
                while True:
                    message = await pubsub.get_message(timeout=None)
                    if message is None:
                        continue
                    kind = message["type"]
                    if kind == "pmessage":
                        self._dispatch(message["channel"], message["data"])
                    elif kind == "psubscribe":
                        logger.info("subscribed to the topic broker %s", self.description)
                        self.connected.set()
                        self._tried.set()
        finally:
            await client.aclose()

    def _dispatch(self, channel: bytes, message: bytes) -> None:
        topic = self.topics.get(channel[len(PREFIX) :].decode(errors="replace"))
        if topic is None:
            return
        try:
            entry = self._decode(topic, message)
        except Exception:
            logger.exception("a value of topic %r in %s could not be decoded", topic.name, self.description)
            return
        topic.deliver(entry)

    def _lost(self) -> None:
        if self.connected.is_set():
            self.connected.clear()
            self._fail_all(
                Error(Code.UNAVAILABLE, f"lost the topic broker {self.description}; subscribe again")
            )

    def _fail_all(self, error: Error) -> None:
        for topic in self.topics.values():
            topic.fail_subscribers(error)
