"""Frames of docs/protocol.md, "Frames", encoded and decoded with msgspec. Sans-I/O.

Rules this module keeps:

1. A frame is one MessagePack array `[type, id, ...]`. Each frame type is a `Struct` with
   `array_like=True, tag=<type>`, so one tagged-union decoder reads any frame in one pass and
   checks every field's type on the way.
2. Incoming `data` stays a `msgspec.Raw` until the handler's (or caller's) type is known. In
   REQUEST, the array's length tells absent data (`Raw()`, empty) from `nil` (`Raw(b"\\xc0")`).
3. When a frame fails to decode, `FrameError` says what it could still read (type and id), so
   the protocol can answer on the right id (section 6). An id above 2^53 - 1 is not read.
4. Hostile bytes are only ever a `FrameError`: whatever msgspec raises on them (`DecodeError`,
   `RecursionError` for nesting deeper than its limit, even inside a `Raw` field,
   `OverflowError`, `MemoryError` for absurd lengths) is a malformed frame, never an exception
   that escapes to the I/O layer.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import IntEnum
from typing import Annotated, Any, Final, TypeAlias

import msgspec

__all__ = [
    "CLIENT_FRAMES",
    "DECODE_ERRORS",
    "MAX_ID",
    "NO_DATA",
    "SERVER_FRAMES",
    "UNLIMITED",
    "AuthFrame",
    "CloseFrame",
    "CreditFrame",
    "DataFrame",
    "EndOfStreamFrame",
    "ErrorFrame",
    "Frame",
    "FrameDecoder",
    "FrameError",
    "FrameType",
    "GoAwayFrame",
    "HelloFrame",
    "MetadataFrame",
    "Options",
    "PingFrame",
    "PongFrame",
    "RequestFrame",
    "ResponseFrame",
    "encode",
    "encode_request",
    "payload",
    "peek",
]

MAX_ID: Final = 2**53 - 1
"""The largest call id: ids stay exact in JavaScript numbers."""

UNLIMITED: Final = 2**31 - 1
"""A credit of this much or more means no limit (section 5)."""

NIL: Final = msgspec.Raw(b"\xc0")
"""MessagePack `nil`, already encoded."""

NO_DATA: Final = msgspec.Raw()
"""The `data` of a REQUEST that carries none (distinct from `nil`, which is `b"\\xc0"`)."""


class FrameType(IntEnum):
    """The frame types of protocol version 1."""

    REQUEST = 0
    DATA = 1
    METADATA = 2
    END_OF_STREAM = 3
    CLOSE = 4
    ERROR = 5
    RESPONSE = 6
    CREDIT = 7
    HELLO = 8
    PING = 9
    PONG = 10
    GOAWAY = 11
    AUTH = 12


EXTENSION_TYPES: Final = 32
"""Frame types from here on are extensions that a peer which does not know them ignores."""

CallId: TypeAlias = Annotated[int, msgspec.Meta(ge=1, le=MAX_ID)]
AnyId: TypeAlias = Annotated[int, msgspec.Meta(ge=0, le=MAX_ID)]
Nonce: TypeAlias = Annotated[int, msgspec.Meta(ge=0)]
Credit: TypeAlias = Annotated[int, msgspec.Meta(ge=1)]
Metadata: TypeAlias = dict[str, Any] | None


class Options(msgspec.Struct, omit_defaults=True):
    """REQUEST options. Unknown keys are ignored."""

    timeout: Annotated[int, msgspec.Meta(ge=0)] | None = None
    window: Credit | None = None


class _Frame(msgspec.Struct, array_like=True, tag_field="type"):
    pass


# `data` fields are declared `Raw`: decoding keeps the bytes as they came. Encoding dispatches on
# the runtime type, so an outgoing frame may hold any value there (see `payload`).


class RequestFrame(_Frame, tag=FrameType.REQUEST.value):
    id: CallId
    rpc: str
    metadata: Metadata = None
    options: Options | None = None
    data: msgspec.Raw = NO_DATA


class DataFrame(_Frame, tag=FrameType.DATA.value):
    id: CallId
    data: msgspec.Raw


class MetadataFrame(_Frame, tag=FrameType.METADATA.value):
    id: CallId
    metadata: Metadata


class EndOfStreamFrame(_Frame, tag=FrameType.END_OF_STREAM.value):
    id: CallId
    metadata: Metadata = None


class CloseFrame(_Frame, tag=FrameType.CLOSE.value):
    id: CallId
    reason: str | None = None


class ErrorFrame(_Frame, tag=FrameType.ERROR.value):
    id: AnyId
    code: str
    message: str
    data: msgspec.Raw = NIL
    metadata: Metadata = None


class ResponseFrame(_Frame, tag=FrameType.RESPONSE.value):
    id: CallId
    data: msgspec.Raw
    leading: Metadata = None
    trailing: Metadata = None


class CreditFrame(_Frame, tag=FrameType.CREDIT.value):
    id: CallId
    n: Credit


class HelloFrame(_Frame, tag=FrameType.HELLO.value):
    id: Annotated[int, msgspec.Meta(ge=0, le=0)]
    settings: dict[str, Any]


class PingFrame(_Frame, tag=FrameType.PING.value):
    nonce: Nonce


class PongFrame(_Frame, tag=FrameType.PONG.value):
    nonce: Nonce


class GoAwayFrame(_Frame, tag=FrameType.GOAWAY.value):
    id: Annotated[int, msgspec.Meta(ge=0, le=0)]
    reason: str | None = None


class AuthFrame(_Frame, tag=FrameType.AUTH.value):
    id: Annotated[int, msgspec.Meta(ge=0, le=0)]
    credentials: msgspec.Raw


Frame: TypeAlias = (
    RequestFrame
    | DataFrame
    | MetadataFrame
    | EndOfStreamFrame
    | CloseFrame
    | ErrorFrame
    | ResponseFrame
    | CreditFrame
    | HelloFrame
    | PingFrame
    | PongFrame
    | GoAwayFrame
    | AuthFrame
)

CLIENT_FRAMES: Final = (RequestFrame, DataFrame, EndOfStreamFrame, CloseFrame, CreditFrame, PingFrame, AuthFrame)
"""The frames a client sends (and a server receives)."""

SERVER_FRAMES: Final = (
    DataFrame,
    MetadataFrame,
    EndOfStreamFrame,
    ErrorFrame,
    ResponseFrame,
    CreditFrame,
    HelloFrame,
    PongFrame,
    GoAwayFrame,
)
"""The frames a server sends (and a client receives)."""


class FrameError(Exception):
    """A message that is not a frame this side can act on.

    Attributes:
        type: The frame type, when it could be read.
        id: The call id, when it could be read (0 when the frame is not about a call).
        message: What was wrong, for people.
    """

    def __init__(self, message: str, type: int | None = None, id: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.type = type
        self.id = id


DECODE_ERRORS: Final = (ValueError, RecursionError, OverflowError, MemoryError)
"""What msgspec may raise on hostile bytes (`msgspec.DecodeError` is a `ValueError`)."""

_encoder: Final = msgspec.msgpack.Encoder()


encode: Final[Callable[[Frame], bytes]] = _encoder.encode
"""Encode one frame. Raises `msgspec.EncodeError` or `TypeError` for a value MessagePack can't hold.

The encoder's own method: a frame goes out without a Python call around it."""


def encode_request(
    id: int,
    rpc: str,
    metadata: Metadata,
    options: Options | None,
    data: Any = NO_DATA,
) -> bytes:
    """Encode a REQUEST; with `data` left out the array ends before it (no data, not `nil`)."""
    if data is NO_DATA:
        return _encoder.encode([FrameType.REQUEST, id, rpc, metadata, options])
    return _encoder.encode([FrameType.REQUEST, id, rpc, metadata, options, data])


def payload(value: Any) -> msgspec.Raw:
    """Let an outgoing frame carry `value` in a field that incoming frames decode as `Raw`."""
    return value  # type: ignore[no-any-return]


class FrameDecoder:
    """Decodes the frames one side receives. Cheap to make: the msgspec decoder for a set of
    frames is built once per process and shared (it keeps no state between messages).

    Args:
        frames: The frame classes this side accepts; a known type outside them is an error.
    """

    __slots__ = ("_accepted", "_decoder")

    def __init__(self, frames: tuple[type[_Frame], ...]) -> None:
        built = _built.get(frames)
        if built is None:
            decoder = msgspec.msgpack.Decoder(frames[0] if len(frames) == 1 else _union(frames))
            accepted = frozenset(int(f.__struct_config__.tag) for f in frames)  # type: ignore[arg-type]
            built = _built[frames] = (decoder, accepted)
        self._decoder, self._accepted = built

    def decode(self, message: bytes) -> Frame | None:
        """Decode one message into a frame; `None` for an extension frame this side ignores.

        Raises:
            FrameError: The message is not a frame this side can act on.
        """
        try:
            return self._decoder.decode(message)  # type: ignore[no-any-return]
        except DECODE_ERRORS as exc:
            type_, id_ = peek(message)
            if type_ is not None and type_ >= EXTENSION_TYPES:
                return None
            raise FrameError(self._describe(type_, str(exc)), type_, id_) from None

    def _describe(self, type_: int | None, problem: str) -> str:
        if type_ is None:
            return f"not a frame: {problem}"
        if type_ not in FrameType.__members__.values():
            return f"unknown frame type {type_}"
        name = FrameType(type_).name
        if type_ not in self._accepted:
            return f"unexpected frame type {name}"
        return f"malformed {name} frame: {problem}"


_built: Final[dict[tuple[type[_Frame], ...], tuple[msgspec.msgpack.Decoder[Any], frozenset[int]]]] = {}
"""`FrameDecoder`'s decoders by the frames they accept: one entry per set of frames this code
names (`CLIENT_FRAMES`, `SERVER_FRAMES`, a test's), so it stays a few entries long."""


def _union(frames: tuple[type[_Frame], ...]) -> Any:
    union: Any = frames[0]
    for frame in frames[1:]:
        union = union | frame
    return union


def peek(message: bytes) -> tuple[int | None, int | None]:
    """Read the type and id at the head of a message without decoding the rest.

    Cheap on any size, and reads truncated or otherwise broken messages too: used for oversized
    messages and to place errors for malformed ones. Returns `None` for what cannot be read as a
    non-negative integer, and for an id above `MAX_ID`. Never raises.
    """
    length, head = _head(message)
    first, rest = _read_uint(head) if length >= 1 else (None, None)
    second, _ = _read_uint(rest) if length >= 2 and rest is not None else (None, None)
    return first, second if second is not None and second <= MAX_ID else None


def _head(message: bytes) -> tuple[int, bytes]:
    """The length of the array `message` holds and the bytes after its header that may hold
    its first two integers (1 + 8 each); `(0, b"")` when it is not an array."""
    marker = message[0] if message else 0
    if 0x90 <= marker <= 0x9F:
        return marker - 0x90, message[1:19]
    if marker == 0xDC or marker == 0xDD:
        start = 3 if marker == 0xDC else 5
        return int.from_bytes(message[1:start], "big"), message[start : start + 18]
    return 0, b""


_UINT_WIDTHS: Final = {0xCC: 1, 0xCD: 2, 0xCE: 4, 0xCF: 8}
_INT_WIDTHS: Final = {0xD0: 1, 0xD1: 2, 0xD2: 4, 0xD3: 8}


def _read_uint(data: bytes) -> tuple[int | None, bytes | None]:
    """The non-negative integer at the start of `data` (`None` if there is none) and the bytes
    after it (`None` if what starts `data` is not an integer)."""
    if not data:
        return None, None
    marker = data[0]
    if marker <= 0x7F:
        return marker, data[1:]
    if marker >= 0xE0:  # a negative fixint
        return None, data[1:]
    width = _UINT_WIDTHS.get(marker)
    signed = width is None
    if signed:
        width = _INT_WIDTHS.get(marker)
    if width is None or len(data) < 1 + width:
        return None, None
    value = int.from_bytes(data[1 : 1 + width], "big", signed=signed)
    return (value if value >= 0 else None), data[1 + width :]
