"""One WebSocket connection of a `Client`: the sans-I/O `ClientProtocol`, a reader, a writer.

Rules:

1. One reader task feeds every message to `ClientProtocol` and hands its events to the calls
   without awaiting (the calls queue them).
2. Frames go out in the order the protocol queued them, written by one task at a time: the task
   that queued them (`flush`, no hop through another task on the way out), or the writer task,
   woken for frames queued where nothing can await (`cancel()`, credit) and for what a cancelled
   flush left. A transport writes a message before it waits for room, so cancelling a flush
   never cuts a frame; what it had not reached yet is left to the writer task.
3. The connection takes calls at once, without waiting for HELLO (docs/protocol.md, "HELLO and GOAWAY"): AUTH,
   when there are credentials, is its first frame and REQUESTs follow it. Until HELLO arrives
   the protocol's default limits apply; HELLO's replace them.
4. At most `max_concurrent_calls` are open at once; more wait for a slot, in order.
   After GOAWAY or a lost connection, waiters go back to the client for a new connection: nothing
   was sent for them yet.
5. A lost connection fails its open calls with `UNAVAILABLE`; a 44xx close (a refusal,
   docs/protocol.md, "Malformed frames, limits and refusals") fails them with the refusal's code.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

from .._errors import Code, Error
from .._protocol import (
    CallFailed,
    ClientProtocol,
    CreditGranted,
    EndOfStream,
    ErrorReceived,
    GoAwayReceived,
    HelloReceived,
    MessageReceived,
    MetadataReceived,
    PongReceived,
    ResponseReceived,
    Settings,
)
from ._transport import TransportClosed, TransportConnection

if TYPE_CHECKING:
    from ._call import Call

__all__ = ["NO_CREDENTIALS", "REFUSAL_CODES", "Connection", "close_error"]

logger: Final = logging.getLogger("swill.client")

REFUSAL_CODES: Final = {
    4401: Code.UNAUTHENTICATED,
    4403: Code.PERMISSION_DENIED,
    4429: Code.RESOURCE_EXHAUSTED,
}
"""What a 44xx close code says, as a `Code`; 4400 and every other 44xx is `FAILED_PRECONDITION`
(docs/client-behaviour.md)."""

NO_CREDENTIALS: Final[Any] = object()
"""Marks a connection without credentials: it sends no AUTH."""

CLOSE_TIMEOUT: Final = 10.0
"""Seconds `close()` waits for the transport to close (which has a closing timeout of its own)."""


def close_error(code: int, reason: str) -> Error:
    """The error for calls on a connection that closed with `code` and `reason`."""
    if 4400 <= code <= 4499:  # the message is the server's reason, as sent
        return Error(
            REFUSAL_CODES.get(code, Code.FAILED_PRECONDITION),
            reason or f"the server refused the connection (close code {code})",
            {"close_code": code},
        )
    if code == 1006:
        return Error(Code.UNAVAILABLE, "the connection was lost", {"close_code": code})
    detail = f", {reason}" if reason else ""
    return Error(Code.UNAVAILABLE, f"the connection closed (code {code}{detail})", {"close_code": code})


class Connection:
    """One open connection and the calls on it.

    Args:
        transport: The open WebSocket.
        on_closed: Called once when the connection closes, however it closes.
        on_goaway: Called when the server sends GOAWAY.
        on_hello: Called when the server's HELLO arrives.
        max_receive_size: The largest message accepted from the server (`ClientProtocol`).
    """

    def __init__(
        self,
        transport: TransportConnection,
        *,
        on_closed: Callable[[Connection], None],
        on_goaway: Callable[[Connection], None],
        on_hello: Callable[[Connection], None] | None = None,
        max_receive_size: int | None = None,
    ) -> None:
        self.loop = asyncio.get_running_loop()
        self.transport = transport
        self.protocol = ClientProtocol(max_receive_size)
        self.calls: dict[int, Call[Any]] = {}
        self.accepting = True
        self.closed = False
        self.goaway = False
        self.error: Error | None = None
        self._on_closed = on_closed
        self._on_goaway = on_goaway
        self._on_hello_cb = on_hello
        self.served = False  # a call got a frame: the server took this connection's credentials
        self._free = self.protocol.settings.max_concurrent_calls  # the default, until HELLO
        self._slot_waiters: deque[asyncio.Future[bool]] = deque()
        self._wake = asyncio.Event()
        self._writing = False  # a task is writing `_pending` and what the protocol queues
        self._pending: deque[bytes] = deque()
        self._hello: asyncio.Future[None] = self.loop.create_future()
        self._hello_timer: asyncio.TimerHandle | None = None
        self._pings: dict[int, asyncio.Future[None]] = {}
        self._nonce = 0
        self._tasks: list[asyncio.Task[None]] = []
        self._handlers: dict[type, Callable[[Any], None]] = {
            MessageReceived: self._on_message,
            ResponseReceived: self._on_response,
            EndOfStream: self._on_end,
            MetadataReceived: self._on_metadata,
            ErrorReceived: self._on_error,
            CallFailed: self._on_failed,
            CreditGranted: self._on_credit,
            HelloReceived: self._on_hello,
            PongReceived: self._on_pong,
            GoAwayReceived: self._on_goaway_frame,
        }

    def start(self, credentials: Any, hello_timeout: float | None, keepalive: float | None) -> None:
        """Start reading and writing; send AUTH first when there are `credentials`.

        Calls may start at once. A connection whose HELLO does not come within `hello_timeout`
        is given up (its calls fail with `UNAVAILABLE`).
        """
        if credentials is not NO_CREDENTIALS:
            self.protocol.send_auth(credentials)
            self._wake.set()
        self._tasks.append(self.loop.create_task(self._read(), name="swill client reader"))
        self._tasks.append(self.loop.create_task(self._write(), name="swill client writer"))
        if hello_timeout is not None:
            self._hello_timer = self.loop.call_later(hello_timeout, self._no_hello, hello_timeout)
        if keepalive is not None:
            self._tasks.append(self.loop.create_task(self._keepalive(keepalive), name="swill client keepalive"))

    def _no_hello(self, hello_timeout: float) -> None:
        if not self._hello.done():
            self.abort(Error(Code.UNAVAILABLE, f"the server sent no HELLO within {hello_timeout} s"))

    async def wait_hello(self) -> None:
        """Wait for HELLO.

        Raises:
            swill.Error: The connection closed before it (a refusal's code, or `UNAVAILABLE`).
        """
        await asyncio.shield(self._hello)

    def reauthenticate(self, credentials: Any) -> None:
        """Send AUTH with fresh credentials on this connection (its calls go on)."""
        if not self.closed:
            self.protocol.send_auth(credentials)
            self._wake.set()

    # Slots.

    def take_slot(self) -> bool:
        """Take a call slot if one is free now (and nobody waits for one)."""
        if self.accepting and self._free > 0 and not self._slot_waiters:
            self._free -= 1
            return True
        return False

    async def acquire(self) -> bool:
        """Take a call slot, waiting for one if needed; False when the connection stopped
        taking calls meanwhile (GOAWAY, closed)."""
        if not self.accepting:
            return False
        if self.take_slot():
            return True
        waiter: asyncio.Future[bool] = self.loop.create_future()
        self._slot_waiters.append(waiter)
        try:
            return await waiter
        except BaseException:
            if waiter.done() and not waiter.cancelled() and waiter.result():
                self.release()  # handed a slot just as the task was cancelled
            else:
                self._slot_waiters.remove(waiter)
            raise

    def release(self) -> None:
        """Give a slot back: to the first waiter, if any."""
        while self._slot_waiters:
            waiter = self._slot_waiters.popleft()
            if not waiter.done():
                waiter.set_result(True)
                return
        self._free += 1

    def _stop_accepting(self) -> None:
        self.accepting = False
        waiters, self._slot_waiters = self._slot_waiters, deque()
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(False)

    # Calls.

    def opened(self, call: Call[Any]) -> None:
        """A call's REQUEST was queued (the caller flushes it)."""
        assert call.id is not None
        self.calls[call.id] = call

    def closed_call(self, call: Call[Any]) -> None:
        """A call's wire life ended: free its slot; a connection past GOAWAY closes when idle."""
        if call.id is not None and self.calls.pop(call.id, None) is not None:
            self.protocol.calls.pop(call.id, None)
            if not self.closed:
                self.release()
        if not self.accepting and not self.calls and not self.closed:
            self._tasks.append(self.loop.create_task(self.close(), name="swill client close"))

    def send_close(self, id: int, reason: str | None = None) -> None:
        if not self.closed:
            self.protocol.send_close(id, reason)
            self._wake.set()

    def grant(self, id: int, n: int) -> None:
        """Grant credit, written at once when nothing else is being written: the consumer of a
        stream may not yield to the writer task before it has taken many more messages."""
        if id in self.protocol.calls and not self.closed:
            self.protocol.grant_credit(id, n)
            if self._writing or self._pending:
                self._wake.set()
                return
            send_nowait = self.transport.send_nowait
            for message in self.protocol.data_to_send():
                if self._pending or not send_nowait(message):
                    self._pending.append(message)
            if self._pending:
                self._wake.set()

    def wake(self) -> None:
        """Have the writer task write what the protocol queued (from code that can't await)."""
        self._wake.set()

    def flush_soon(self) -> bool:
        """Write what the protocol queued without waiting, if the transport has room now.

        Returns:
            True when it is on its way (or a writing task has it); False when the caller must
            `await flush()`.
        """
        if self._writing or self.closed:
            return True
        pending = self._pending
        if pending:
            return False
        send_soon = self.transport.send_soon
        for message in self.protocol.data_to_send():
            if pending or not send_soon(message):
                pending.append(message)
        return not pending

    async def flush(self) -> None:
        """Write what the protocol queued, from the calling task (unless one is writing already:
        it writes these too). Waits while the socket is slow, which is the senders' backpressure."""
        if self._writing or self.closed:
            return
        self._writing = True
        pending = self._pending
        send = self.transport.send
        try:
            while not self.closed:
                if not pending:
                    pending.extend(self.protocol.data_to_send())
                    if not pending:
                        return
                await send(pending.popleft())
        except TransportClosed:
            pass  # the reader sees the close and fails the calls
        except BaseException:
            self._wake.set()  # cancelled while the socket was slow: the writer task goes on
            raise
        finally:
            self._writing = False

    async def ping(self, wait: float | None) -> float:
        """Send PING and wait for its PONG. Returns the round trip in seconds.

        Raises:
            TimeoutError: No PONG within `wait` seconds.
            swill.Error: The connection closed meanwhile.
        """
        self._nonce += 1
        nonce = self._nonce
        pong = self._pings[nonce] = self.loop.create_future()
        started = self.loop.time()
        self.protocol.send_ping(nonce)
        await self.flush()
        try:
            async with asyncio.timeout(wait):
                await pong
        finally:
            self._pings.pop(nonce, None)
        return self.loop.time() - started

    # Tasks.

    async def _read(self) -> None:
        receive_batch = self.transport.receive_batch
        protocol = self.protocol
        handlers = self._handlers
        calls = self.calls
        try:
            while True:
                # A batch's messages go through the protocol, then their events to the calls:
                # the handlers neither feed the protocol nor await, so the order is the same.
                for message in await receive_batch():
                    if isinstance(message, bytes):
                        protocol.receive_data(message)
                    else:
                        protocol.receive_text(message)
                for event in protocol.events_received():
                    if type(event) is MessageReceived:  # `_on_message`, inlined: once a message
                        self.served = True
                        call = calls.get(event.id)
                        if call is not None and not call._settled:
                            call._inbox.append(event.data)
                            if call._readers:
                                call._wake()
                    else:
                        handlers[type(event)](event)
        except TransportClosed as exc:
            self.lost(close_error(exc.code, exc.reason))
        except Exception as exc:
            logger.exception("the connection's reader failed")
            self.lost(Error(Code.UNAVAILABLE, f"the connection failed: {exc!r}"))

    async def _write(self) -> None:
        wake = self._wake
        try:
            while True:
                await wake.wait()
                wake.clear()
                if self.closed:
                    return
                await self.flush()
        except Exception as exc:
            logger.exception("the connection's writer failed")
            self.abort(Error(Code.UNAVAILABLE, f"the connection failed: {exc!r}"))

    async def _keepalive(self, interval: float) -> None:
        while not self.closed:
            await asyncio.sleep(interval)
            try:
                await self.ping(interval)
            except TimeoutError:
                self.abort(Error(Code.UNAVAILABLE, f"no PONG within {interval} s: the connection is dead"))
                return
            except Error:
                return

    # Events from the protocol.

    def _on_message(self, event: MessageReceived) -> None:
        self.served = True
        call = self.calls.get(event.id)
        if call is not None and not call._settled:  # the hottest path: straight into the inbox
            call._inbox.append(event.data)
            if call._readers:
                call._wake()

    def _on_response(self, event: ResponseReceived) -> None:
        self.served = True
        call = self.calls.get(event.id)
        if call is not None:
            call._on_response(event.data, event.leading, event.trailing)

    def _on_end(self, event: EndOfStream) -> None:
        self.served = True
        call = self.calls.get(event.id)
        if call is not None:
            call._on_end(event.metadata)

    def _on_metadata(self, event: MetadataReceived) -> None:
        self.served = True
        call = self.calls.get(event.id)
        if call is not None:
            call._on_metadata(event.metadata)

    def _on_error(self, event: ErrorReceived) -> None:
        if event.id == 0:
            logger.warning("the server reported a connection error: %s", event.error)
            return
        self.served = True
        call = self.calls.get(event.id)
        if call is not None:
            call._on_error(event.error)

    def _on_failed(self, event: CallFailed) -> None:
        self._wake.set()  # the protocol queued CLOSE for the call: the server stops its handler
        call = self.calls.get(event.id)
        if call is not None:
            logger.warning("call %s #%d: %s", call.rpc, event.id, event.error.message)
            call._on_error(event.error)

    def _on_credit(self, event: CreditGranted) -> None:
        call = self.calls.get(event.id)
        if call is not None:
            call._on_credit()

    def _on_hello(self, event: HelloReceived) -> None:
        if not self._hello.done():
            # The default limit applied until now; the server's replaces it.
            self._free += self.protocol.settings.max_concurrent_calls - Settings().max_concurrent_calls
            self._hello.set_result(None)
            if self._hello_timer is not None:
                self._hello_timer.cancel()
            if self._on_hello_cb is not None:
                self._on_hello_cb(self)

    def _on_pong(self, event: PongReceived) -> None:
        pong = self._pings.get(event.nonce)
        if pong is not None and not pong.done():
            pong.set_result(None)

    def _on_goaway_frame(self, event: GoAwayReceived) -> None:
        self.goaway = True
        self._stop_accepting()
        self._on_goaway(self)
        if not self.calls and not self.closed:
            self._tasks.append(self.loop.create_task(self.close(), name="swill client close"))

    # Closing.

    def lost(self, error: Error) -> None:
        """The connection is over: fail its calls with `error` and tell the client."""
        if self.closed:
            return
        self.closed = True
        self.error = error
        self._stop_accepting()
        if self._hello_timer is not None:
            self._hello_timer.cancel()
        if not self._hello.done():
            self._hello.set_exception(error)
            self._hello.exception()  # retrieved: `start` raises it, if it is still waiting
        for call in list(self.calls.values()):
            call._fail(error)
        self.calls.clear()
        for pong in self._pings.values():
            if not pong.done():
                pong.set_exception(error)
                pong.exception()
        self._wake.set()
        self._on_closed(self)

    def abort(self, error: Error) -> None:
        """Give up on the connection now (a dead peer) and close the socket in the background."""
        self.lost(error)
        self._tasks.append(self.loop.create_task(self.close(1011, error.message[:120]), name="swill client close"))

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close the connection; calls still open fail with `CANCELLED`."""
        self.lost(Error(Code.CANCELLED, "the client closed the connection"))
        try:
            async with asyncio.timeout(CLOSE_TIMEOUT):
                await self.transport.close(code, reason)
        except Exception:
            logger.debug("closing the connection failed", exc_info=True)
        current = asyncio.current_task()
        tasks = [task for task in self._tasks if task is not current]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
