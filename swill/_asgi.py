"""The ASGI WebSocket I/O for one connection: accept, feed the protocol core, write its output.

Rules:

1. One receive loop per connection, in the connection's own task, feeds every message to the
   sans-I/O `ServerProtocol` and dispatches its events without awaiting on a call's behalf; each
   call is one task. The connection ends only after every call it started (`_wait_idle`). It
   yields to the loop after `YIELD_EVERY` messages read without waiting: a client that floods
   frames, which the ASGI server hands over a socket read's worth at a time (tens of thousands of
   small ones), can't keep the other connections waiting until it has all been read.
2. One writer at a time sends what the protocol queued, in order: a call writing its final frame
   itself (`write_now`) when no one else writes, outside the call's stoppable part, so that no
   cancellation can drop frames half-written; otherwise the connection's writer task, which lives
   only while there is something to write (started by a producer that can't write itself, and
   gone once the queue is empty). The connection's task writes HELLO itself, before it reads.
3. Bounded by construction: the bytes queued for the socket (`buffered_bytes`: queued in the
   protocol plus taken by the writer and not yet handed to the ASGI server) stay under
   `SEND_HIGH_WATER` plus one frame. A producer over the mark waits (`room`) whatever its credit,
   before it queues; producers get room in turn (one that got it and waits again goes behind
   those that waited before it, so a stream that never awaits can't keep room from the others).
   The receive loop, whose replies (PONG, refusals) are queued as it reads,
   waits after queuing over the mark until the writer has brought the queue under it once
   (`flush`): it stops reading a client that stops reading, as TCP would, yet a stream that
   refills the queue as fast as the socket takes it can't keep the client's next message unread.
   A connection whose writer cannot finish (a client that stopped reading) is abandoned after a
   bounded wait when it is closed: its task is cancelled, and its calls with it.
4. Refusals follow docs/protocol.md: a bad subprotocol is refused before accept (HTTP 403); a refused
   Origin is accepted and at once closed with 4403 and the reason, which a browser shows and an
   HTTP status it never sees would not; a hook's `Error` accepts and at once closes with 4000 +
   an HTTP-like status.
5. What an idle connection holds is its own task, waiting in `receive`, and a few small objects:
   plain asyncio (no task group or cancel scope), and the events producers and closers wait on
   are made when one waits.
"""

from __future__ import annotations

import asyncio
import bisect
import logging
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, Final

import anyio

from ._auth import Authenticator
from ._call import ServerCall
from ._connection import Connection
from ._errors import Code, Error
from ._hooks import run_each, run_hooks
from ._protocol import (
    SUBPROTOCOL,
    AuthReceived,
    CallCancelled,
    CallFailed,
    CallOpened,
    CreditGranted,
    EndOfStream,
    MessageReceived,
    ServerProtocol,
)
from ._responder import YIELD_EVERY
from ._telemetry import tracing_configured

if TYPE_CHECKING:
    from starlette.types import Message, Receive, Scope, Send

    from ._app import Route, Swill
    from ._hooks import ConnectionHooks

__all__ = ["CLOSE_CODES", "SEND_HIGH_WATER", "ConnectionHandler"]

logger: Final = logging.getLogger("swill")
connection_logger: Final = logging.getLogger("swill.connection")
protocol_logger: Final = logging.getLogger("swill.protocol")

CLOSE_CODES: Final = {
    Code.UNAUTHENTICATED: 4401,
    Code.PERMISSION_DENIED: 4403,
    Code.RESOURCE_EXHAUSTED: 4429,
}
"""Close codes for connections a hook refuses; any other code closes with 4400."""

SEND_HIGH_WATER: Final = 64 << 10
"""Bytes a connection may have queued for its socket before producers wait: with one frame more,
the bound on what Swill buffers per connection (docs/deployment.md)."""

CLOSE_LINGER: Final = 1.0
"""Seconds a closing connection waits for its writer before it gives up on the socket."""


def close_reason(text: str) -> str:
    """`text` cut to the 123 bytes of UTF-8 a close frame holds, on a character boundary."""
    data = text.encode()
    return text if len(data) <= 123 else data[:123].decode(errors="ignore")


class ConnectionHandler:
    """Serves one WebSocket connection."""

    __slots__ = (
        "_abandoned",
        "_close_with",
        "_closed",
        "_closing",
        "_idle",
        "_receive",
        "_room",
        "_send",
        "_task",
        "_turns",
        "_unsent",
        "_writer",
        "_writing",
        "app",
        "authenticator",
        "calls",
        "connection",
        "frames",
        "high_water",
        "loop",
        "observer",
        "protocol",
        "scope",
        "traced",
    )

    def __init__(self, app: Swill, scope: Scope, receive: Receive, send: Send) -> None:
        self.app = app
        self.scope = scope
        self._receive = receive
        self._send = send
        self.connection = Connection(scope, self)
        chain = app.connection_hooks.authenticate
        self.protocol = ServerProtocol(app.rpcs, app.settings, check_auth=bool(chain))
        self.frames = self.protocol  # what calls see of it (CallLink.frames)
        self.authenticator = Authenticator(self, chain, app.auth_timeout) if chain else None
        self.calls: dict[int, ServerCall] = {}
        self.loop = asyncio.get_running_loop()  # Swill serves on asyncio (uvloop included)
        self.high_water = SEND_HIGH_WATER
        self.traced = tracing_configured()
        self.observer = app.observer
        self._closed = False
        self._close_with: tuple[int, str] | None = None
        # Who writes (rule 2): the writer task while it lives, or a call in `write_now`.
        self._writer: asyncio.Task[None] | None = None
        self._writing = False
        self._unsent = 0  # bytes the writer took from the protocol and has not sent yet
        # What waits, made by the first to wait: producers over `SEND_HIGH_WATER` (`_room`), the
        # end of the last call (`_idle`), the close frame's write (`_closing`).
        self._room: list[tuple[int, asyncio.Future[None]]] | None = None  # by turn
        self._turns = 0  # the last turn given to a waiter for room
        self._idle: asyncio.Event | None = None
        self._closing: asyncio.Event | None = None
        self._task: asyncio.Task[Any] | None = None  # the connection's own task, while it serves
        self._abandoned = False

    async def run(self) -> None:
        """Serve the connection, from the handshake to the end of its last call."""
        app = self.app
        connection = self.connection
        app._handlers_by_connection[connection] = self
        try:
            if not await self._handshake():
                return
            hooks = app.connection_hooks
            try:
                if await self._accept(hooks):
                    app.connections.add(connection)
                    self.protocol.send_hello()
                    await self.write_now()  # HELLO, the first frame, from this task: nothing else writes yet
                    self._log("open")
                    await self._serve()
            finally:
                app.connections.discard(connection)
                self._log("close")
                if self.protocol.violations:
                    self._log_violations()
                if hooks.after_connection:
                    with anyio.CancelScope(shield=True):  # cleanup, even in an anyio host's cancelled scope
                        await run_each("after_connection", hooks.after_connection, connection)
        finally:
            app._handlers_by_connection.pop(connection, None)

    async def _handshake(self) -> bool:
        """Take the handshake; refuse it (and return `False`) as docs/protocol.md says (rule 4)."""
        message = await self._receive()
        if message["type"] != "websocket.connect":
            return False
        if self.app.draining:  # the server is going away: the client reconnects elsewhere
            await self._send(self._accept_message())
            await self._send({"type": "websocket.close", "code": 1012, "reason": "server shutting down"})
            return False
        refusal = self.app._check_handshake(self.connection)
        if refusal is not None:
            logger.info("refused connection from %s: %s", _peer(self.connection), refusal)
            await self._send({"type": "websocket.close", "code": 1008, "reason": refusal})
            return False
        refusal = self.app._check_origin(self.connection)
        if refusal is not None:
            logger.info("refused connection from %s: %s", _peer(self.connection), refusal)
            await self._send(self._accept_message())
            await self._send({"type": "websocket.close", "code": 4403, "reason": close_reason(refusal)})
            return False
        return True

    async def _accept(self, hooks: ConnectionHooks) -> bool:
        """Run the before_connection and before_accept chains and accept; close at once (and
        return `False`) when one refused, or when a drain began meanwhile."""
        error = None
        if hooks.before_connection or hooks.before_accept:
            error = await self._run_connection_hooks(hooks.before_connection, hooks.before_accept)
        await self._send(self._accept_message())
        if error is None and not self.app.draining:
            return True
        if error is None:  # a drain began while the hooks ran: as for a connection after it
            await self._send({"type": "websocket.close", "code": 1012, "reason": "server shutting down"})
            return False
        code = CLOSE_CODES.get(error.code, 4400)
        await self._send({"type": "websocket.close", "code": code, "reason": close_reason(error.message)})
        return False

    async def _serve(self) -> None:
        """Serve until the client goes and every call has ended; `_abandon` cuts it short by
        cancelling this task."""
        task = self._task = asyncio.current_task()
        assert task is not None
        authenticator = self.authenticator
        if authenticator is not None:
            authenticator.start()
        try:
            try:
                await self._receive_loop()
            finally:  # also when this task is cancelled
                if authenticator is not None:
                    authenticator.stop()
                for call in list(self.calls.values()):
                    call.cancel()
            await self._wait_idle()
            self._set_closed()
            if self._writer is not None:
                await self._writer  # it ends at once: the connection is closed
        except asyncio.CancelledError:
            if not self._abandoned or task.cancelling() > 1:
                raise  # not ours: the server is going away
            task.uncancel()
            await self._wait_idle(CLOSE_LINGER)  # the calls were cancelled: let them see it
        finally:
            self._task = None
            await self._stop_tasks()

    async def _stop_tasks(self) -> None:
        """Cancel the writer and the authenticator's task, if any, and wait for them: the
        connection leaves no task of its own behind."""
        tasks = [] if self._writer is None else [self._writer]
        if self.authenticator is not None and self.authenticator.task is not None:
            tasks.append(self.authenticator.task)
        if tasks:
            for task in tasks:
                task.cancel()
            await asyncio.wait(tasks)

    async def _wait_idle(self, at_most: float | None = None) -> None:
        """Wait until every call has ended (`call_done`), or for `at_most` seconds."""
        if not self.calls:
            return
        if self._idle is None:
            self._idle = asyncio.Event()
        idle = self._idle
        if at_most is None:
            await idle.wait()
            return
        try:
            async with asyncio.timeout(at_most):
                await idle.wait()
        except TimeoutError:
            pass

    def _accept_message(self) -> dict[str, Any]:
        accept: dict[str, Any] = {"type": "websocket.accept"}
        if SUBPROTOCOL in self.connection.subprotocols:
            accept["subprotocol"] = SUBPROTOCOL
        return accept

    def _log(self, event: str) -> None:
        if connection_logger.isEnabledFor(logging.INFO):  # not even a call when the logger is off
            connection = self.connection
            connection_logger.info(
                "%s %s %s",
                connection.id,
                event,
                _peer(connection),
                extra={"event": event, "connection_id": connection.id, "client": connection.client},
            )

    def _log_violations(self) -> None:
        """One line per kind of protocol error the client made, with a count: a client's mistakes
        fill the log in proportion to clients, not messages, and carry no traceback."""
        connection = self.connection
        for kind, violation in self.protocol.violations.items():
            protocol_logger.info(
                "%s %s: %d %s%s, first: %s",
                connection.id,
                connection.client,
                violation.count,
                kind,
                "" if violation.count == 1 else "s",
                violation.first,
                extra={"connection_id": connection.id, "kind": kind, "count": violation.count},
            )

    async def _run_connection_hooks(self, *chains: tuple[Any, ...]) -> Error | None:
        try:
            for chain in chains:
                if chain:
                    await run_hooks(chain, self.connection)
        except Error as error:
            return error
        except Exception:
            logger.exception("connection hook failed")
            return Error(Code.INTERNAL, "internal error")
        return None

    async def _receive_loop(self) -> None:
        receive = self._receive
        protocol = self.protocol
        # `_take` holds each message and its events: this frame, which waits for the next
        # message for as long as the connection is idle, holds none of them.
        unyielded = 0
        while self._take(await receive()):
            if protocol.has_data_to_send():
                await self.flush()
            unyielded += 1
            if unyielded >= YIELD_EVERY:
                unyielded = 0
                await asyncio.sleep(0)

    def _take(self, message: Message) -> bool:
        """Feed one ASGI message to the protocol and dispatch its events; `False` at the end."""
        kind = message["type"]
        if kind == "websocket.receive":
            protocol = self.protocol
            data = message.get("bytes")
            seen = protocol.violation_count
            if data is not None:
                protocol.receive_data(data)
            else:
                protocol.receive_text(message.get("text") or "")
            if protocol.violation_count != seen and protocol_logger.isEnabledFor(logging.DEBUG):
                self._debug_violation()
            dispatch = self._dispatch
            for event in protocol.events_received():
                dispatch(event)
        elif kind == "websocket.disconnect":
            self._set_closed()
            return False
        return True

    def _debug_violation(self) -> None:
        assert self.protocol.last_violation is not None
        kind, message = self.protocol.last_violation
        protocol_logger.debug("%s %s: %s", self.connection.id, kind, message)

    def _dispatch(self, event: object) -> None:
        kind = type(event)  # events are final classes: `is` is a pointer compare, not a call
        if kind is CallOpened:
            self._open(event)  # type: ignore[arg-type]
        elif kind is AuthReceived:
            if self.authenticator is not None:
                self.authenticator.received(event.credentials)  # type: ignore[attr-defined]
        else:
            call = self.calls.get(event.id)  # type: ignore[attr-defined]
            if call is None:
                return
            if kind is MessageReceived:
                call.on_message(event.data)  # type: ignore[attr-defined]
            elif kind is CreditGranted:
                call.on_credit()
            elif kind is EndOfStream:
                call.on_end()
            elif kind is CallCancelled:
                call.cancel()
            elif kind is CallFailed:
                call.abort(event.error)  # type: ignore[attr-defined]

    async def auth_passed(self) -> None:
        """Credentials passed: serve the calls that waited for them (docs/protocol.md, "Credentials")."""
        protocol = self.protocol
        if not protocol.authenticated:
            protocol.accept_auth()
            for event in protocol.events_received():
                self._dispatch(event)
            await self.flush()

    def _open(self, event: CallOpened) -> None:
        """The one place a call starts (its end is `call_done`)."""
        route: Route = event.info  # type: ignore[assignment]  # the core's registry is `app.rpcs`
        call = ServerCall(self, route, event)
        self.calls[event.id] = call
        # A plain asyncio task: a fifth of what a task group's start_soon costs. The connection
        # still waits for every call (`_wait_idle`) before it ends, and holds the task through the
        # call until then. Where asyncio can (3.12+), the task starts eagerly: a call that does not
        # wait (most unary calls) runs to its end right here, without a trip through the event loop.
        coroutine = call.run_traced() if self.traced else call.run()
        if _eager_task is None:
            call.task = self.loop.create_task(coroutine)
        else:
            call.task = _eager_task(self.loop, coroutine)

    # The call link (`swill._call.CallLink`): all a call sees of its connection.

    def call_done(self, call: ServerCall) -> None:
        """The one place a call ends, however it ended (its start is `_open`)."""
        self.calls.pop(call.id, None)
        self.protocol.forget(call.id)
        if not self.calls and self._idle is not None:
            self._idle.set()  # the connection waits for its last call
            self._idle = None

    @property
    def client_window(self) -> int:
        return self.protocol.settings.client_window

    @property
    def debug(self) -> bool:
        return self.app.debug

    def find_exception_handler(self, exc: BaseException) -> Callable[..., Any] | None:
        return self.app.find_exception_handler(exc)

    # The writer (rule 2) and the bound (rule 3).

    @property
    def buffered_bytes(self) -> int:
        """Bytes queued for the socket: in the protocol, or taken by the writer and not yet sent."""
        return self.protocol.buffered_size() + self._unsent

    async def flush(self) -> None:
        """Have the writer send what the protocol has queued; over the high-water mark, wait
        until the writer has brought it under (or the connection closed).

        Once, not for as long as it is over: a stream that refills the queue as fast as the
        socket takes it must not keep the receive loop from the client's next message (its
        CLOSE, its disconnect). The bound holds all the same: whoever queues next waits first.
        """
        if self._closed or not self.protocol.has_data_to_send():
            self._drop_if_closed()
            return
        if self._writer is None and not self._writing:
            self._writer = self.loop.create_task(self._write_queued())
        if self.buffered_bytes > self.high_water:
            self._turns += 1
            await self._wait_for_room(self._turns)

    def wake_writer(self) -> None:
        """Have the writer send what is queued (a producer checks the mark before it queues)."""
        if self._writer is None and not self._writing:
            if self._closed:
                self._drop_if_closed()
            else:
                self._writer = self.loop.create_task(self._write_queued())

    async def room(self) -> None:
        """Wait until the connection is under its high-water mark (or closed)."""
        turn = 0
        while not self._closed and self.buffered_bytes > self.high_water:
            self.wake_writer()
            if not turn:  # kept while it waits again: those woken with it don't pass it
                self._turns += 1
                turn = self._turns
            await self._wait_for_room(turn)

    async def _wait_for_room(self, turn: int) -> None:
        waiters = self._room
        if waiters is None:
            waiters = self._room = []
        waiter = self.loop.create_future()
        bisect.insort(waiters, (turn, waiter), key=_turn)
        await waiter

    def _wake_producers(self) -> None:
        """Wake those waiting for room, in turn: the first to run may take it all."""
        waiters = self._room
        if waiters is not None:
            self._room = None
            for _, waiter in waiters:
                if not waiter.done():  # else cancelled while it waited
                    waiter.set_result(None)

    async def write_now(self) -> None:
        """Write what is queued from the calling task if no one writes, else leave it to the one
        who does. Only for tasks that nothing cancels while they write."""
        protocol = self.protocol
        if self._writing or self._writer is not None or self._closed or not protocol.has_data_to_send():
            self._drop_if_closed()
            return  # whoever writes goes on until the queue is empty: this goes out too
        self._writing = True
        out = protocol.data_to_send()
        try:
            if len(out) == 1:  # a unary call's response: no loop, no coroutine of `_send_all`'s
                message = out[0]
                self._unsent = len(message)
                await self._send({"type": "websocket.send", "bytes": message})
            else:
                await self._send_all(out)
        except Exception:  # the socket is gone; the receive loop sees the disconnect
            self._set_closed()
        finally:
            self._writing = False
            self._unsent = 0
            if self._room is not None:
                self._wake_producers()
            if (self._close_with is not None or protocol.has_data_to_send()) and not self._closed:
                self._writer = self.loop.create_task(self._write_queued())

    async def _send_all(self, out: list[bytes]) -> None:
        send = self._send
        if len(out) == 1:
            message = out[0]
            self._unsent = len(message)
            await send({"type": "websocket.send", "bytes": message})
            self._unsent = 0
            return
        self._unsent = sum(map(len, out))
        for message in out:
            await send({"type": "websocket.send", "bytes": message})
            self._unsent -= len(message)
            if self._room is not None and self.buffered_bytes <= self.high_water:
                self._wake_producers()

    async def _write_queued(self) -> None:
        """The writer task: write frames in the order the protocol queued them until none is left
        (then the close frame, when the connection closes), and end."""
        protocol = self.protocol
        try:
            while not self._closed:
                out = protocol.data_to_send()
                if out:
                    await self._send_all(out)
                elif self._close_with is not None:
                    code, reason = self._close_with
                    await self._send({"type": "websocket.close", "code": code, "reason": close_reason(reason)})
                    self._set_closed()
                else:
                    break
        except Exception:  # the socket is gone; the receive loop sees the disconnect
            self._set_closed()
        finally:
            self._writer = None
            self._unsent = 0
            if self._room is not None:
                self._wake_producers()

    def _set_closed(self) -> None:
        """Nothing more is written: the socket is gone, closed or given up on."""
        self._closed = True
        self._drop_if_closed()
        if self._room is not None:
            self._wake_producers()
        if self._closing is not None:
            self._closing.set()

    def _drop_if_closed(self) -> None:
        """Once nothing more is written, what calls still queue until they are cancelled (a stream
        that never awaits, until the receive loop reads the disconnect) is dropped, not kept."""
        if self._closed and self.protocol.has_data_to_send():
            self.protocol.data_to_send()

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close the WebSocket after the frames already queued; open calls are cancelled.

        A writer that can't finish within `CLOSE_LINGER` (the client stopped reading) is given up
        on: the connection ends without its close frame, and the ASGI server closes the socket.
        """
        if self._close_with is None and not self._closed:
            self._close_with = (code, reason)
            closing = self._closing = asyncio.Event()
            self.wake_writer()
            try:
                async with asyncio.timeout(CLOSE_LINGER):
                    await closing.wait()
            except TimeoutError:
                self._abandon()
        for call in list(self.calls.values()):
            call.cancel()

    def _abandon(self) -> None:
        self._set_closed()
        if self._task is not None and not self._abandoned:
            self._abandoned = True
            self._task.cancel()

    async def drain(self, grace: float) -> None:
        """Send GOAWAY, let open calls run for `grace` seconds, end the rest with UNAVAILABLE, close.
        A connection not accepted yet is left alone: it closes with 1012 once its hooks ran."""
        if self._closed or self.connection not in self.app.connections:
            return
        self.protocol.send_goaway("server shutting down")
        self.wake_writer()  # not `flush`: a writer stuck on a client that stopped reading can't delay the drain
        await self._wait_idle(grace)
        for call in list(self.calls.values()):
            call.abort(Error(Code.UNAVAILABLE, "the server shut down before the call ended"))
        await self._wait_idle(CLOSE_LINGER)
        await self.close(1001, "server shutting down")


def _peer(connection: Connection) -> str:
    """`host:port` of the client, as uvicorn writes it in its own log lines."""
    client = connection.client
    return "unknown" if client is None else f"{client.host}:{client.port}"


def _turn(waiter: tuple[int, asyncio.Future[None]]) -> int:
    return waiter[0]


_eager_task: Final[Callable[[asyncio.AbstractEventLoop, Coroutine[Any, Any, Any]], asyncio.Task[Any]] | None] = (
    getattr(asyncio, "eager_task_factory", None)
)
"""Create a call's task eagerly started, on Python 3.12+; `None` where asyncio can't."""
