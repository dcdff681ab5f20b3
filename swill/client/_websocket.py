"""A WebSocket client connection over asyncio, driven by websockets' sans-I/O `ClientProtocol`.

Only public APIs of `websockets`: `ClientProtocol` (handshake, framing, the closing handshake,
answering pings) fed with the bytes of an `asyncio.Protocol`; its `Frame` and `Response` events.

Rules:

1. Bytes in: `data_received` feeds the protocol and takes its events at once, in the transport's
   callback: whole data messages go to `inbox`, for `receive_batch` (a stream's messages come
   many to a TCP segment: one await takes them all).
2. Bytes out: `send` queues its message in the protocol, then waits while asyncio's write buffer
   is over its high-water mark. What the tasks of one turn of the event loop send goes out in
   one write at its end (64 calls in flight: one system call, not 64; the server reads them in
   one go too). A cancelled `send` never cuts a message: it is queued whole before any wait.
3. Bounded: reading pauses while `READ_HIGH` messages wait in `inbox` (as `max_queue` does for
   websockets' own connections), and a message larger than `max_size` closes with 1009.
4. Closing: the closing handshake, then the TCP connection; whatever does not finish within
   `close_timeout` is aborted.
"""

from __future__ import annotations

import asyncio
import logging
import os
import ssl as ssl_module
from collections.abc import Mapping, Sequence
from typing import Final, cast

from websockets.client import ClientProtocol
from websockets.exceptions import InvalidHandshake, InvalidStatus
from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory
from websockets.frames import Frame, Opcode
from websockets.http11 import Response
from websockets.protocol import State
from websockets.typing import Origin, Subprotocol
from websockets.uri import parse_uri
from websockets.version import version as websockets_version

from .. import __version__
from ._transport import AsyncTransport, TransportClosed, TransportConnection, TransportError

__all__ = ["READ_HIGH", "WebSocketConnection", "WebSocketTransport", "open_connection"]

USER_AGENT: Final = f"swill/{__version__} websockets/{websockets_version}"

READ_HIGH: Final = 512
"""Messages that may wait in a connection's inbox before it stops reading the socket."""


class _FramelessLogger(logging.LoggerAdapter):  # type: ignore[type-arg]
    """websockets' client logger, without its DEBUG lines: they show each frame's bytes, and the
    AUTH frame's bytes are credentials, which never go into logs."""

    def isEnabledFor(self, level: int) -> bool:
        return level > logging.DEBUG and self.logger.isEnabledFor(level)


_FRAMELESS_LOGGER: Final = _FramelessLogger(logging.getLogger("websockets.client"), {})


class WebSocketConnection(asyncio.Protocol):
    """One client connection: bytes through websockets' `ClientProtocol`, messages in `inbox`."""

    def __init__(self, protocol: ClientProtocol, close_timeout: float | None) -> None:
        self.ws = protocol
        self.close_timeout = close_timeout
        self.loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self.inbox: list[bytes | str] = []
        self.subprotocol: str | None = None
        self._fragments: list[bytes] | None = None
        self._fragments_text = False
        self._reading_paused = False
        self._waiter: asyncio.Future[None] | None = None  # receive_batch waiting for a message
        self._drain: asyncio.Future[None] | None = None  # send waiting for room
        self._writing_paused = False
        self._handshake: asyncio.Future[None] = self.loop.create_future()
        self._lost: asyncio.Future[None] = self.loop.create_future()
        self._pongs: dict[bytes, asyncio.Future[None]] = {}
        self._abort_timer: asyncio.TimerHandle | None = None
        self._flush_soon = False  # a `_flush` is scheduled for the end of this turn of the loop

    # asyncio.Protocol.

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's are not subclasses
        self._flush()

    def data_received(self, data: bytes) -> None:
        self.ws.receive_data(data)
        self._events()

    def eof_received(self) -> None:
        self.ws.receive_eof()
        self._events()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._abort_timer is not None:
            self._abort_timer.cancel()
        if not self._lost.done():
            self._lost.set_result(None)
        if not self._handshake.done():
            self._handshake.set_exception(TransportError(f"the connection closed during the handshake: {exc}"))
        self._wake()
        for pong in self._pongs.values():
            if not pong.done():
                pong.set_exception(self.closed())
        if self._drain is not None and not self._drain.done():
            self._drain.set_result(None)

    def pause_writing(self) -> None:
        self._writing_paused = True

    def resume_writing(self) -> None:
        self._writing_paused = False
        if self._drain is not None and not self._drain.done():
            self._drain.set_result(None)

    # Events from the protocol.

    def _events(self) -> None:
        inbox = self.inbox
        before = len(inbox)
        for event in self.ws.events_received():
            if type(event) is Frame:
                opcode = event.opcode
                if opcode is Opcode.BINARY and event.fin:
                    inbox.append(bytes(event.data))  # a whole binary message: the usual case
                elif opcode is Opcode.PONG:
                    pong = self._pongs.pop(bytes(event.data), None)
                    if pong is not None and not pong.done():
                        pong.set_result(None)
                elif opcode in (Opcode.TEXT, Opcode.BINARY, Opcode.CONT):
                    self._fragment(event)
            elif isinstance(event, Response):
                self._handshook(event)
        self._flush()
        if len(inbox) != before:
            self._wake()
            if len(inbox) >= READ_HIGH and not self._reading_paused and self.transport is not None:
                self._reading_paused = True
                self.transport.pause_reading()

    def _fragment(self, frame: Frame) -> None:
        data = bytes(frame.data)
        if frame.opcode is Opcode.CONT:
            assert self._fragments is not None
            self._fragments.append(data)
            if frame.fin:
                message = b"".join(self._fragments)
                self._fragments = None
                self.inbox.append(message.decode() if self._fragments_text else message)
        elif frame.fin:
            self.inbox.append(data.decode())  # a whole text message
        else:
            self._fragments = [data]
            self._fragments_text = frame.opcode is Opcode.TEXT

    def _handshook(self, response: Response) -> None:
        if self._handshake.done():
            return
        error = self.ws.handshake_exc
        if error is not None:
            self._handshake.set_exception(error)
            return
        self.subprotocol = response.headers.get("Sec-WebSocket-Protocol")
        self._handshake.set_result(None)

    def _flush(self) -> None:
        self._flush_soon = False
        transport = self.transport
        if transport is None:
            return
        chunks = self.ws.data_to_send()
        if not chunks:
            return
        if chunks[-1]:  # the usual case: frames only, written in one go
            transport.write(chunks[0] if len(chunks) == 1 else b"".join(chunks))
        else:
            for data in chunks:
                if data:
                    transport.write(data)
                elif transport.can_write_eof():
                    transport.write_eof()
        if self.ws.close_expected() and self._abort_timer is None:
            # The peer should now close TCP; don't wait forever for it.
            self._abort_timer = self.loop.call_later(self.close_timeout or 0, transport.abort)

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # What the client uses.

    def closed(self) -> TransportClosed:
        """The exception for a closed connection: the peer's close frame, else ours, else 1006."""
        ws = self.ws
        close = ws.close_rcvd or ws.close_sent
        return TransportClosed(close.code, close.reason) if close is not None else TransportClosed()

    async def handshake(self) -> None:
        await self._handshake

    async def send(self, message: bytes) -> None:
        if self.ws.state is not State.OPEN or self._lost.done():
            raise self.closed()
        self.ws.send_binary(message)
        if not self._flush_soon:
            # What the tasks of this turn of the loop send goes out in one write, at its end.
            self._flush_soon = True
            self.loop.call_soon(self._flush)
        if self._writing_paused:
            if self._drain is None or self._drain.done():
                self._drain = self.loop.create_future()
            await asyncio.shield(self._drain)

    def send_soon(self, message: bytes) -> bool:
        """`send` when it would not wait: False when closed or congested (then `send` it)."""
        if self._writing_paused or self.ws.state is not State.OPEN or self._lost.done():
            return False
        self.ws.send_binary(message)
        if not self._flush_soon:
            self._flush_soon = True
            self.loop.call_soon(self._flush)
        return True

    def send_nowait(self, message: bytes) -> bool:
        """Write `message` at once, with what is queued before it; False when closed."""
        if self.ws.state is not State.OPEN or self._lost.done():
            return False
        self.ws.send_binary(message)
        self._flush()
        return True

    async def receive_batch(self) -> list[bytes | str]:
        while not self.inbox:
            if self._lost.done():
                raise self.closed()
            self._waiter = self.loop.create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        batch, self.inbox = self.inbox, []
        if self._reading_paused and self.transport is not None:
            self._reading_paused = False
            self.transport.resume_reading()
        return batch

    async def ping(self) -> None:
        """Send a WebSocket ping and wait for its pong."""
        payload = os.urandom(4)
        pong = self._pongs[payload] = self.loop.create_future()
        self.ws.send_ping(payload)
        self._flush()
        await pong

    async def close(self, code: int, reason: str) -> None:
        """The closing handshake, then the end of the TCP connection, within `close_timeout`."""
        transport = self.transport
        if transport is None or self._lost.done():
            return
        if self.ws.state is State.OPEN:
            self.ws.send_close(code, reason)
            self._flush()
        try:
            async with asyncio.timeout(self.close_timeout):
                await asyncio.shield(self._lost)
        except TimeoutError:
            transport.abort()
            await self._lost


async def open_connection(
    url: str,
    *,
    subprotocols: Sequence[str],
    headers: Mapping[str, str],
    max_size: int | None,
    compression: str | None,
    ssl: ssl_module.SSLContext | None,
    close_timeout: float | None,
) -> WebSocketConnection:
    """Open a TCP (or TLS) connection to `url` and make the opening handshake.

    Raises:
        TransportError: The URL is invalid, or the connection or the handshake failed (an
            `InvalidStatus` from websockets as its cause when the server answered with HTTP).
    """
    try:
        uri = parse_uri(url)
    except Exception as exc:
        raise TransportError(f"invalid WebSocket URL {url!r}: {exc}") from exc
    extensions = [ClientPerMessageDeflateFactory()] if compression == "deflate" else None
    protocol = ClientProtocol(
        uri,
        logger=_FRAMELESS_LOGGER,
        subprotocols=[Subprotocol(s) for s in subprotocols] or None,
        extensions=extensions,
        max_size=max_size,
        origin=Origin(headers["Origin"]) if "Origin" in headers else None,
    )
    request = protocol.connect()
    request.headers["User-Agent"] = USER_AGENT
    for name, value in headers.items():
        if name.lower() == "user-agent":
            del request.headers["User-Agent"]
        if name.lower() != "origin":
            request.headers[name] = value
    protocol.send_request(request)
    loop = asyncio.get_running_loop()
    context = (ssl or ssl_module.create_default_context()) if uri.secure else None
    _, connection = await loop.create_connection(
        lambda: WebSocketConnection(protocol, close_timeout),
        uri.host,
        uri.port,
        ssl=context,
        server_hostname=uri.host if context is not None else None,
    )
    try:
        await connection.handshake()
    except BaseException:
        if connection.transport is not None:
            connection.transport.abort()
        raise
    return connection


class WebSocketTransport(AsyncTransport):
    """Connections over the network: websockets' sans-I/O client protocol on asyncio.

    Args:
        open_timeout: Seconds allowed for the TCP connection and the handshake.
        close_timeout: Seconds allowed for the closing handshake before the TCP connection is
            dropped.
        ping_interval: Seconds between WebSocket-level pings (`None`: none).
        ping_timeout: Seconds to wait for a pong before dropping the connection.
        compression: `"deflate"` to offer permessage-deflate; off by default, since MessagePack
            frames are small and compressing them costs more CPU than it saves.
        ssl: The TLS context for `wss://` URLs (default: the system's trusted certificates).
    """

    def __init__(
        self,
        *,
        open_timeout: float | None = 10.0,
        close_timeout: float | None = 5.0,
        ping_interval: float | None = 20.0,
        ping_timeout: float | None = 20.0,
        compression: str | None = None,
        ssl: ssl_module.SSLContext | None = None,
    ) -> None:
        if compression not in (None, "deflate"):
            raise ValueError(f"compression must be None or 'deflate', got {compression!r}")
        self.open_timeout = open_timeout
        self.close_timeout = close_timeout
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.compression = compression
        self.ssl = ssl

    async def connect(
        self,
        url: str,
        *,
        subprotocols: Sequence[str],
        headers: Mapping[str, str],
        max_size: int | None,
    ) -> TransportConnection:
        try:
            async with asyncio.timeout(self.open_timeout):
                connection = await open_connection(
                    url,
                    subprotocols=subprotocols,
                    headers=headers,
                    max_size=max_size,
                    compression=self.compression,
                    ssl=self.ssl,
                    close_timeout=self.close_timeout,
                )
        except InvalidStatus as exc:
            raise TransportError(
                f"the server refused the WebSocket handshake with HTTP {exc.response.status_code}"
            ) from exc
        except TransportError:
            raise
        except (OSError, TimeoutError, InvalidHandshake) as exc:
            raise TransportError(str(exc) or type(exc).__name__) from exc
        return _Connection(connection, self.ping_interval, self.ping_timeout)


class _Connection(TransportConnection):
    __slots__ = ("_connection", "_keepalive", "subprotocol")

    def __init__(
        self, connection: WebSocketConnection, ping_interval: float | None, ping_timeout: float | None
    ) -> None:
        self._connection = connection
        self.subprotocol = connection.subprotocol
        self._keepalive: asyncio.Task[None] | None = None
        if ping_interval is not None:
            self._keepalive = connection.loop.create_task(
                self._ping(ping_interval, ping_timeout), name="swill websocket keepalive"
            )

    async def _ping(self, interval: float, wait: float | None) -> None:
        connection = self._connection
        while True:
            await asyncio.sleep(interval)
            try:
                async with asyncio.timeout(wait):
                    await connection.ping()
            except TimeoutError:
                if connection.transport is not None:
                    connection.transport.abort()  # a dead peer: the reader sees 1006
                return
            except TransportClosed:
                return

    async def send(self, message: bytes) -> None:
        await self._connection.send(message)

    def send_soon(self, message: bytes) -> bool:
        return self._connection.send_soon(message)

    def send_nowait(self, message: bytes) -> bool:
        return self._connection.send_nowait(message)

    async def receive(self) -> bytes | str:
        connection = self._connection
        if not connection.inbox:
            connection.inbox = await connection.receive_batch()
        return connection.inbox.pop(0)

    async def receive_batch(self) -> list[bytes | str]:
        return await self._connection.receive_batch()

    async def close(self, code: int = 1000, reason: str = "") -> None:
        if self._keepalive is not None:
            self._keepalive.cancel()
        await self._connection.close(code, reason)
