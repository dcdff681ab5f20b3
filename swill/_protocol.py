"""The connection-level protocol, both sides. Sans-I/O: no sockets, no awaits, no clocks.

Feed each WebSocket message to `receive_data` (binary) or `receive_text` (text), then take
`events_received()` and `data_to_send()`. Call the `send_*` methods to produce frames; each
returns nothing and queues bytes for `data_to_send()`.

Rules:

1. Ids only grow. The server remembers the largest id any readable REQUEST carried; a REQUEST
   at or below it is answered on id 0, so that it can never end another call.
2. Whatever a frame breaks, it ends at most one call: the call it names, when that call is open
   or the frame tried to open it; otherwise the ERROR goes on id 0. The connection goes on.
3. A call this side opened (server: from an accepted REQUEST) ends only through this side: when
   the peer breaks a rule on it, the server gets `CallFailed` and answers with `send_error`, so the
   application's hooks see that ending like any other. Until then the call's incoming frames are
   ignored.
4. Frames for calls that are not open are ignored: they may race with the call's end.
5. The server counts the client's protocol errors by kind (`violations`), so that the I/O layer
   can log them in proportion to clients, not messages.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final
from typing import Protocol as TypingProtocol

import msgspec

from ._calls import CallState, Half, Role
from ._errors import Code, Error, LocalProtocolError, RemoteProtocolError
from ._frames import (
    CLIENT_FRAMES,
    DECODE_ERRORS,
    NO_DATA,
    SERVER_FRAMES,
    UNLIMITED,
    AuthFrame,
    CloseFrame,
    CreditFrame,
    DataFrame,
    EndOfStreamFrame,
    ErrorFrame,
    FrameDecoder,
    FrameError,
    FrameType,
    GoAwayFrame,
    HelloFrame,
    MetadataFrame,
    Options,
    PingFrame,
    PongFrame,
    RequestFrame,
    ResponseFrame,
    encode,
    encode_request,
    payload,
    peek,
)

__all__ = [
    "PROTOCOL_VERSION",
    "AuthReceived",
    "CallCancelled",
    "CallFailed",
    "CallOpened",
    "ClientProtocol",
    "CreditGranted",
    "EndOfStream",
    "ErrorReceived",
    "Event",
    "GoAwayReceived",
    "HelloReceived",
    "MessageReceived",
    "MetadataReceived",
    "PongReceived",
    "ResponseReceived",
    "RpcInfo",
    "ServerProtocol",
    "Settings",
    "Violation",
]

PROTOCOL_VERSION: Final = 1
SUBPROTOCOL: Final = "swill.v1"

class RpcInfo(TypingProtocol):
    """What the server protocol needs to know of a handler."""

    @property
    def request_stream(self) -> bool: ...


# Events are frozen msgspec Structs, not frozen dataclasses: one is made per frame, and a Struct
# is built in C, ten times faster. Those that hold only wire data skip the cyclic collector.


class CallOpened(msgspec.Struct, frozen=True, gc=False):
    """Server: a REQUEST opened a call. `data` is `None` when the REQUEST carried none; `info`
    is the registry's entry for `rpc`."""

    id: int
    rpc: str
    metadata: dict[str, Any]
    data: msgspec.Raw | None
    timeout_ms: int | None
    window: int | None
    info: RpcInfo | None = None


class MessageReceived(msgspec.Struct, frozen=True, gc=False):
    """A DATA frame's value, still encoded."""

    id: int
    data: msgspec.Raw


class EndOfStream(msgspec.Struct, frozen=True, gc=False):
    """The peer ended its stream; from the server, `metadata` is the trailing metadata."""

    id: int
    metadata: dict[str, Any]


class CallCancelled(msgspec.Struct, frozen=True, gc=False):
    """Server: the client sent CLOSE; the call is over and nothing more may be sent for it."""

    id: int
    reason: str | None


class CreditGranted(msgspec.Struct, frozen=True, gc=False):
    """The peer granted `n` more DATA frames (`n` of `UNLIMITED` or more lifts the limit)."""

    id: int
    n: int


class CallFailed(msgspec.Struct, frozen=True):
    """The peer broke a rule on an open call. Server: end it with `send_error(error)`.
    Client: the call is over, with this error."""

    id: int
    error: Error


class HelloReceived(msgspec.Struct, frozen=True, gc=False):
    """Client: the server's settings."""

    settings: dict[str, Any]


class MetadataReceived(msgspec.Struct, frozen=True, gc=False):
    """Client: leading metadata from a METADATA frame."""

    id: int
    metadata: dict[str, Any]


class ResponseReceived(msgspec.Struct, frozen=True, gc=False):
    """Client: the single response; the call is over."""

    id: int
    data: msgspec.Raw
    leading: dict[str, Any] | None
    trailing: dict[str, Any]


class ErrorReceived(msgspec.Struct, frozen=True):
    """Client: an ERROR frame. On id 0 it is about the connection, not a call."""

    id: int
    error: Error


class PongReceived(msgspec.Struct, frozen=True, gc=False):
    nonce: int


class GoAwayReceived(msgspec.Struct, frozen=True, gc=False):
    reason: str | None


class AuthReceived(msgspec.Struct, frozen=True, gc=False):
    """Server (when it checks credentials): an AUTH frame's credentials, decoded. Answer with
    `accept_auth()`, or close the connection with 4401."""

    credentials: Any


Event = (
    CallOpened
    | MessageReceived
    | EndOfStream
    | CallCancelled
    | CreditGranted
    | CallFailed
    | HelloReceived
    | MetadataReceived
    | ResponseReceived
    | ErrorReceived
    | PongReceived
    | GoAwayReceived
    | AuthReceived
)


@dataclass(slots=True)
class Violation:
    """How often a client broke the protocol in one way: the count, the first and last messages."""

    first: str
    count: int = 1
    last: str = ""


@dataclass(frozen=True, slots=True)
class Settings:
    """What a server announces in HELLO (docs/protocol.md, "HELLO and GOAWAY")."""

    max_message_size: int = 1 << 20
    max_concurrent_calls: int = 100
    client_window: int = 16
    server: str = "swill"

    def to_wire(self) -> dict[str, Any]:
        return {
            "version": PROTOCOL_VERSION,
            "max_message_size": self.max_message_size,
            "max_concurrent_calls": self.max_concurrent_calls,
            "client_window": self.client_window,
            "server": self.server,
        }



_data_decoder: Final = msgspec.msgpack.Decoder()

# The states and roles the hot paths compare against, as module globals: reading an enum member
# through its class costs ten times as much on Python 3.11, and these run for every call and message.
_OPEN, _IDLE, _LEADING, _STREAMING, _DONE = Half.OPEN, Half.IDLE, Half.LEADING, Half.STREAMING, Half.DONE
_SERVER, _CLIENT = Role.SERVER, Role.CLIENT
_DATA, _END_OF_STREAM, _RESPONSE = FrameType.DATA, FrameType.END_OF_STREAM, FrameType.RESPONSE


class _Base:
    role: Role

    def __init__(self) -> None:
        self.calls: dict[int, CallState] = {}
        self._events: list[Event] = []
        self._out: list[bytes] = []
        self._out_size = 0

    def events_received(self) -> list[Event]:
        """The events since the last call, in order."""
        events, self._events = self._events, []
        return events

    def data_to_send(self) -> list[bytes]:
        """The messages to write, in order, one frame each."""
        out, self._out = self._out, []
        self._out_size = 0
        return out

    def _queue(self, message: bytes) -> None:
        self._out.append(message)
        self._out_size += len(message)

    def has_data_to_send(self) -> bool:
        return bool(self._out)

    def buffered_size(self) -> int:
        """How many bytes `data_to_send()` would return now."""
        return self._out_size

    def can_send_data(self, id: int) -> bool:
        """Whether a DATA frame for call `id` is within its credit now."""
        call = self.calls.get(id)
        if call is None:
            return False
        credit = call.send_credit  # CallState.can_send_data(), inline: once per streamed message
        return credit is None or credit > 0

    def _call(self, id: int) -> CallState:
        call = self.calls.get(id)
        if call is None:
            raise LocalProtocolError(f"call {id} is not open")
        return call

    def _send_frame(self, call: CallState, type_: FrameType, message: bytes) -> None:
        call.send(type_)
        self._queue(message)

    def grant_credit(self, id: int, n: int) -> None:
        """Allow the peer `n` more DATA frames on call `id` (sends CREDIT)."""
        call = self._call(id)
        call.grant(n)
        self._queue(encode(CreditFrame(id, min(n, UNLIMITED))))


_CallFrame = DataFrame | RequestFrame | EndOfStreamFrame | CreditFrame | CloseFrame


class ServerProtocol(_Base):
    """The server's side of one connection.

    Args:
        registry: Handler info by rpc name; a name not in it is `UNIMPLEMENTED`.
        settings: The limits announced in HELLO and enforced here.
    """

    role = Role.SERVER

    def __init__(
        self, registry: Mapping[str, RpcInfo], settings: Settings | None = None, *, check_auth: bool = False
    ) -> None:
        super().__init__()
        self.registry = registry
        self.settings = settings or Settings()
        self.last_id = 0
        self.accepting = True
        self._decoder = _CLIENT_FRAME_DECODER
        # Calls whose end the application still has to send; their frames are ignored.
        self._failing: set[int] = set()
        self.check_auth = check_auth
        self.authenticated = not check_auth
        """False while call frames wait for an AUTH's check: the first, or a later one."""
        # Call frames that came before an AUTH passed, in order (section 1b), and how many of
        # them are REQUESTs: at most `max_concurrent_calls` REQUESTs and `_held_limit` frames.
        self._held: list[_CallFrame] = []
        self._held_requests = 0
        self._held_last_id = 0
        self._held_limit = self.settings.max_concurrent_calls * (self.settings.client_window + 2)
        self.violations: dict[str, Violation] = {}
        """The client's protocol errors so far, by kind (`"malformed frame"`, ...)."""
        self.violation_count = 0
        self.last_violation: tuple[str, str] | None = None

    # Receiving.

    def receive_text(self, text: str) -> None:
        """A text message arrived: always a protocol error, answered on id 0."""
        self._violation("text message", "text messages are not allowed; send binary frames")
        self._connection_error("text messages are not allowed; send binary frames")

    def receive_data(self, message: bytes) -> None:
        """A binary message arrived: exactly one frame."""
        if len(message) > self.settings.max_message_size:
            self._oversized(message)
            return
        try:
            frame = self._decoder.decode(message)
        except FrameError as exc:
            self._malformed(exc)
            return
        if frame is None:
            return
        receive = _RECEIVE_CALL_FRAME.get(type(frame))
        if receive is not None:
            if self.authenticated or (type(frame) is not RequestFrame and frame.id in self.calls):  # type: ignore[union-attr]
                receive(self, frame)  # while a later AUTH is checked, the open calls go on
            else:
                self._hold(frame)  # type: ignore[arg-type]
        elif isinstance(frame, PingFrame):
            self._queue(encode(PongFrame(frame.nonce)))
        elif isinstance(frame, AuthFrame):
            self._receive_auth(frame)

    def _receive_call_frame(self, frame: _CallFrame) -> None:
        _RECEIVE_CALL_FRAME[type(frame)](self, frame)

    # Credentials (section 1b).

    def _receive_auth(self, frame: AuthFrame) -> None:
        if not self.check_auth:
            return  # a server that checks no credentials ignores AUTH
        try:
            credentials = _data_decoder.decode(frame.credentials)
        except DECODE_ERRORS as exc:  # e.g. an invalid timestamp: hostile bytes, like any frame's
            self._malformed(FrameError(f"malformed AUTH frame: {exc}", FrameType.AUTH, 0))
            return
        # Calls opened after an AUTH are served with what it carries: new ones wait until it passes
        # (`accept_auth`), as before the first; the calls already open go on.
        self.authenticated = False
        self._events.append(AuthReceived(credentials))

    def _hold(self, frame: _CallFrame) -> None:
        """Keep a call frame until an AUTH passes; refuse what is beyond the bounds."""
        if isinstance(frame, RequestFrame):
            if frame.id <= max(self.last_id, self._held_last_id):
                message = f"call id {frame.id} is not greater than {self._held_last_id}"
                self._violation("non-increasing call id", message)
                self._connection_error(message)
                return
            self._held_last_id = frame.id
            if self._held_requests >= self.settings.max_concurrent_calls:
                self._refuse(
                    frame.id,
                    Code.RESOURCE_EXHAUSTED,
                    f"more than {self.settings.max_concurrent_calls} calls wait for credentials",
                )
                return
            self._held_requests += 1
        elif len(self._held) >= self._held_limit:
            self._connection_error("too many frames before credentials", Code.RESOURCE_EXHAUSTED)
            return
        self._held.append(frame)

    def accept_auth(self) -> None:
        """The last AUTH received passed: serve the call frames held until now, in order."""
        if self.authenticated:
            return
        self.authenticated = True
        held, self._held = self._held, []
        self._held_requests = 0
        for frame in held:
            self._receive_call_frame(frame)

    def _receive_request(self, frame: RequestFrame) -> None:
        id = frame.id
        if id <= self.last_id:
            message = f"call id {id} is not greater than {self.last_id}"
            self._violation("non-increasing call id", message)
            self._connection_error(message)
            return
        self.last_id = id
        spec = self.registry.get(frame.rpc)
        if spec is None:
            self._refuse(id, Code.UNIMPLEMENTED, f"no rpc named {frame.rpc!r}")
            return
        if not self.accepting:
            self._refuse(id, Code.UNAVAILABLE, "the server is shutting down")
            return
        if len(self.calls) >= self.settings.max_concurrent_calls:
            self._refuse(
                id,
                Code.RESOURCE_EXHAUSTED,
                f"more than {self.settings.max_concurrent_calls} calls open on this connection",
            )
            return
        options = frame.options or _NO_OPTIONS
        stream = spec.request_stream
        call = CallState(
            id,
            _SERVER,
            _OPEN if stream else _DONE,
            options.window,
            self.settings.client_window if stream else None,
        )
        has_data = frame.data is not NO_DATA and len(frame.data) > 0
        if has_data and stream:
            call.receive_credit = self.settings.client_window - 1
        self.calls[id] = call
        self._events.append(
            CallOpened(
                id,
                frame.rpc,
                frame.metadata or {},
                frame.data if has_data else None,
                options.timeout,
                options.window,
                spec,
            )
        )

    def _receive_data(self, frame: DataFrame) -> None:
        if self._receive_in_call(frame.id, _DATA):
            self._events.append(MessageReceived(frame.id, frame.data))

    def _receive_end(self, frame: EndOfStreamFrame) -> None:
        self._receive_in_call(frame.id, _END_OF_STREAM)

    def _receive_in_call(self, id: int, type_: FrameType) -> bool:
        call = self.calls.get(id)
        if call is None or id in self._failing:
            return False
        try:
            call.receive(type_)
        except RemoteProtocolError as exc:
            self._violation("frame against a call's rules", exc.message)
            self._fail(id, exc.code, exc.message)
            return False
        if type_ is _END_OF_STREAM:
            self._events.append(EndOfStream(id, {}))
        return True

    def _receive_credit(self, frame: CreditFrame) -> None:
        call = self.calls.get(frame.id)
        if call is not None and frame.id not in self._failing:
            call.granted(frame.n)
            self._events.append(CreditGranted(frame.id, frame.n))

    def _receive_close(self, frame: CloseFrame) -> None:
        if self.calls.pop(frame.id, None) is not None:
            self._failing.discard(frame.id)
            self._events.append(CallCancelled(frame.id, frame.reason))

    def _oversized(self, message: bytes) -> None:
        type_, id = peek(message)
        limit = f"message of {len(message)} bytes exceeds max_message_size ({self.settings.max_message_size})"
        self._violation("oversized message", limit)
        if id is not None and type_ == FrameType.REQUEST and id > self.last_id:
            self.last_id = id
            self._refuse(id, Code.RESOURCE_EXHAUSTED, limit)
        elif id is not None and id in self.calls:
            self._fail(id, Code.RESOURCE_EXHAUSTED, limit)
        else:
            self._connection_error(limit, Code.RESOURCE_EXHAUSTED)

    def _malformed(self, exc: FrameError) -> None:
        self._violation("malformed frame", exc.message)
        id = exc.id
        if id is not None and id in self.calls and exc.type != FrameType.REQUEST:
            self._fail(id, Code.INVALID_ARGUMENT, exc.message)
        elif id is not None and 0 < id and exc.type == FrameType.REQUEST and id > self.last_id:
            self.last_id = id
            self._refuse(id, Code.INVALID_ARGUMENT, exc.message)
        else:
            self._connection_error(exc.message)

    def _violation(self, kind: str, message: str) -> None:
        self.violation_count += 1
        self.last_violation = (kind, message)
        violation = self.violations.get(kind)
        if violation is None:
            self.violations[kind] = Violation(message, last=message)
        else:
            violation.count += 1
            violation.last = message

    def _fail(self, id: int, code: Code, message: str) -> None:
        if id not in self._failing:
            self._failing.add(id)
            self._events.append(CallFailed(id, Error(code, message)))

    def _refuse(self, id: int, code: Code, message: str) -> None:
        self._queue(encode(ErrorFrame(id, code.value, message)))

    def _connection_error(self, message: str, code: Code = Code.INVALID_ARGUMENT) -> None:
        self._queue(encode(ErrorFrame(0, code.value, message)))

    # Sending.

    def send_hello(self) -> None:
        """Send HELLO: the first frame of every connection."""
        self._queue(_hello(self.settings))

    def send_goaway(self, reason: str | None = None) -> None:
        """Send GOAWAY; from now on every REQUEST is refused with `UNAVAILABLE`."""
        self.accepting = False
        self._queue(encode(GoAwayFrame(0, reason)))

    def send_metadata(self, id: int, metadata: dict[str, Any]) -> None:
        """Send leading metadata in a METADATA frame."""
        call = self._call(id)
        self._send_frame(call, FrameType.METADATA, encode(MetadataFrame(id, metadata)))

    def send_data(self, id: int, value: Any) -> int:
        """Send one message of a streamed response. Returns the size of the frame.

        Raises:
            LocalProtocolError: No credit, or the call's response can't take DATA now.
        """
        size = self.try_send_data(id, value)
        if size < 0:
            self._call(id).send(FrameType.DATA)  # raises: not open, or no credit
        return size

    def try_send_data(self, id: int, value: Any) -> int:
        """Send one message of a streamed response if call `id` has credit for it now: the size
        of the frame, or -1 when it has none (or the call is no longer open) and nothing was sent.
        What `can_send_data` and `send_data` do, with one look-up: every message of every stream
        comes here.

        Raises:
            LocalProtocolError: The call's response can't take DATA now.
        """
        call = self.calls.get(id)
        if call is None:
            return -1
        credit = call.send_credit
        if credit is not None and credit <= 0:
            return -1
        message = encode(DataFrame(id, value))
        if call.response is _STREAMING:
            # The hottest path, a stream's next message: what `CallState.send` checks.
            if credit is not None:
                call.send_credit = credit - 1
        else:
            call.send(FrameType.DATA)  # the table: the first DATA, or a refusal
        # What `_queue` does, inline: this runs once per message of every stream.
        self._out.append(message)
        size = len(message)
        self._out_size += size
        return size

    def send_response(
        self,
        id: int,
        value: Any,
        leading: dict[str, Any] | None = None,
        trailing: dict[str, Any] | None = None,
    ) -> int:
        """Send the single response, which ends the call. Returns the size of the frame."""
        call = self.calls.get(id)
        if call is None:
            raise LocalProtocolError(f"call {id} is not open")
        message = encode(ResponseFrame(id, value, leading or None, trailing or None))
        if call.response is _IDLE or call.response is _LEADING:
            call.response = _DONE  # what `CallState.send` does, without its lookups
        else:
            call.send(FrameType.RESPONSE)  # the table's refusal
        # What `_queue` and `_end` do, inline: this runs once per unary call.
        self._out.append(message)
        size = len(message)
        self._out_size += size
        del self.calls[id]
        self._failing.discard(id)
        return size

    def send_end(self, id: int, trailing: dict[str, Any] | None = None) -> None:
        """End a streamed response with END_OF_STREAM and its trailing metadata."""
        call = self._call(id)
        self._send_frame(call, _END_OF_STREAM, encode(EndOfStreamFrame(id, trailing or None)))
        self._end(id)

    def send_error(self, id: int, error: Error, metadata: dict[str, Any] | None = None) -> None:
        """End call `id` with ERROR. `metadata` is the trailing metadata (default: the error's)."""
        call = self._call(id)
        trailing = error.metadata if metadata is None else metadata
        frame = ErrorFrame(id, error.code.value, error.message, payload(error.data), trailing or None)
        try:
            message = encode(frame)
        except (TypeError, ValueError, msgspec.EncodeError):  # data or metadata MessagePack can't hold
            message = encode(ErrorFrame(id, error.code.value, error.message))
        self._send_frame(call, FrameType.ERROR, message)
        self._end(id)

    def _end(self, id: int) -> None:
        del self.calls[id]
        self._failing.discard(id)

    # The call lifecycle, for the I/O layer.

    def is_open(self, id: int) -> bool:
        """Whether call `id` is open: its final frame has not been sent, nor its CLOSE received."""
        return id in self.calls

    def grant(self, id: int, n: int) -> bool:
        """Grant the client `n` more DATA frames on call `id`, if its request stream is still open
        (sends CREDIT). Returns whether it did."""
        call = self.calls.get(id)
        if call is None or call.request is not _OPEN or id in self._failing:
            return False
        self.grant_credit(id, n)
        return True

    def forget(self, id: int) -> None:
        """The application is done with call `id`: if it never sent a final frame (its socket
        died), the core stops counting it against `max_concurrent_calls` now."""
        if self.calls.pop(id, None) is not None:
            self._failing.discard(id)


_NO_OPTIONS: Final = Options()
_CLIENT_FRAME_DECODER: Final = FrameDecoder(CLIENT_FRAMES)
"""What every server connection decodes with: it keeps no state between messages."""


@functools.lru_cache(maxsize=16)
def _hello(settings: Settings) -> bytes:
    """HELLO with `settings`, encoded once for every connection that announces them."""
    return encode(HelloFrame(0, settings.to_wire()))


_RECEIVE_CALL_FRAME: Final[dict[type[Any], Callable[[ServerProtocol, Any], None]]] = {
    DataFrame: ServerProtocol._receive_data,
    RequestFrame: ServerProtocol._receive_request,
    EndOfStreamFrame: ServerProtocol._receive_end,
    CreditFrame: ServerProtocol._receive_credit,
    CloseFrame: ServerProtocol._receive_close,
}
"""What the server does with each call frame, by the frame's class: one lookup per frame."""


class ClientProtocol(_Base):
    """The client's side of one connection.

    Args:
        max_receive_size: The largest message accepted from the server, in bytes (`None`: no
            limit); a larger one fails the call it names with `RESOURCE_EXHAUSTED`, unread, or is
            reported on id 0 when no open call's id can be read. The connection goes on.
    """

    role = Role.CLIENT

    def __init__(self, max_receive_size: int | None = None) -> None:
        super().__init__()
        self.max_receive_size = max_receive_size
        self.settings = Settings()
        self.hello: dict[str, Any] | None = None
        self.next_id = 1
        self._decoder = FrameDecoder(SERVER_FRAMES)

    # Sending.

    def send_request(
        self,
        rpc: str,
        data: Any = NO_DATA,
        *,
        metadata: dict[str, Any] | None = None,
        timeout_ms: int | None = None,
        window: int | None = None,
    ) -> int:
        """Open a call. Returns its id.

        Raises:
            Error: `RESOURCE_EXHAUSTED` when the frame is larger than the server accepts.
        """
        id = self.next_id
        options = Options(timeout_ms, window) if timeout_ms is not None or window is not None else None
        message = encode_request(id, rpc, metadata or None, options, data)
        self._check_size(message)
        self.next_id += 1
        has_data = data is not NO_DATA
        call = CallState(
            id,
            _CLIENT,
            _OPEN,
            send_credit=self.settings.client_window - (1 if has_data else 0),
            receive_credit=window,
        )
        self.calls[id] = call
        self._queue(message)
        return id

    def send_data(self, id: int, value: Any) -> int:
        """Send one message of a streamed request. Returns the size of the frame."""
        call = self._call(id)
        message = encode(DataFrame(id, payload(value)))
        self._check_size(message)
        self._send_frame(call, _DATA, message)
        return len(message)

    def send_end(self, id: int) -> None:
        """End the streamed request."""
        call = self._call(id)
        self._send_frame(call, _END_OF_STREAM, encode(EndOfStreamFrame(id)))

    def send_close(self, id: int, reason: str | None = None) -> None:
        """Cancel call `id`; whatever still arrives for it is ignored. A no-op once it is over."""
        if self.calls.pop(id, None) is not None:
            self._queue(encode(CloseFrame(id, reason)))

    def send_ping(self, nonce: int) -> None:
        self._queue(encode(PingFrame(nonce)))

    def send_auth(self, credentials: Any) -> None:
        """Send credentials (AUTH, section 1b): first on a connection, or later to replace them.

        Raises:
            TypeError: The credentials can't be encoded.
        """
        self._queue(encode(AuthFrame(0, payload(credentials))))

    def _check_size(self, message: bytes) -> None:
        limit = self.settings.max_message_size
        if len(message) > limit:
            raise Error(
                Code.RESOURCE_EXHAUSTED,
                f"message of {len(message)} bytes exceeds the server's max_message_size ({limit})",
            )

    # Receiving.

    def receive_text(self, text: str) -> None:
        self._events.append(ErrorReceived(0, Error(Code.INTERNAL, "the server sent a text message")))

    def receive_data(self, message: bytes) -> None:
        limit = self.max_receive_size
        if limit is not None and len(message) > limit:
            self._oversized(message, limit)
            return
        try:
            frame = self._decoder.decode(message)
        except FrameError as exc:
            self._malformed(exc)
            return
        if frame is None:
            return
        if type(frame) is DataFrame:
            call = self.calls.get(frame.id)
            if call is not None and call.response is _STREAMING:
                # The hottest path, a stream's next message: what `CallState.receive` checks.
                credit = call.receive_credit
                if credit is None or credit > 0:
                    if credit is not None:
                        call.receive_credit = credit - 1
                    self._events.append(MessageReceived(frame.id, frame.data))
                    return
            if self._receive_in_call(frame.id, _DATA):
                self._events.append(MessageReceived(frame.id, frame.data))
        elif type(frame) is ResponseFrame:
            call = self.calls.get(frame.id)
            if call is not None and (call.response is _IDLE or call.response is _LEADING):
                call.response = _DONE  # what `CallState.receive` does, without its lookups
                del self.calls[frame.id]
            elif not self._receive_in_call(frame.id, _RESPONSE):
                return
            self._events.append(ResponseReceived(frame.id, frame.data, frame.leading or None, frame.trailing or {}))
        elif isinstance(frame, EndOfStreamFrame):
            if self._receive_in_call(frame.id, _END_OF_STREAM):
                self._events.append(EndOfStream(frame.id, frame.metadata or {}))
        elif isinstance(frame, MetadataFrame):
            if self._receive_in_call(frame.id, FrameType.METADATA):
                self._events.append(MetadataReceived(frame.id, frame.metadata or {}))
        elif isinstance(frame, ErrorFrame):
            self._receive_error(frame)
        elif isinstance(frame, (CreditFrame, HelloFrame, PongFrame, GoAwayFrame)):
            self._receive_control(frame)

    def _receive_control(self, frame: CreditFrame | HelloFrame | PongFrame | GoAwayFrame) -> None:
        if isinstance(frame, CreditFrame):
            call = self.calls.get(frame.id)
            if call is not None:
                call.granted(frame.n)
                self._events.append(CreditGranted(frame.id, frame.n))
        elif isinstance(frame, HelloFrame):
            self._receive_hello(frame.settings)
        elif isinstance(frame, PongFrame):
            self._events.append(PongReceived(frame.nonce))
        else:
            self._events.append(GoAwayReceived(frame.reason))

    def _receive_hello(self, wire: dict[str, Any]) -> None:
        defaults = Settings()
        self.settings = Settings(
            max_message_size=_positive(wire.get("max_message_size"), defaults.max_message_size),
            max_concurrent_calls=_positive(wire.get("max_concurrent_calls"), defaults.max_concurrent_calls),
            client_window=_positive(wire.get("client_window"), defaults.client_window),
            server=str(wire.get("server", "")),
        )
        self.hello = wire
        self._events.append(HelloReceived(wire))

    def _receive_error(self, frame: ErrorFrame) -> None:
        try:
            data = _data_decoder.decode(frame.data)
        except DECODE_ERRORS as exc:
            self._malformed(FrameError(f"malformed ERROR frame: {exc}", FrameType.ERROR, frame.id))
            return
        error = Error(frame.code, frame.message, data, frame.metadata or {})
        if frame.id == 0:
            self._events.append(ErrorReceived(0, error))
        elif self._receive_in_call(frame.id, FrameType.ERROR):
            self._events.append(ErrorReceived(frame.id, error))

    def _receive_end(self, frame: EndOfStreamFrame) -> None:
        self._receive_in_call(frame.id, FrameType.END_OF_STREAM)

    def _receive_in_call(self, id: int, type_: FrameType) -> bool:
        call = self.calls.get(id)
        if call is None:
            return False
        try:
            call.receive(type_)
        except RemoteProtocolError as exc:
            self._fail(id, Error(Code.INTERNAL, f"protocol violation: {exc.message}"))
            return False
        if call.done:
            del self.calls[id]
        return True

    def _malformed(self, exc: FrameError) -> None:
        id = exc.id
        error = Error(Code.INTERNAL, f"protocol violation: {exc.message}")
        if id is not None and id in self.calls:
            self._fail(id, error)
        else:
            self._events.append(ErrorReceived(0, error))

    def _oversized(self, message: bytes, limit: int) -> None:
        _, id = peek(message)
        error = Error(Code.RESOURCE_EXHAUSTED, f"message of {len(message)} bytes exceeds the client's limit ({limit})")
        if id is not None and id in self.calls:
            self._fail(id, error)
        else:
            self._events.append(ErrorReceived(0, error))

    def _fail(self, id: int, error: Error) -> None:
        """The server broke the protocol on call `id`: the call fails here, and CLOSE tells the
        server to stop its handler (the call may still be open there)."""
        self.send_close(id, error.message[:200])
        self._events.append(CallFailed(id, error))


def _positive(value: object, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else default
