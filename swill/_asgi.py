"""The ASGI WebSocket I/O for one connection: accept, feed the protocol core, write its output.

Rules:

1. One receive loop per connection feeds every message to the sans-I/O `ServerProtocol` and
   dispatches its events without awaiting on a call's behalf; each call is one task.
2. One writer at a time sends what the protocol queued, in order: the connection's writer task,
   woken by producers, or a call writing its final frame itself (`write_now`) when the writer is
   idle, outside the call's cancel scope, so that no cancellation can drop frames half-written.
3. Bounded by construction: the bytes queued for the socket (`buffered_bytes`: queued in the
   protocol plus taken by the writer and not yet handed to the ASGI server) stay under
   `SEND_HIGH_WATER` plus one frame. A producer over the mark waits (`room`) whatever its credit,
   before it queues; so does the receive loop, which then stops reading the client, as TCP would.
   A connection whose writer cannot finish (a client that stopped reading) is abandoned after a
   bounded wait when it is closed.
4. Refusals follow docs/protocol.md: a bad subprotocol is refused before accept (HTTP 403); a refused
   Origin is accepted and at once closed with 4403 and the reason, which a browser shows and an
   HTTP status it never sees would not; a hook's `Error` accepts and at once closes with 4000 +
   an HTTP-like status.
"""

from __future__ import annotations

import asyncio
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
from ._telemetry import tracing_configured

if TYPE_CHECKING:
    from starlette.types import Receive, Scope, Send

    from ._app import Route, Swill

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
        self._idle = asyncio.Event()
        self._idle.set()
        self._closed = False
        self._task_group: anyio.abc.TaskGroup | None = None
        self.loop = asyncio.get_running_loop()  # Swill serves on asyncio (uvloop included)
        # The writer task sleeps on `_wake`; producers over `SEND_HIGH_WATER` wait on `_room`,
        # which the writer sets as it hands messages to the ASGI server.
        self._wake = asyncio.Event()
        self._room = asyncio.Event()
        self._room.set()
        self._writing = False
        self._unsent = 0  # bytes the writer took from the protocol and has not sent yet
        self.high_water = SEND_HIGH_WATER
        self._close_with: tuple[int, str] | None = None
        self._written = asyncio.Event()
        self._scope: anyio.CancelScope | None = None
        self.traced = tracing_configured()
        self.observer = app.observer

    async def run(self) -> None:
        message = await self._receive()
        if message["type"] != "websocket.connect":
            return
        if self.app.draining:  # the server is going away: the client reconnects elsewhere
            accept = {"type": "websocket.accept"}
            if SUBPROTOCOL in self.connection.subprotocols:
                accept["subprotocol"] = SUBPROTOCOL
            await self._send(accept)
            await self._send({"type": "websocket.close", "code": 1012, "reason": "server shutting down"})
            return
        refusal = self.app._check_handshake(self.connection)
        if refusal is not None:
            logger.info("refused connection from %s: %s", _peer(self.connection), refusal)
            await self._send({"type": "websocket.close", "code": 1008, "reason": refusal})
            return
        refusal = self.app._check_origin(self.connection)
        if refusal is not None:
            logger.info("refused connection from %s: %s", _peer(self.connection), refusal)
            await self._send(self._accept_message())
            await self._send({"type": "websocket.close", "code": 4403, "reason": close_reason(refusal)})
            return
        hooks = self.app.connection_hooks
        try:
            error = await self._run_connection_hooks(hooks.before_connection, hooks.before_accept)
            await self._send(self._accept_message())
            if error is not None:
                await self._send(
                    {
                        "type": "websocket.close",
                        "code": CLOSE_CODES.get(error.code, 4400),
                        "reason": close_reason(error.message),
                    }
                )
                return
            self.app.connections.add(self.connection)
            self.protocol.send_hello()
            self._wake.set()
            self._log("open")
            self.loop = asyncio.get_running_loop()
            with anyio.CancelScope() as self._scope:
                await self._serve()
            if self._scope.cancelled_caught:  # abandoned: let the calls see they are cancelled
                with anyio.move_on_after(CLOSE_LINGER, shield=True):
                    await self._idle.wait()
        finally:
            self.app.connections.discard(self.connection)
            self._log("close")
            if self.protocol.violations:
                self._log_violations()
            with anyio.CancelScope(shield=True):
                await self._after_connection()

    async def _serve(self) -> None:
        async with anyio.create_task_group() as task_group:
            self._task_group = task_group
            task_group.start_soon(self._writer)
            if self.authenticator is not None:
                task_group.start_soon(self.authenticator.run)
            try:
                await self._receive_loop()
            finally:  # also when the server cancels the connection's task
                if self.authenticator is not None:
                    self.authenticator.stop()
                for call in list(self.calls.values()):
                    call.cancel()
            await self._idle.wait()
            self._closed = True
            self._wake.set()

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

    async def _after_connection(self) -> None:
        chain = self.app.connection_hooks.after_connection
        if chain:
            await run_each("after_connection", chain, self.connection)

    async def _receive_loop(self) -> None:
        receive = self._receive
        protocol = self.protocol
        dispatch = self._dispatch
        debug = protocol_logger.isEnabledFor(logging.DEBUG)
        while True:
            message = await receive()
            kind = message["type"]
            if kind == "websocket.receive":
                data = message.get("bytes")
                seen = protocol.violation_count
                if data is not None:
                    protocol.receive_data(data)
                else:
                    protocol.receive_text(message.get("text") or "")
                if debug and protocol.violation_count != seen:
                    self._debug_violation()
                for event in protocol.events_received():
                    dispatch(event)
                if protocol.has_data_to_send():
                    await self.flush()
            elif kind == "websocket.disconnect":
                self._closed = True
                return

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
        if self._idle.is_set():
            self._idle = asyncio.Event()
        # A plain asyncio task: a fifth of what a task group's start_soon costs. The connection
        # still waits for every call (`_idle`) before it ends, and holds the task through the call
        # until then. Where asyncio can (3.12+), the task starts eagerly: a call that does not wait
        # (most unary calls) runs to its end right here, without a trip through the event loop.
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
        if not self.calls:
            self._idle.set()

    @property
    def client_window(self) -> int:
        return self.protocol.settings.client_window

    @property
    def debug(self) -> bool:
        return self.app.debug

    def find_exception_handler(self, exc: BaseException) -> Callable[..., Any] | None:
        return self.app.find_exception_handler(exc)

    @property
    def buffered_bytes(self) -> int:
        """Bytes queued for the socket: in the protocol, or taken by the writer and not yet sent."""
        return self.protocol.buffered_size() + self._unsent

    async def flush(self) -> None:
        """Have the writer send what the protocol has queued; wait while over the high-water mark."""
        if self._closed or not self.protocol.has_data_to_send():
            return
        self._wake.set()
        if self.buffered_bytes > self.high_water:
            await self.room()

    def wake_writer(self) -> None:
        """Have the writer send what is queued (a producer checks the mark before it queues)."""
        if not self._closed:
            self._wake.set()

    async def room(self) -> None:
        """Wait until the connection is under its high-water mark (or closed)."""
        while not self._closed and self.buffered_bytes > self.high_water:
            self._wake.set()
            if self._room.is_set():
                self._room = asyncio.Event()
            await self._room.wait()

    async def write_now(self) -> None:
        """Write what is queued from the calling task if the writer is idle, else leave it to the
        writer. Only for tasks that nothing cancels while they write."""
        if self._closed or not self.protocol.has_data_to_send():
            return
        if self._writing or self._wake.is_set():
            self._wake.set()
            return
        self._writing = True
        try:
            await self._send_all(self.protocol.data_to_send())
        except Exception:  # the socket is gone; the receive loop sees the disconnect
            self._closed = True
        finally:
            self._writing = False
            self._unsent = 0
            self._room.set()
            if self.protocol.has_data_to_send() or self._closed or self._close_with is not None:
                self._wake.set()

    async def _send_all(self, out: list[bytes]) -> None:
        send = self._send
        self._unsent = sum(map(len, out)) if len(out) > 1 else len(out[0])
        for message in out:
            await send({"type": "websocket.send", "bytes": message})
            self._unsent -= len(message)
            if not self._room.is_set() and self.buffered_bytes <= self.high_water:
                self._room.set()

    async def _writer(self) -> None:
        """Write frames in the order the protocol queued them: one writer at a time (this task,
        or a call in `write_now`), so frames never interleave."""
        protocol = self.protocol
        try:
            while True:
                await self._wake.wait()
                self._wake = asyncio.Event()
                if self._writing:
                    continue  # write_now() is sending; it wakes this task again when it is done
                out = protocol.data_to_send()
                if out:
                    self._writing = True
                    await self._send_all(out)
                    self._writing = False
                if self._close_with is not None:
                    code, reason = self._close_with
                    await self._send({"type": "websocket.close", "code": code, "reason": close_reason(reason)})
                    return
                if self._closed:
                    return
        except Exception:  # the socket is gone; the receive loop sees the disconnect
            pass
        finally:
            self._closed = True
            self._writing = False
            self._unsent = 0
            self._room.set()
            self._written.set()

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close the WebSocket after the frames already queued; open calls are cancelled.

        A writer that can't finish within `CLOSE_LINGER` (the client stopped reading) is given up
        on: the connection ends without its close frame, and the ASGI server closes the socket.
        """
        if self._close_with is None and not self._closed:
            self._close_with = (code, reason)
            self._wake.set()
            with anyio.move_on_after(CLOSE_LINGER):
                await self._written.wait()
            if not self._written.is_set():
                self._abandon()
        for call in list(self.calls.values()):
            call.cancel()

    def _abandon(self) -> None:
        self._closed = True
        self._room.set()
        if self._scope is not None:
            self._scope.cancel()

    async def drain(self, grace: float) -> None:
        """Send GOAWAY, let open calls run for `grace` seconds, end the rest with UNAVAILABLE, close."""
        if self._closed:
            return
        self.protocol.send_goaway("server shutting down")
        self.wake_writer()  # not `flush`: a writer stuck on a client that stopped reading can't delay the drain
        with anyio.move_on_after(grace):
            await self._idle.wait()
        for call in list(self.calls.values()):
            call.abort(Error(Code.UNAVAILABLE, "the server shut down before the call ended"))
        with anyio.move_on_after(CLOSE_LINGER):
            await self._idle.wait()
        await self.close(1001, "server shutting down")


def _peer(connection: Connection) -> str:
    """`host:port` of the client, as uvicorn writes it in its own log lines."""
    client = connection.client
    return "unknown" if client is None else f"{client.host}:{client.port}"


_eager_task: Final[Callable[[asyncio.AbstractEventLoop, Coroutine[Any, Any, Any]], asyncio.Task[Any]] | None] = (
    getattr(asyncio, "eager_task_factory", None)
)
"""Create a call's task eagerly started, on Python 3.12+; `None` where asyncio can't."""
