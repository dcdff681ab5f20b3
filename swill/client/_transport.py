"""What the client talks through: an `AsyncTransport` opens `TransportConnection`s.

A transport carries whole WebSocket messages and knows nothing of frames (httpx's
`AsyncBaseTransport` plays the same part for HTTP). `WebSocketTransport` uses the `websockets`
library's asyncio client; `swill.client.ASGITransport` calls an ASGI app in-process.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI
from websockets.typing import Subprotocol

__all__ = [
    "AsyncTransport",
    "TransportClosed",
    "TransportConnection",
    "TransportError",
    "WebSocketTransport",
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

    @abc.abstractmethod
    async def receive(self) -> bytes | str:
        """The next message: `bytes` for a binary message, `str` for a text one.

        Raises:
            TransportClosed: The connection closed; its code and reason are on the exception.
        """

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


class WebSocketTransport(AsyncTransport):
    """Connections over the network, with the `websockets` library's asyncio client.

    Args:
        open_timeout: Seconds allowed for the TCP connection and the handshake.
        ping_interval: Seconds between WebSocket-level pings (`None`: none).
        ping_timeout: Seconds to wait for a pong before dropping the connection.
        compression: `"deflate"` to offer permessage-deflate; off by default, since MessagePack
            frames are small and compressing them costs more CPU than it saves.
        **options: Passed on to `websockets.asyncio.client.connect`.
    """

    def __init__(
        self,
        *,
        open_timeout: float | None = 10.0,
        ping_interval: float | None = 20.0,
        ping_timeout: float | None = 20.0,
        compression: str | None = None,
        **options: Any,
    ) -> None:
        self.options: dict[str, Any] = {
            "open_timeout": open_timeout,
            "ping_interval": ping_interval,
            "ping_timeout": ping_timeout,
            "compression": compression,
            **options,
        }

    async def connect(
        self,
        url: str,
        *,
        subprotocols: Sequence[str],
        headers: Mapping[str, str],
        max_size: int | None,
    ) -> TransportConnection:
        try:
            websocket = await connect(
                url,
                subprotocols=[Subprotocol(s) for s in subprotocols],
                additional_headers=dict(headers),
                max_size=max_size,
                **self.options,
            )
        except InvalidStatus as exc:
            raise TransportError(
                f"the server refused the WebSocket handshake with HTTP {exc.response.status_code}"
            ) from exc
        except InvalidURI as exc:
            raise TransportError(f"invalid WebSocket URL {url!r}: {exc}") from exc
        except (OSError, TimeoutError, InvalidHandshake) as exc:
            raise TransportError(str(exc) or type(exc).__name__) from exc
        return _WebSocketConnection(websocket)


class _WebSocketConnection(TransportConnection):
    __slots__ = ("_websocket", "subprotocol")

    def __init__(self, websocket: ClientConnection) -> None:
        self._websocket = websocket
        self.subprotocol = websocket.subprotocol

    async def send(self, message: bytes) -> None:
        try:
            await self._websocket.send(message)
        except ConnectionClosed as exc:
            raise _closed(exc) from None

    async def receive(self) -> bytes | str:
        try:
            return await self._websocket.recv()
        except ConnectionClosed as exc:
            raise _closed(exc) from None

    async def close(self, code: int = 1000, reason: str = "") -> None:
        await self._websocket.close(code, reason)


def _closed(exc: ConnectionClosed) -> TransportClosed:
    close = exc.rcvd or exc.sent  # the peer's close, else ours (1009 for a message too big)
    if close is None:
        return TransportClosed(1006, "")
    return TransportClosed(close.code, close.reason)
