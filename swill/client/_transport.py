"""What the client talks through: an `AsyncTransport` opens `TransportConnection`s.

A transport carries whole WebSocket messages and knows nothing of frames (httpx's
`AsyncBaseTransport` plays the same part for HTTP). `WebSocketTransport` (`_websocket.py`) drives
websockets' sans-I/O client protocol over asyncio; `swill.client.ASGITransport` calls an ASGI app
in-process.

Messages are received in batches (`receive_batch`): everything that has arrived, in one await,
since a stream's messages come many to a TCP segment.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence

__all__ = [
    "AsyncTransport",
    "TransportClosed",
    "TransportConnection",
    "TransportError",
]


class TransportError(Exception):
    """A connection could not be opened (refused, unreachable, handshake refused)."""


class TransportClosed(TransportError):
    """The connection is closed.

    Args:
        code: The WebSocket close code; 1006 when it was lost without a closing handshake.
        reason: The close reason the peer sent.
    """

    def __init__(self, code: int = 1006, reason: str = "") -> None:
        self.code = code
        self.reason = reason
        super().__init__(f"connection closed with code {code}" + (f" ({reason})" if reason else ""))


class TransportConnection(abc.ABC):
    """One open WebSocket connection."""

    subprotocol: str | None = None
    """The subprotocol the server selected, if any."""

    @abc.abstractmethod
    async def send(self, message: bytes) -> None:
        """Send one binary message: write it, then wait while the connection is congested.

        The client relies on the order: once `send` is called the message goes out, even if the
        caller is cancelled while `send` waits for room.

        Raises:
            TransportClosed: The connection is closed.
        """

    def send_nowait(self, message: bytes) -> bool:
        """Send one binary message now, from code that can't await, if the transport can.

        Returns:
            False when it can't (the default): the caller sends it with `send` instead.
        """
        return False

    def send_soon(self, message: bytes) -> bool:
        """Queue one binary message to go out without waiting, when the connection has room now.

        Returns:
            False when it can't (the default; or closed, or congested): the caller sends it
            with `send` instead.
        """
        return False

    @abc.abstractmethod
    async def receive(self) -> bytes | str:
        """The next message: `bytes` for a binary message, `str` for a text one.

        Raises:
            TransportClosed: The connection closed; its code and reason are on the exception.
        """

    async def receive_batch(self) -> list[bytes | str]:
        """The messages that have arrived, in order: at least one (waits for it).

        Raises:
            TransportClosed: The connection closed, and every message before the close was
                returned already.
        """
        return [await self.receive()]

    @abc.abstractmethod
    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close the connection (a no-op when it is already closed)."""


class AsyncTransport(abc.ABC):
    """Opens connections for a `swill.Client`."""

    @abc.abstractmethod
    async def connect(
        self,
        url: str,
        *,
        subprotocols: Sequence[str],
        headers: Mapping[str, str],
        max_size: int | None,
    ) -> TransportConnection:
        """Open a WebSocket connection to `url`.

        Args:
            url: A `ws://` or `wss://` URL.
            subprotocols: The subprotocols to offer.
            headers: Extra HTTP headers for the handshake.
            max_size: The largest message to accept, in bytes (`None`: no limit).

        Raises:
            TransportError: The connection could not be opened.
        """
