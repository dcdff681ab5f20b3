"""`Call`: one call as the application sees it, fed by its connection's reader task.

Rules:

1. A call's outcome is settled once: a response, the end of a stream, or an error (from the
   server, a lost connection, the local deadline, `cancel()`). Messages that arrived before it
   are still delivered; what arrives after it is dropped.
2. Its wire life ends separately: when the server's last frame arrives, or when this side sends
   CLOSE. Only then does the call stop counting against the connection's concurrency limit, so
   the count matches the server's. A call whose local deadline passed waits `DEADLINE_GRACE`
   seconds for the server's own `DEADLINE_EXCEEDED` before it sends CLOSE, so that the server's
   hooks see the deadline rather than a cancellation.
3. Memory is bounded by the window: the server sends at most `window` messages beyond what the
   application took, and each message taken grants credit back, in batches of half a window.
4. Leaving the `async for` early, or cancelling a task while it waits on the call, sends CLOSE.
"""

from __future__ import annotations

import asyncio
import math
from collections import deque
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any, Final, Generic, TypeVar

import msgspec

from .._errors import Code, Error
from .._frames import NO_DATA
from .._validation import InvalidData, TypeCodec

if TYPE_CHECKING:
    from types import TracebackType

    from ._client import Client
    from ._connection import Connection

__all__ = ["DEADLINE_GRACE", "Call", "decoder_for"]

T = TypeVar("T")

DEADLINE_GRACE: Final = 1.0
"""Seconds a call past its local deadline waits for the server's ERROR before sending CLOSE."""

_NOTHING: Final = msgspec.Raw()
_decode_any: Final = msgspec.msgpack.Decoder().decode
_codecs: dict[Any, Callable[[msgspec.Raw], Any]] = {}


def decoder_for(response_type: Any) -> Callable[[msgspec.Raw], Any]:
    """A function decoding a message into `response_type` (`None`: plain Python values)."""
    if response_type is None:
        return _decode_any
    try:
        decode = _codecs.get(response_type)
    except TypeError:  # an unhashable type: build it each time
        return TypeCodec(response_type).decode
    if decode is None:
        decode = _codecs[response_type] = TypeCodec(response_type).decode
    return decode


def _copy(error: Error) -> Error:
    """A fresh exception to raise, so that each raise gets its own traceback."""
    return Error(error.code, error.message, error.data, error.metadata)


def _wake_all(waiters: list[asyncio.Future[None]]) -> None:
    for waiter in waiters:
        if not waiter.done():
            waiter.set_result(None)
    waiters.clear()


class Call(Generic[T]):
    """One call: send messages, end the request, await the result or iterate the response.

    Get one from `Client.open` (the REQUEST is sent) or `Client.stream` (the REQUEST is sent
    when iteration starts). `T` is the type of response messages (`response_type=`).

    Attributes:
        rpc: The rpc name.
        id: The call id on its connection; `None` until the REQUEST is sent.
        leading_metadata: The server's leading metadata (empty until it arrives).
        trailing_metadata: The server's trailing metadata (empty until the call ends).
    """

    __slots__ = (
        "_client",
        "_conn",
        "_data",
        "_deadline",
        "_decode",
        "_done",
        "_ended",
        "_error",
        "_grant_at",
        "_inbox",
        "_metadata",
        "_readers",
        "_request_ended",
        "_response",
        "_senders",
        "_settled",
        "_started",
        "_starting",
        "_timeout",
        "_timer",
        "_unacked",
        "_window",
        "id",
        "leading_metadata",
        "rpc",
        "trailing_metadata",
    )

    def __init__(
        self,
        client: Client,
        rpc: str,
        data: Any,
        *,
        metadata: dict[str, Any] | None,
        deadline: float | None,
        timeout: float | None,
        window: int | None,
        decode: Callable[[msgspec.Raw], Any],
    ) -> None:
        self._client = client
        self.rpc = rpc
        self.id: int | None = None
        self._conn: Connection | None = None
        self._data = data
        self._metadata = metadata
        self._deadline = deadline
        self._timeout = timeout
        self._window = window
        self._grant_at = max(1, window // 2) if window else 0
        self._unacked = 0
        self._decode = decode
        self.leading_metadata: dict[str, Any] = {}
        self.trailing_metadata: dict[str, Any] = {}
        self._inbox: deque[msgspec.Raw] = deque()
        self._response = _NOTHING
        self._ended = False
        self._error: Error | None = None
        self._settled = False
        self._done = False
        self._request_ended = False
        self._readers: list[asyncio.Future[None]] = []  # tasks waiting for what the server sends
        self._senders: list[asyncio.Future[None]] = []  # tasks waiting for credit to send
        self._timer: asyncio.TimerHandle | None = None
        self._starting = False
        self._started: asyncio.Future[None] | None = None  # made by a task waiting for another's start

    def __repr__(self) -> str:
        state = "done" if self._settled else "open" if self.id is not None else "new"
        return f"<Call {self.rpc} id={self.id} {state}>"

    @property
    def done(self) -> bool:
        """True once the outcome is known: a response, the end of the stream, or an error."""
        return self._settled

    # Starting.

    async def _start(self) -> Connection:
        """Send the REQUEST (once; concurrent callers wait for the first). Returns the connection.

        Raises:
            swill.Error: The call could not start, or was cancelled before it did.
        """
        if self._starting:  # another task is sending the REQUEST: wait for it
            if self._conn is None and not self._settled:
                if self._started is None:
                    self._started = asyncio.get_running_loop().create_future()
                await asyncio.shield(self._started)
            if self._conn is None:
                raise self._failure()
            return self._conn
        self._starting = True
        try:
            if self._settled:
                raise self._failure()
            client = self._client
            conn = client._conn
            if conn is None or not conn.take_slot():
                conn = await client._acquire(self.rpc, self._deadline)
            self._send_request(conn)
            if not conn.flush_soon():
                await conn.flush()
            return conn
        except BaseException as exc:
            if self._conn is not None:
                self.cancel()  # cancelled while the REQUEST was being written
            elif not self._settled:
                self._settle(exc if isinstance(exc, Error) else Error(Code.CANCELLED, "the call was cancelled"))
            raise
        finally:
            started = self._started
            if started is not None and not started.done():
                started.set_result(None)

    def _start_now(self) -> Connection | None:
        """Queue the REQUEST without waiting when the connection has a free slot: the usual
        case (the caller then flushes it). `None` when `_start` must do it."""
        if self._starting or self._settled:
            return None
        conn = self._client._conn
        if conn is None or not conn.take_slot():
            return None
        self._starting = True
        try:
            self._send_request(conn)
        except BaseException as exc:
            if not self._settled:
                self._settle(exc if isinstance(exc, Error) else Error(Code.CANCELLED, "the call was cancelled"))
            raise
        return conn

    async def _begin(self) -> None:
        """Start the call: the REQUEST is on its way, or the call failed (raised)."""
        conn = self._start_now()
        if conn is None:
            await self._start()
        elif not conn.flush_soon():
            await self._flush(conn)

    def _failure(self) -> Error:
        return _copy(self._error) if self._error else Error(Code.CANCELLED, "the call was cancelled")

    def _send_request(self, conn: Connection) -> None:
        """Queue the REQUEST on `conn`, where a call slot is taken for it (given back on failure)."""
        try:
            deadline = self._deadline
            timeout_ms: int | None = None
            if deadline is not None:
                remaining = deadline - conn.loop.time()
                if remaining <= 0:
                    raise Error(Code.DEADLINE_EXCEEDED, f"the deadline of {self.rpc!r} passed before it started")
                # Whole milliseconds, rounded up: the call's own timeout as given (the server
                # measures from when REQUEST arrives), or what is left of an inherited deadline.
                seconds = remaining if self._timeout is None else self._timeout
                timeout_ms = math.ceil(round(seconds * 1000, 3))
            if self._settled:  # cancelled while waiting for a connection
                raise self._failure()
            self.id = conn.protocol.send_request(
                self.rpc, self._data, metadata=self._metadata, timeout_ms=timeout_ms, window=self._window
            )
        except BaseException:
            conn.release()
            raise
        self._data = NO_DATA
        self._conn = conn
        conn.opened(self)
        if deadline is not None:
            self._timer = conn.loop.call_at(deadline, self._expire)

    # Fed by the connection's reader; none of these await. (DATA goes straight into `_inbox`,
    # in `Connection._on_message`.)

    def _on_metadata(self, metadata: dict[str, Any]) -> None:
        self.leading_metadata = metadata

    def _on_response(self, data: msgspec.Raw, leading: dict[str, Any] | None, trailing: dict[str, Any]) -> None:
        if not self._settled:
            if leading:
                self.leading_metadata = leading
            self.trailing_metadata = trailing
            self._response = data
            self._settled = True
        self._finish()

    def _on_end(self, trailing: dict[str, Any]) -> None:
        if not self._settled:
            self.trailing_metadata = trailing
            self._ended = True
            self._settled = True
        self._finish()

    def _on_error(self, error: Error) -> None:
        if not self._settled:
            self.trailing_metadata = error.metadata or {}
            self._settle(error)
        self._finish()

    def _on_credit(self) -> None:
        if self._senders:
            _wake_all(self._senders)

    def _settle(self, error: Error) -> None:
        self._error = error
        self._settled = True
        self._wake()
        self._on_credit()

    def _fail(self, error: Error) -> None:
        """The connection is gone: settle with `error` (if not settled) and end."""
        if not self._settled:
            self._settle(error)
        self._finish()

    def _finish(self) -> None:
        """The call's wire life is over: nothing more comes or goes for it."""
        if self._done:
            return
        self._done = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._readers:
            _wake_all(self._readers)
        if self._senders:
            _wake_all(self._senders)
        if self._conn is not None:
            self._conn.closed_call(self)

    def _expire(self) -> None:
        """The local deadline passed."""
        self._timer = None
        if not self._settled:
            self._settle(Error(Code.DEADLINE_EXCEEDED, f"the deadline of {self.rpc!r} passed"))
        if not self._done and self._conn is not None:
            self._timer = self._conn.loop.call_later(DEADLINE_GRACE, self._close)

    def _close(self, reason: str | None = None) -> None:
        self._timer = None
        if not self._done and self._conn is not None and self.id is not None:
            self._conn.send_close(self.id, reason)
        self._finish()

    def _wake(self) -> None:
        if self._readers:
            _wake_all(self._readers)

    async def _wait(self, waiters: list[asyncio.Future[None]]) -> None:
        """Wait for the next event; cancelling the waiting task cancels the call."""
        waiter = asyncio.get_running_loop().create_future()
        waiters.append(waiter)
        try:
            await waiter
        except BaseException:
            self.cancel()
            raise

    # The application's side.

    def cancel(self, reason: str | None = None) -> bool:
        """Cancel the call: CLOSE goes to the server and waiting tasks get `CANCELLED`.

        Args:
            reason: Sent in the CLOSE frame, for the server's logs.

        Returns:
            False when the call was already over.
        """
        if self._settled:
            if not self._done and self._conn is not None:
                self._close(reason)
            return False
        self._inbox.clear()
        self._settle(Error(Code.CANCELLED, "the call was cancelled"))
        if self._conn is not None:
            self._close(reason)
        return True

    async def send(self, message: Any) -> None:
        """Send one message of the streamed request; waits while the server's credit is spent.

        Raises:
            swill.Error: The call failed (or was cancelled) before the message could go;
                `RESOURCE_EXHAUSTED` for a message larger than the server accepts.
            RuntimeError: `end()` was called already.
            TypeError: The message can't be encoded.
        """
        conn = self._conn or await self._start()
        if self._request_ended:
            raise RuntimeError(f"can't send on call {self.rpc!r} #{self.id} after end()")
        assert self.id is not None
        while True:
            if self._settled or self._done:
                if self._error is not None:
                    raise _copy(self._error)
                return  # the server ended the call; it would ignore more messages
            if conn.protocol.can_send_data(self.id):
                break
            await self._wait(self._senders)
        conn.protocol.send_data(self.id, message)
        await self._flush(conn)

    async def end(self) -> None:
        """End the streamed request (END_OF_STREAM). Does nothing when the call is over."""
        conn = self._conn or await self._start()
        if self._request_ended or self._done:
            return
        self._request_ended = True
        assert self.id is not None
        conn.protocol.send_end(self.id)
        await self._flush(conn)

    async def _flush(self, conn: Connection) -> None:
        if conn.flush_soon():
            return
        try:
            await conn.flush()
        except BaseException:
            self.cancel()  # the task was cancelled while the socket was slow
            raise

    async def result(self) -> T:
        """Wait for the single response and return it, decoded.

        Raises:
            swill.Error: The call failed; `CANCELLED` after `cancel()`; `FAILED_PRECONDITION`
                when the rpc streams its response (iterate the call instead); `INTERNAL` when
                the response does not fit `response_type`.
        """
        if self._conn is None:  # `_begin`, inlined: one coroutine less per unary call
            conn = self._start_now()
            if conn is None:
                await self._start()
            elif not conn.flush_soon():
                await self._flush(conn)
        while True:
            if self._response is not _NOTHING:
                return self._decoded(self._response)
            if self._error is not None:
                raise _copy(self._error)
            if self._inbox or self._ended:
                self.cancel()
                raise Error(
                    Code.FAILED_PRECONDITION,
                    f"rpc {self.rpc!r} streams its response: iterate the call with `async for`",
                )
            await self._wait(self._readers)

    def __aiter__(self) -> AsyncIterator[T]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[T]:
        if self._conn is None:
            await self._begin()
        inbox = self._inbox
        decode = self._decode
        grant_at = self._grant_at
        taken = False
        try:
            while True:
                if inbox:
                    data = inbox.popleft()
                    if grant_at:
                        self._unacked += 1
                        if self._unacked >= grant_at:
                            self._grant()
                    try:
                        value: T = decode(data)
                    except (InvalidData, msgspec.DecodeError):
                        value = self._decoded(data)  # raises the error, for the call
                    yield value
                elif self._settled:
                    if self._error is not None:
                        raise _copy(self._error)
                    if self._response is _NOTHING or taken:
                        return
                    taken = True  # a single response is a stream of one
                    yield self._decoded(self._response)
                else:
                    await self._wait(self._readers)
        finally:
            if not self._settled:
                self.cancel()

    def _grant(self) -> None:
        """Give the server credit for the messages taken since the last grant."""
        if not self._done:
            assert self._conn is not None and self.id is not None
            self._conn.grant(self.id, self._unacked)
            self._unacked = 0

    def _decoded(self, data: msgspec.Raw) -> T:
        try:
            value: T = self._decode(data)
        except InvalidData as exc:
            self.cancel()
            raise Error(
                Code.INTERNAL, f"a response message of {self.rpc!r} does not fit response_type: {exc}", exc.errors
            ) from None
        except msgspec.DecodeError as exc:
            self.cancel()
            raise Error(Code.INTERNAL, f"a response message of {self.rpc!r} can't be decoded: {exc}") from None
        return value

    async def __aenter__(self) -> Call[T]:
        await self._start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.cancel()
