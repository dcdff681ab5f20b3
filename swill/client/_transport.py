"""What the client talks through: an `AsyncTransport` opens `TransportConnection`s.

A transport carries whole WebSocket messages and knows nothing of frames (httpx's
`AsyncBaseTransport` plays the same part for HTTP). `WebSocketTransport` uses the `websockets`
library's asyncio client; `swill.client.ASGITransport` calls an ASGI app in-process.

Messages are received in batches (`receive_batch`): everything that has arrived, in one await,
since a stream's messages come many to a TCP segment.
"""

from __future__ import annotations

import abc
import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI
from websockets.frames import DATA_OPCODES, Frame, Opcode
from websockets.protocol import Event, State
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


class WebSocketTransport(AsyncTransport):
    """Connections over the network, with the `websockets` library's asyncio client.

    Args:
        open_timeout: Seconds allowed for the TCP connection and the handshake.
        close_timeout: Seconds allowed for the closing handshake before the TCP connection is
            dropped.
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
        close_timeout: float | None = 5.0,
        ping_interval: float | None = 20.0,
        ping_timeout: float | None = 20.0,
        compression: str | None = None,
        **options: Any,
    ) -> None:
        self.options: dict[str, Any] = {
            "open_timeout": open_timeout,
            "close_timeout": close_timeout,
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
                create_connection=_BatchingConnection,
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
        assert isinstance(websocket, _BatchingConnection)
        return _WebSocketConnection(websocket)


class _BatchingConnection(ClientConnection):
    """websockets' client connection, keeping data messages for `receive_batch` as they are
    parsed, rather than queueing them one by one for `recv()`. Control frames (ping, pong,
    close) and the handshake go through websockets as usual.

    Reading pauses while `READ_HIGH` messages wait, as `recv()`'s queue does (`max_queue`).
    """

    READ_HIGH = 512

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.inbox: list[bytes | str] = []
        self.inbox_waiter: asyncio.Future[None] | None = None
        self.fragments: list[bytes] | None = None
        self.fragments_text = False
        self.reading_paused = False

    def process_event(self, event: Event) -> None:
        if type(event) is not Frame or event.opcode not in DATA_OPCODES:
            super().process_event(event)  # the handshake's response, control frames
            return
        data = event.data if type(event.data) is bytes else bytes(event.data)
        if event.opcode is Opcode.BINARY and event.fin:
            self.inbox.append(data)  # a whole binary message: the usual case
        elif event.opcode is Opcode.CONT:
            assert self.fragments is not None
            self.fragments.append(data)
            if event.fin:
                message = b"".join(self.fragments)
                self.fragments = None
                self.inbox.append(message.decode() if self.fragments_text else message)
        elif event.fin:
            self.inbox.append(data.decode())  # a whole text message
        else:
            self.fragments = [data]
            self.fragments_text = event.opcode is Opcode.TEXT
        self._inbox_changed()

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        self._inbox_changed()

    def _inbox_changed(self) -> None:
        waiter = self.inbox_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        if len(self.inbox) >= self.READ_HIGH and not self.reading_paused:
            self.reading_paused = True
            self.transport.pause_reading()

    async def receive_batch(self) -> list[bytes | str]:
        while not self.inbox:
            if self.protocol.state is State.CLOSED:
                close = self.protocol.close_rcvd or self.protocol.close_sent
                raise TransportClosed(close.code, close.reason) if close else TransportClosed()
            self.inbox_waiter = self.loop.create_future()
            try:
                await self.inbox_waiter
            finally:
                self.inbox_waiter = None
        batch, self.inbox = self.inbox, []
        if self.reading_paused:
            self.reading_paused = False
            self.transport.resume_reading()
        return batch


class _WebSocketConnection(TransportConnection):
    __slots__ = ("_websocket", "subprotocol")

    def __init__(self, websocket: _BatchingConnection) -> None:
        self._websocket = websocket
        self.subprotocol = websocket.subprotocol

    async def send(self, message: bytes) -> None:
        try:
            await self._websocket.send(message)
        except ConnectionClosed as exc:
            raise _closed(exc) from None

    async def receive(self) -> bytes | str:
        websocket = self._websocket
        if not websocket.inbox:
            websocket.inbox = await websocket.receive_batch()
        return websocket.inbox.pop(0)

    async def receive_batch(self) -> list[bytes | str]:
        return await self._websocket.receive_batch()

    async def close(self, code: int = 1000, reason: str = "") -> None:
        await self._websocket.close(code, reason)


def _closed(exc: ConnectionClosed) -> TransportClosed:
    close = exc.rcvd or exc.sent  # the peer's close, else ours (1009 for a message too big)
    if close is None:
        return TransportClosed(1006, "")
    return TransportClosed(close.code, close.reason)
