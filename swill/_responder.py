"""What a call sends: its frames, with their hooks, in the order the protocol allows.

`ServerCall` runs a call (its hooks, its handler, its deadline); what it sends is produced by its
base class `Responder`, through the call's `CallLink`: one object per call, two concerns, a
module each. Rules:

1. Hooks run in time order and once per call: before_leading_metadata before the first frame
   (METADATA, DATA or RESPONSE), before_response_message for each message, before_trailing_metadata
   before the frame that ends the call.
2. A DATA frame waits for the client's credit, then for room on the connection (whatever the
   credit), and the stream yields to the loop once it has sent `YIELD_EVERY` messages without
   waiting for either (in turn with the streams that wait for room, if the connection is over its
   mark then): a handler that never awaits can't keep the loop. After waiting for credit
   it yields after the next message, so that the writer sends it while the handler produces the
   rest (the client is waiting for it). Final frames wait for room too.
3. The frame that ends the call is only queued here; the call writes it after its stoppable part.
4. No frame goes once the call's deadline has passed: the responder raises `DeadlinePassed`
   instead, which the call turns into `DEADLINE_EXCEEDED`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Final

from ._hooks import run_chain
from ._request import Metadata

if TYPE_CHECKING:
    from ._call import CallLink
    from ._errors import Error
    from ._hooks import RouteHooks
    from ._request import Response, _BaseRequest

__all__ = ["YIELD_EVERY", "DeadlinePassed", "Responder"]

YIELD_EVERY: Final = 64
"""A streamed response yields to the event loop at least once per this many messages: about
the 64 KiB high-water mark of 1 KiB rows, and each yield costs a trip of the writer through the
loop, so fewer yields are cheaper per message (bench/README.md)."""


class DeadlinePassed(Exception):
    """The call's deadline passed before a frame could go."""


class Responder:
    """The frames of one call, sent through `link`: the base of `ServerCall`.

    Args:
        link: The call's connection.
        id: The call id.
        hooks: The outgoing hook chains that apply.
        deadline: The call's deadline (`time.monotonic()`), if it has one.
        check_message: Raises for a message that must not be sent: an int beyond what the
            clients were promised (swill/_integers.py); `None` when there is nothing to check.
    """

    __slots__ = (
        "_check_message",
        "_credit",
        "_leading_done",
        "_stats",
        "_trailing_done",
        "_unsent_leading",
        "_unyielded",
        "deadline",
        "hooks",
        "id",
        "link",
        "request",
        "response",
    )

    request: _BaseRequest
    """What the handler got, for the outgoing hooks (set by `ServerCall`)."""

    def __init__(
        self,
        link: CallLink,
        id: int,
        hooks: RouteHooks,
        deadline: float | None,
        check_message: Callable[[Any], None] | None,
    ) -> None:
        self._check_message = check_message
        self.deadline = deadline
        self.link = link
        self.id = id
        self.hooks = hooks
        # The call's counters: messages in, messages out, bytes in, bytes out, seconds spent
        # waiting for credit.
        self._stats: list[Any] = [0, 0, 0, 0, 0.0]
        self.response: Response | None = None
        self._credit: asyncio.Event | None = None
        self._leading_done = False
        self._trailing_done = False
        self._unsent_leading: dict[str, Any] | None = None
        self._unyielded = 0  # messages sent since the stream last waited or yielded

    def on_credit(self) -> None:
        """The client granted credit."""
        if self._credit is not None:
            self._credit.set()

    async def _leading(self) -> dict[str, Any] | None:
        """Run the leading-metadata chain (once) and return what to send, `None` for nothing."""
        self._leading_done = True
        chain = self.hooks.before_leading_metadata
        if self.response is None and not chain:
            return None
        metadata: dict[str, Any] = self.response.leading_metadata if self.response else Metadata()
        if chain:
            metadata = await run_chain(chain, self.request, metadata)
        if self.response is not None:
            self.response.leading_metadata.seal("leading")
        return metadata or None

    async def send_leading_metadata(self, *, explicit: bool = False) -> None:
        """Send leading metadata now, in a METADATA frame (`Response.send_leading_metadata`)."""
        if self._leading_done:
            raise RuntimeError(
                "leading metadata was already sent (send_leading_metadata() may be awaited once, "
                "before the first message)"
            )
        metadata = await self._leading()
        if metadata:
            if self.link.buffered_bytes > self.link.high_water:
                await self.link.room()
            self.link.frames.send_metadata(self.id, metadata)
            await self.link.flush()

    async def _trailing(self, extra: dict[str, Any] | None = None) -> dict[str, Any] | None:
        self._trailing_done = True
        chain = self.hooks.before_trailing_metadata
        if self.response is None and not extra and not chain:
            return None
        metadata: dict[str, Any] = self.response.trailing_metadata if self.response else Metadata()
        if extra:
            metadata = {**metadata, **extra}
        if chain:
            metadata = await run_chain(chain, self.request, metadata)
        if self.response is not None:
            self.response.trailing_metadata.seal("trailing")
        return metadata

    def message_now(self, message: Any) -> bool:
        """Send one message of a streamed response if nothing needs awaiting first (no hook, room
        on the connection, credit, not the turn to yield); `False`, with nothing sent, if
        something does: then `message()`. A stream's every message tries this first: a plain call
        costs a fraction of a coroutine's."""
        if not self._leading_done or self.hooks.before_response_message or self._unyielded >= YIELD_EVERY - 1:
            return False
        if self._check_message is not None:
            self._check_message(message)
        link = self.link
        if link.buffered_bytes > link.high_water or (
            self.deadline is not None and time.monotonic() >= self.deadline
        ):
            return False
        size = link.frames.try_send_data(self.id, message)
        if size < 0:
            return False
        stats = self._stats
        stats[1] += 1
        stats[3] += size
        link.wake_writer()
        self._unyielded += 1
        return True

    async def message(self, message: Any) -> None:
        """Send one message of a streamed response."""
        if not self._leading_done:  # hooks run in time order: leading metadata goes out first
            await self.send_leading_metadata()
        if self.hooks.before_response_message:
            message = await run_chain(self.hooks.before_response_message, self.request, message)
        if self._check_message is not None:
            self._check_message(message)
        link = self.link
        if link.buffered_bytes > link.high_water:
            await link.room()  # whatever the credit: the socket is behind
            self._unyielded = 0
        if self.deadline is not None and time.monotonic() >= self.deadline:
            raise DeadlinePassed
        size = link.frames.try_send_data(self.id, message)
        if size < 0:
            size = await self._send_after_credit(message)
        stats = self._stats
        stats[1] += 1
        stats[3] += size
        link.wake_writer()
        self._unyielded += 1
        if self._unyielded >= YIELD_EVERY:
            # A handler that never awaits (`for row in rows: yield row`) must not keep the loop:
            # the writer, the other calls and connections, and CLOSE or a deadline get their turn.
            self._unyielded = 0
            if link.buffered_bytes > link.high_water:
                await link.room()  # in turn, behind the streams that waited for room before it
            else:
                await asyncio.sleep(0)  # a cancellation point too: CLOSE and deadlines reach it

    async def _send_after_credit(self, message: Any) -> int:
        """Wait for the client's credit, then for room and within the deadline, and send."""
        link = self.link
        frames = link.frames
        waited = time.perf_counter()
        while not frames.can_send_data(self.id):
            self._credit = asyncio.Event()
            await self._credit.wait()
        self._stats[4] += time.perf_counter() - waited
        # Yield after this message: the client waits for it, and the writer sends it while the
        # handler produces the next ones (+9-12% messages/s with a window of 256, bench/README.md).
        self._unyielded = YIELD_EVERY - 1
        if link.buffered_bytes > link.high_water:
            await link.room()
            self._unyielded = 0
        if self.deadline is not None and time.monotonic() >= self.deadline:
            raise DeadlinePassed
        return frames.send_data(self.id, message)

    async def end(self) -> None:
        """End a streamed response: END_OF_STREAM with the trailing metadata."""
        if not self._leading_done:
            await self.send_leading_metadata()
        trailing = await self._trailing()
        if self.link.buffered_bytes > self.link.high_water:
            await self.link.room()
        self.link.frames.send_end(self.id, trailing)

    def respond_now(self, result: Any) -> bool:
        """Send the single response if nothing needs awaiting first (no `Response`, no outgoing
        hook, room on the connection); `False`, with nothing sent, if something does: then
        `respond()`. What most unary calls end with: a plain call, not a coroutine."""
        hooks = self.hooks
        if (
            self.response is not None
            or hooks.before_leading_metadata
            or hooks.before_response_message
            or hooks.before_trailing_metadata
        ):
            return False
        if self._check_message is not None:
            self._check_message(result)
        link = self.link
        if link.buffered_bytes > link.high_water or (
            self.deadline is not None and time.monotonic() >= self.deadline
        ):
            return False
        self._leading_done = self._trailing_done = True
        stats = self._stats
        stats[1] += 1
        stats[3] += link.frames.send_response(self.id, result)
        return True

    async def respond(self, result: Any) -> None:
        """Send the single response, with leading and trailing metadata in it."""
        hooks = self.hooks
        plain = self.response is None  # no Response for the handler: metadata only from hooks
        leading: dict[str, Any] | None = None
        if plain and not hooks.before_leading_metadata:
            self._leading_done = True  # what _leading() would do, without a coroutine per call
        elif not self._leading_done:
            leading = await self._leading()
        self._unsent_leading = leading  # sent before the ERROR if what follows fails
        if hooks.before_response_message:
            result = await run_chain(hooks.before_response_message, self.request, result)
        if self._check_message is not None:
            self._check_message(result)
        trailing: dict[str, Any] | None = None
        if plain and not hooks.before_trailing_metadata:
            self._trailing_done = True
        else:
            trailing = await self._trailing()
        link = self.link
        if link.buffered_bytes > link.high_water:
            await link.room()
        if self.deadline is not None and time.monotonic() >= self.deadline:
            raise DeadlinePassed
        stats = self._stats
        stats[1] += 1
        stats[3] += link.frames.send_response(self.id, result, leading, trailing)

    async def fail(self, error: Error, map_error: Callable[[Exception], Awaitable[Error]]) -> None:
        """End the call with ERROR (after the leading metadata, if none went yet); an outgoing
        metadata hook that raises changes the error, through `map_error`."""
        frames = self.link.frames
        if not frames.is_open(self.id):
            return  # the call already ended
        trailing: dict[str, Any] | None = None
        try:
            leading = await self._leading() if not self._leading_done else self._unsent_leading
            if leading:
                frames.send_metadata(self.id, leading)
            if not self._trailing_done:
                trailing = await self._trailing(error.metadata)
        except Exception as exc:
            error = await map_error(exc)
            trailing = None
        if self.link.buffered_bytes > self.link.high_water:
            await self.link.room()  # returns once the connection is closed, too
        if frames.is_open(self.id):
            frames.send_error(self.id, error, trailing)
