"""Errors: the one an application raises, and the ones the protocol core raises.

```
Exception
├── Error                    a call failed: code, message, data, metadata (user-facing)
└── ProtocolError            a peer broke docs/protocol.md; never seen by handlers
    ├── LocalProtocolError   this side tried to send something illegal (a bug here)
    └── RemoteProtocolError  the peer sent something illegal; carries the Code to answer with
```
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

__all__ = [
    "Code",
    "Error",
    "LocalProtocolError",
    "ProtocolError",
    "RemoteProtocolError",
]


class Code(StrEnum):
    """The canonical gRPC status names, as they travel on the wire (docs/protocol.md, "Error codes")."""

    CANCELLED = "CANCELLED"
    UNKNOWN = "UNKNOWN"
    INVALID_ARGUMENT = "INVALID_ARGUMENT"
    DEADLINE_EXCEEDED = "DEADLINE_EXCEEDED"
    NOT_FOUND = "NOT_FOUND"
    ALREADY_EXISTS = "ALREADY_EXISTS"
    PERMISSION_DENIED = "PERMISSION_DENIED"
    RESOURCE_EXHAUSTED = "RESOURCE_EXHAUSTED"
    FAILED_PRECONDITION = "FAILED_PRECONDITION"
    ABORTED = "ABORTED"
    OUT_OF_RANGE = "OUT_OF_RANGE"
    UNIMPLEMENTED = "UNIMPLEMENTED"
    INTERNAL = "INTERNAL"
    UNAVAILABLE = "UNAVAILABLE"
    DATA_LOSS = "DATA_LOSS"
    UNAUTHENTICATED = "UNAUTHENTICATED"

    @classmethod
    def parse(cls, value: str) -> Code:
        """The code named `value`, or `UNKNOWN` for a name this version does not know."""
        try:
            return cls(value)
        except ValueError:
            return cls.UNKNOWN


class Error(Exception):
    """A call that failed, with a code the peer understands.

    Raise it from a handler or a hook to end the call with an ERROR frame; the clients raise it
    when a call fails.

    Args:
        code: One of the canonical codes; a plain string is converted.
        message: A message meant for people.
        data: Any value MessagePack can carry, e.g. validation details.
        metadata: Trailing metadata to send with the ERROR frame.
    """

    code: Code
    message: str
    data: Any
    metadata: dict[str, Any] | None

    def __init__(
        self,
        code: Code | str,
        message: str = "",
        data: Any = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        self.code = code if isinstance(code, Code) else Code.parse(code)
        self.message = message
        self.data = data
        self.metadata = metadata
        super().__init__(code, message)

    def __str__(self) -> str:
        return f"{self.code.value}: {self.message}" if self.message else self.code.value

    def __repr__(self) -> str:
        return f"Error({self.code.value!r}, {self.message!r})"


class ProtocolError(Exception):
    """A violation of the wire protocol. Abstract: raise a subclass."""


class LocalProtocolError(ProtocolError):
    """This side tried to do something the protocol forbids, such as DATA after END_OF_STREAM."""


class RemoteProtocolError(ProtocolError):
    """The peer sent something the protocol forbids.

    Args:
        code: The code to answer with (`INVALID_ARGUMENT` unless a limit was broken).
        message: What was wrong, for people.
    """

    def __init__(self, message: str, code: Code = Code.INVALID_ARGUMENT) -> None:
        self.code = code
        self.message = message
        super().__init__(message)
