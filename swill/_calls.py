"""The state of one call, as a table, with its flow-control credit. Sans-I/O.

A call has two halves, one per direction, and each moves through its own table:

- The request half (client → server) is OPEN while the client may still send DATA, DONE after
  END_OF_STREAM (or from the start, for a single-request handler on the server side).
- The response half (server → client) goes IDLE → LEADING (METADATA sent) → STREAMING (DATA
  sent) → DONE (RESPONSE, END_OF_STREAM or ERROR sent). RESPONSE may not follow DATA.

Both peers keep the same `CallState`; `role` says which half this side sends. A move that is not
in the table raises `LocalProtocolError` when this side made it and `RemoteProtocolError` when the
peer did, so the same table guards what we send and checks what we receive.

Credit (docs/protocol.md, "Flow control") counts DATA frames only. `send_credit` is what this side
may still send (`None`: unlimited); `receive_credit` is what the peer may still send before it must wait.
"""

from __future__ import annotations

from enum import Enum
from typing import Final

import msgspec

from ._errors import Code, LocalProtocolError, RemoteProtocolError
from ._frames import UNLIMITED, FrameType

__all__ = ["CallState", "Half", "Role"]


class Role(Enum):
    CLIENT = "client"
    SERVER = "server"


class Half(Enum):
    """The states of either half of a call."""

    OPEN = "OPEN"  # request half: the client may send more
    IDLE = "IDLE"  # response half: nothing sent yet
    LEADING = "LEADING"  # response half: leading metadata sent
    STREAMING = "STREAMING"  # response half: DATA sent
    DONE = "DONE"

    # Members are singletons: hash them by identity, in C, not by name (the tables are looked
    # up on every frame).
    __hash__ = object.__hash__


# Read on every frame: module globals, not enum members through their classes (ten times the cost
# on Python 3.11).
_DONE: Final = Half.DONE
_SERVER: Final = Role.SERVER
_CLIENT: Final = Role.CLIENT
_DATA: Final = FrameType.DATA

REQUEST_HALF: Final[dict[Half, dict[FrameType, Half]]] = {
    Half.OPEN: {FrameType.DATA: Half.OPEN, FrameType.END_OF_STREAM: Half.DONE},
    Half.DONE: {},
}

RESPONSE_HALF: Final[dict[Half, dict[FrameType, Half]]] = {
    Half.IDLE: {
        FrameType.METADATA: Half.LEADING,
        FrameType.DATA: Half.STREAMING,
        FrameType.RESPONSE: Half.DONE,
        FrameType.END_OF_STREAM: Half.DONE,
        FrameType.ERROR: Half.DONE,
    },
    Half.LEADING: {
        FrameType.DATA: Half.STREAMING,
        FrameType.RESPONSE: Half.DONE,
        FrameType.END_OF_STREAM: Half.DONE,
        FrameType.ERROR: Half.DONE,
    },
    Half.STREAMING: {
        FrameType.DATA: Half.STREAMING,
        FrameType.END_OF_STREAM: Half.DONE,
        FrameType.ERROR: Half.DONE,
    },
    Half.DONE: {},
}


class CallState(msgspec.Struct, gc=False):
    """One call's two halves and its credit. A Struct, built in C: one is made per call.

    Args:
        id: The call id.
        role: Which side this state lives on.
        request: The request half's state: `Half.OPEN` when the client may send DATA after
            REQUEST, else `Half.DONE`.
        send_credit: DATA frames this side may send before the peer grants more (`None`: no limit).
        receive_credit: DATA frames the peer may send before this side grants more (`None`: no limit).
        response: The response half's state.
    """

    id: int
    role: Role
    request: Half
    send_credit: int | None = None
    receive_credit: int | None = None
    response: Half = Half.IDLE

    @property
    def done(self) -> bool:
        """True once the frame that ends the call has gone (or come) through."""
        return self.response is _DONE

    def send(self, frame: FrameType) -> None:
        """Record that this side sends `frame` for the call.

        Raises:
            LocalProtocolError: The protocol does not allow it now, or DATA without credit.
        """
        response = self.role is _SERVER  # the server sends the response half
        half = self.response if response else self.request
        new = (RESPONSE_HALF if response else REQUEST_HALF)[half].get(frame)
        if new is None:
            raise LocalProtocolError(f"can't send {frame.name} on call {self.id} in state {half.name}")
        if frame is _DATA and self.send_credit is not None:
            if self.send_credit <= 0:
                raise LocalProtocolError(f"no credit to send DATA on call {self.id}")
            self.send_credit -= 1
        if response:
            self.response = new
        else:
            self.request = new

    def receive(self, frame: FrameType) -> None:
        """Record that the peer sent `frame` for the call.

        Raises:
            RemoteProtocolError: The protocol does not allow it now (`INVALID_ARGUMENT`), or DATA
                beyond the credit this side granted (`RESOURCE_EXHAUSTED`).
        """
        response = self.role is _CLIENT  # the client receives the response half
        half = self.response if response else self.request
        new = (RESPONSE_HALF if response else REQUEST_HALF)[half].get(frame)
        if new is None:
            raise RemoteProtocolError(_unexpected(frame, half, self.role))
        if frame is _DATA and self.receive_credit is not None:
            if self.receive_credit <= 0:
                raise RemoteProtocolError("DATA beyond the granted credit", Code.RESOURCE_EXHAUSTED)
            self.receive_credit -= 1
        if response:
            self.response = new
        else:
            self.request = new

    def grant(self, n: int) -> None:
        """Allow the peer `n` more DATA frames."""
        if self.receive_credit is not None:
            self.receive_credit = None if n >= UNLIMITED else self.receive_credit + n

    def granted(self, n: int) -> None:
        """The peer allowed this side `n` more DATA frames."""
        if self.send_credit is not None:
            self.send_credit = None if n >= UNLIMITED else self.send_credit + n

    def can_send_data(self) -> bool:
        """Whether DATA may go now as far as credit goes."""
        return self.send_credit is None or self.send_credit > 0


def _unexpected(frame: FrameType, half: Half, role: Role) -> str:
    if role is Role.SERVER and half is Half.DONE:
        if frame is FrameType.DATA or frame is FrameType.END_OF_STREAM:
            return f"{frame.name} after the request was complete"
    return f"unexpected {frame.name} in state {half.name}"
