"""One call on the server: a task that runs the hooks and the handler and sends the result.

Rules:

1. One task per call. The connection's receive loop feeds it (`on_message`, `on_end`,
   `on_credit`) and may stop it (`cancel` for CLOSE or a lost connection, `abort` to end it with
   an error); it never awaits on a call's behalf.
2. The hooks and the handler are the only part that can be stopped (by CLOSE, a lost
   connection, the deadline or an abort), and one way stops them: `_stop()` cancels the call's own
   asyncio task while it serves (`_serve`); the deadline is a timer that calls `_stop()`. A call
   cancelled by CLOSE or a lost connection sends nothing; any other ending sends exactly one final
   frame, ERROR included, written after that part, and each outgoing metadata hook runs once per
   call.
3. Frames are produced by the sans-I/O protocol, which refuses an illegal sequence; a handler
   that breaks a rule gets a `RuntimeError` and the call ends with `INTERNAL`.
4. A streamed response holds each value it took from the handler until there is credit for it.
5. What the call sends, with its outgoing hooks, is its base class `Responder`'s
   (`swill/_responder.py`); what it receives is `Incoming`'s (`swill/_incoming.py`).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import logging
import time
import traceback
from collections.abc import AsyncIterator, Callable, Iterator
from typing import TYPE_CHECKING, Any, Final, Protocol

import anyio
import anyio.lowlevel
import msgspec

from ._errors import Code, Error
from ._hooks import run_chain, run_each, run_hooks
from ._incoming import Incoming
from ._registry import Invoke
from ._request import Request, Response, StreamingRequest
from ._responder import DeadlinePassed, Responder
from ._telemetry import traced
from ._validation import InvalidData

if TYPE_CHECKING:
    from ._app import Route
    from ._connection import Connection
    from ._observe import Observer
    from ._protocol import CallOpened
    from ._request import _BaseRequest

__all__ = ["ServerCall", "current_deadline"]

logger: Final = logging.getLogger("swill")
access_logger: Final = logging.getLogger("swill.access")
_END: Final = object()


current_deadline: Final[contextvars.ContextVar[float | None]] = contextvars.ContextVar(
    "swill.current_deadline", default=None
)
"""The deadline (`time.monotonic()`) of the call whose handler runs in this context, if any.

Set for each call's task; `swill.Client` reads it so that calls a handler makes inherit its
remaining time.
"""


class CallFrames(Protocol):
    """The frames a call produces, through the sans-I/O core (`ServerProtocol` is one), which
    refuses what the protocol does not allow."""

    def is_open(self, id: int) -> bool: ...
    def can_send_data(self, id: int) -> bool: ...
    def grant(self, id: int, n: int) -> bool: ...
    def send_metadata(self, id: int, metadata: dict[str, Any]) -> None: ...
    def send_data(self, id: int, value: Any) -> int: ...
    def try_send_data(self, id: int, value: Any) -> int: ...
    def send_response(
        self, id: int, value: Any, leading: dict[str, Any] | None = None, trailing: dict[str, Any] | None = None
    ) -> int: ...
    def send_end(self, id: int, trailing: dict[str, Any] | None = None) -> None: ...
    def send_error(self, id: int, error: Error, metadata: dict[str, Any] | None = None) -> None: ...


class CallLink(Protocol):
    """All a call sees of its connection (`ConnectionHandler` is one), as the TS client's
    `CallLink`: one way, and nothing of the connection's own state."""

    connection: Connection
    """The public view of the connection, for `Request.connection`, logs and spans."""
    traced: bool
    observer: Observer | None
    """Told when each call ends (`Swill.observer`, read when the connection opened)."""
    high_water: int

    @property
    def frames(self) -> CallFrames: ...
    @property
    def client_window(self) -> int: ...
    @property
    def debug(self) -> bool: ...
    @property
    def buffered_bytes(self) -> int: ...
    def find_exception_handler(self, exc: BaseException) -> Callable[..., Any] | None: ...
    def wake_writer(self) -> None: ...
    async def flush(self) -> None: ...
    async def room(self) -> None: ...
    async def write_now(self) -> None: ...
    def call_done(self, call: ServerCall) -> None: ...


class ServerCall(Responder):
    """The server's side of one call."""

    __slots__ = (
        "_abort",
        "_consumed",
        "_data",
        "_deadline_hit",
        "_decoded",
        "_grant_every",
        "_incoming",
        "_routine",
        "_serving",
        "_stop_requested",
        "cancelled",
        "closed",
        "metadata",
        "spec",
        "task",
    )

    def __init__(self, link: CallLink, route: Route, opened: CallOpened) -> None:
        deadline = None
        if opened.timeout_ms is not None:
            deadline = time.monotonic() + opened.timeout_ms / 1000
        Responder.__init__(self, link, opened.id, route.hooks, deadline, route.check_response)
        self.spec = route.spec
        self._routine = route.routine
        self.metadata: dict[str, Any] = opened.metadata
        # A call is stopped through its own task (`task.cancel()`, a timer for the deadline): a
        # fifth of what an anyio cancel scope costs per call.
        self.task: asyncio.Task[Any] | None = None  # set by the connection as it starts the call
        self._serving = False
        self._stop_requested = False
        self._deadline_hit = False
        self.cancelled = False
        self.closed = False  # cancelled by CLOSE or a lost connection: nothing may be sent
        self._abort: Error | None = None
        self._data = opened.data
        self._incoming: Incoming | None = None
        self._consumed = 0
        self._decoded = 0  # messages of a streamed request decoded so far: the next one's index
        self._grant_every = 1
        if self.spec.request_stream:
            window = link.client_window
            self._incoming = Incoming()
            self._grant_every = max(1, window // 2)
            if opened.data is not None:
                self.on_message(opened.data)
        self.request = (StreamingRequest if self._incoming is not None else Request)(self)

    @property
    def stats(self) -> list[Any]:
        """Counts so far: messages in, messages out, bytes in, bytes out, seconds spent waiting
        for credit. Read-only, for observers."""
        return self._stats

    # Fed by the connection's receive loop; never await.

    def on_message(self, data: msgspec.Raw) -> None:
        if self._incoming is not None:
            self._count_in(data)
            error = self._incoming.put(data)
            if error is not None:
                self.abort(error)

    def _count_in(self, data: msgspec.Raw) -> None:
        stats = self._stats
        stats[0] += 1
        stats[2] += len(data)

    def on_end(self) -> None:
        if self._incoming is not None:
            self._incoming.end()

    def cancel(self) -> None:
        """The client sent CLOSE or went away: stop, and send nothing more."""
        self.closed = True
        self.cancelled = True
        self._stop()

    def abort(self, error: Error) -> None:
        """End the call with `error` (sent to the client), whatever the handler is doing."""
        if self._abort is None:
            self._abort = error
        self._stop()

    def _stop(self) -> None:
        """Stop the hooks and the handler, wherever they are: the one way a call is stopped."""
        self._stop_requested = True
        task = self.task
        if task is None or not self._serving:
            return  # not started yet (it will not start), or past the hooks and the handler
        if task is asyncio.current_task():
            # From the call itself (a message that failed validation): cancelling now would hit
            # whatever it awaits next, the final write included; cancel it at its next await
            # inside the handler instead, if it is still there once this step is over.
            task.get_loop().call_soon(self._cancel_task)
        else:
            self._cancel_task()

    def _cancel_task(self) -> None:
        task = self.task
        if self._serving and task is not None and not task.cancelling():
            task.cancel()

    def _deadline_passed(self) -> None:
        self._deadline_hit = True
        self._stop()

    # The task.

    async def run(self) -> Error | None:
        """The call's task: serve it, send its last frame, run after_request; the error that
        ended it, if any."""
        if self.deadline is not None:  # the task's context starts as the receive loop's: no deadline
            current_deadline.set(self.deadline)
        started = time.perf_counter()
        request = self.request
        error: Error | None = None
        try:
            error = await self._serve(request)
            if self._abort is not None:
                error = self._abort
            elif self.closed:
                error = Error(Code.CANCELLED, "the call was cancelled")
            elif self._deadline_hit:
                self.cancelled = True
                error = Error(Code.DEADLINE_EXCEEDED, "the call's deadline passed")
            if error is not None and not self.closed:
                await self.fail(error, functools.partial(self._map_error, request))
            # The final frame is written here, outside the call's cancel scope: nothing can cancel
            # the write, so it may go out from this task, without a hop to the writer.
            await self.link.write_now()
        finally:
            if self._incoming is not None:
                self._incoming.close()
            if self.hooks.after_request:
                with anyio.CancelScope(shield=True):
                    await self._after_request(request, error)
            self.link.call_done(self)
            observer = self.link.observer  # metrics (swill/_observe.py), or None
            if observer is not None:
                observer.call_ended(self, error, time.perf_counter() - started, self._stats)
            if access_logger.isEnabledFor(logging.INFO):
                self._log_access(error, time.perf_counter() - started)
            # The request and the response point back at the call: drop the call's end of those
            # cycles, so that reference counting frees a finished call, its task and its
            # coroutine, not the cyclic collector.
            del self.request
            self.response = None
        return error

    run_traced = traced(run)
    """`run` in a span of its own, for connections opened while a tracer provider was set."""

    async def _serve(self, request: _BaseRequest) -> Error | None:
        """Run the hooks and the handler, the part `_stop()` cancels; the error that ends the call."""
        if self._stop_requested:
            return None  # stopped before it started
        task = self.task
        if task is None:  # started eagerly (Python 3.12+): this runs inside create_task()
            task = self.task = asyncio.current_task()
            assert task is not None
        timer = None
        if self.deadline is not None:
            delay = max(0.0, self.deadline - time.monotonic())
            timer = task.get_loop().call_later(delay, self._deadline_passed)
        self._serving = True
        try:
            if self._routine:  # what _hooks_and_handler does when there are no hooks to run
                request.data = self._decode_message(self._take_data())  # type: ignore[attr-defined]
                result = await self.spec.endpoint(request)
                if not self.respond_now(result):
                    await self.respond(result)
            else:
                await self._hooks_and_handler(request)
        except DeadlinePassed:  # found before a frame went, ahead of the timer (before `Exception`)
            self._deadline_hit = self._stop_requested = True
            return None
        except Exception as exc:
            return await self._map_error(request, exc)
        except asyncio.CancelledError:
            if not self._stop_requested:
                raise  # not ours: the server is going away
            return None
        finally:
            self._serving = False
            if timer is not None:
                timer.cancel()
            if self._stop_requested and task.cancelling():
                task.uncancel()
        return None

    def _log_access(self, error: Error | None, duration: float) -> None:
        messages_in, messages_out, bytes_in, bytes_out, credit_wait = self._stats
        code = "OK" if error is None else error.code.value
        access_logger.info(
            '%s "%s" %s %.1fms',
            self.link.connection.id,
            self.spec.name,
            code,
            duration * 1000,
            extra={
                "rpc": self.spec.name,
                "call_id": self.id,
                "connection_id": self.link.connection.id,
                "code": code,
                "duration": duration,
                "messages_in": messages_in,
                "messages_out": messages_out,
                "bytes_in": bytes_in,
                "bytes_out": bytes_out,
                "credit_wait": credit_wait,
            },
        )

    async def _hooks_and_handler(self, request: _BaseRequest) -> None:
        hooks = self.hooks
        if hooks.before_request:
            await run_hooks(hooks.before_request, request)
        if hooks.before_request_metadata:
            request.metadata = await run_chain(hooks.before_request_metadata, request, request.metadata)
        incoming = self._incoming
        if incoming is None:
            assert isinstance(request, Request)
            data = self._take_data()
            if hooks.before_request_data or hooks.before_request_message:
                request.data = await self._decode(request, data)
            else:
                request.data = self._decode_message(data)
            del data
        elif not hooks.before_request_data:
            # From now on each message is decoded as it arrives. With a before_request_data chain
            # (which may await, and rewrite the bytes) each is decoded as the handler takes it.
            incoming.start(self._decode_message)
        spec = self.spec
        if spec.invoke is Invoke.ASYNC and not spec.takes_response:  # most handlers: no more awaits
            await self.respond(await spec.endpoint(request))
        else:
            await self._invoke(request)

    def _take_data(self) -> msgspec.Raw:
        """The REQUEST's message of a single-request call, counted; the call lets go of it, so
        that a large request's bytes are freed once decoded."""
        data, self._data = self._data, None
        if data is None:
            raise Error(
                Code.INVALID_ARGUMENT, f"rpc {self.spec.name!r} takes one request message; REQUEST carried no data"
            )
        stats = self._stats
        stats[0] += 1
        stats[2] += len(data)
        return data

    async def _invoke(self, request: _BaseRequest) -> None:
        spec = self.spec
        args: tuple[Any, ...] = (request,)
        if spec.takes_response:
            response = self.response = Response(self)
            args = (request, response)
        invoke = spec.invoke
        if invoke is Invoke.ASYNC:
            await self.respond(await spec.endpoint(*args))
        elif invoke is Invoke.THREAD:
            call = functools.partial(spec.endpoint, *args)
            await self.respond(await anyio.to_thread.run_sync(call, abandon_on_cancel=True))
        elif invoke is Invoke.THREAD_GEN:
            await self._stream(request, _in_thread(spec.endpoint(*args)))
        elif invoke is Invoke.ASYNC_ITER:
            await self._stream(request, await spec.endpoint(*args))
        else:
            await self._stream(request, spec.endpoint(*args))

    async def _stream(self, request: _BaseRequest, items: AsyncIterator[Any]) -> None:
        send_now, send = self.message_now, self.message
        try:
            async for item in items:
                if not send_now(item):
                    await send(item)
        finally:
            aclose = getattr(items, "aclose", None)
            if aclose is not None:
                with anyio.CancelScope(shield=True):
                    await aclose()
        await self.end()

    # Incoming messages.

    async def receive_message(self) -> Any:
        """The next message of a streamed request, decoded; `StopAsyncIteration` at its end."""
        incoming = self._incoming
        if incoming is None:
            raise StopAsyncIteration
        hooks = self.hooks
        if hooks.before_request_data:
            data = await incoming.take_raw()
        else:
            message = await incoming.get()
        self._consumed += 1
        if self._consumed >= self._grant_every:
            await self._grant()
        if hooks.before_request_data:
            try:
                return await self._decode(self.request, data)
            except Error as error:
                # A message that fails validation ends the call, even if the handler catches it.
                self.abort(error)
                raise
        if hooks.before_request_message:
            message = await run_chain(hooks.before_request_message, self.request, message)
        return message

    async def _grant(self) -> None:
        if self.link.frames.grant(self.id, self._consumed):
            self._consumed = 0
            await self.link.flush()

    async def _decode(self, request: _BaseRequest, data: msgspec.Raw) -> Any:
        """A request message through the before_request_data and before_request_message chains."""
        hooks = self.hooks
        value: Any = data
        if hooks.before_request_data:
            value = await run_chain(hooks.before_request_data, request, data)
        message = self._decode_message(value)
        if hooks.before_request_message:
            message = await run_chain(hooks.before_request_message, request, message)
        return message

    def _decode_message(self, value: Any) -> Any:
        """`value` (bytes as they came, or what a before_request_data hook made of them) decoded
        into the handler's type.

        Raises:
            Error: `INVALID_ARGUMENT`, with a `{"path", "message"}` per problem in `data`, and in
                a streamed request the message's `"index"` (from 0) in each and in the text.
        """
        codec = self.spec.request_codec
        try:
            if isinstance(value, (bytes, msgspec.Raw)):
                return codec.decode(value)
            return codec.convert(value)
        except InvalidData as exc:
            first = exc.errors[0] if exc.errors else {"path": "$", "message": "invalid"}
            errors: list[dict[str, Any]] = list(exc.errors)
            what = "invalid request message"
            if self._incoming is not None:  # messages are decoded in order: this one's index
                what = f"invalid request message at index {self._decoded} of the stream"
                errors = [{**error, "index": self._decoded} for error in errors]
            raise Error(Code.INVALID_ARGUMENT, f"{what}: {first['message']} at {first['path']}", data=errors) from None
        finally:
            self._decoded += 1

    async def _after_request(self, request: _BaseRequest, error: Error | None) -> None:
        if self.hooks.after_request:
            await run_each("after_request", self.hooks.after_request, request, error)

    async def _map_error(self, request: _BaseRequest, exc: Exception) -> Error:
        if isinstance(exc, Error):
            return exc
        handler = self.link.find_exception_handler(exc)
        if handler is not None:
            try:
                result = handler(request, exc)
                if hasattr(result, "__await__"):
                    result = await result
            except Error as raised:
                return raised
            except Exception as again:
                exc = again
            else:
                if isinstance(result, Error):
                    return result
                exc = TypeError(f"exception handler {handler!r} returned {result!r}, not a swill.Error")
        logger.error("error in rpc %s (call %d)", self.spec.name, self.id, exc_info=exc)
        data = None
        if self.link.debug:
            data = {"traceback": "".join(traceback.format_exception(exc))}
        return Error(Code.INTERNAL, "internal error", data=data)


async def _in_thread(items: Iterator[Any]) -> AsyncIterator[Any]:
    """Iterate a blocking iterator, each step in a worker thread."""
    step: Callable[[], Any] = functools.partial(next, items, _END)
    try:
        while True:
            item = await anyio.to_thread.run_sync(step, abandon_on_cancel=True)
            if item is _END:
                return
            yield item
    finally:
        close = getattr(items, "close", None)
        if close is not None:
            with contextlib.suppress(Exception):
                close()
