"""`ASGITransport`: connections to an ASGI app called in-process, without sockets.

Each connection runs the app's WebSocket scope as a task on the client's event loop, and the two
sides pass ASGI messages through bounded queues, so a slow reader holds up its writer as a socket
would.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, MutableMapping, Sequence
from typing import Any, Final
from urllib.parse import unquote, urlsplit

from ._transport import AsyncTransport, TransportClosed, TransportConnection, TransportError

__all__ = ["ASGITransport"]

logger: Final = logging.getLogger("swill.client")

Message = MutableMapping[str, Any]
ASGIApp = Callable[[Message, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]], Awaitable[None]]

QUEUE_SIZE: Final = 64
"""ASGI messages queued each way before the sender waits."""

APP_CLOSE_TIMEOUT: Final = 5.0
"""Seconds the app gets to finish a connection after the client closed it."""


class ASGITransport(AsyncTransport):
    """Opens connections to an ASGI app in the same process (for tests: `swill.testing`).

    Args:
        app: The ASGI app, e.g. a `swill.Swill`.
        client: The `(host, port)` the app sees as the client's address.
        state: The lifespan state, copied into each connection's scope (as ASGI servers do).
    """

    def __init__(
        self,
        app: ASGIApp | Any,
        *,
        client: tuple[str, int] = ("testclient", 50000),
        state: dict[str, Any] | None = None,
    ) -> None:
        self.app = app
        self.client = client
        self.state = state if state is not None else {}
        self.errors: list[BaseException] = []
        """Exceptions the app raised out of a connection, in order."""

    async def connect(
        self,
        url: str,
        *,
        subprotocols: Sequence[str],
        headers: Mapping[str, str],
        max_size: int | None,
    ) -> TransportConnection:
        parts = urlsplit(url)
        if parts.scheme not in ("ws", "wss"):
            raise TransportError(f"invalid WebSocket URL {url!r}")
        host = parts.hostname or "testserver"
        port = parts.port or (443 if parts.scheme == "wss" else 80)
        host_header = host if parts.port is None else f"{host}:{port}"
        raw_headers = [(b"host", host_header.encode())]
        raw_headers += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
        if subprotocols:
            raw_headers.append((b"sec-websocket-protocol", ", ".join(subprotocols).encode()))
        scope: dict[str, Any] = {
            "type": "websocket",
            "asgi": {"version": "3.0", "spec_version": "2.4"},
            "http_version": "1.1",
            "scheme": parts.scheme,
            "server": (host, port),
            "client": self.client,
            "root_path": "",
            "path": unquote(parts.path or "/"),
            "raw_path": (parts.path or "/").encode(),
            "query_string": parts.query.encode(),
            "headers": raw_headers,
            "subprotocols": list(subprotocols),
            "state": dict(self.state),
            "extensions": {"websocket.http.response": {}},
        }
        connection = _ASGIConnection(self, scope)
        await connection.open()
        return connection


class _ASGIConnection(TransportConnection):
    """Rules: the client's side raises `TransportClosed` once either side closed; what the app
    sends after the client disconnected is dropped, as a socket would drop it."""

    def __init__(self, transport: ASGITransport, scope: dict[str, Any]) -> None:
        self._transport = transport
        self._scope = scope
        # Unbounded, but a client that has put more than QUEUE_SIZE messages waits for room, after
        # putting its own (a transport writes before it waits).
        self._to_app: asyncio.Queue[MutableMapping[str, Any]] = asyncio.Queue()
        self._room: list[asyncio.Future[None]] = []
        self._to_client: asyncio.Queue[bytes | str | TransportClosed] = asyncio.Queue(QUEUE_SIZE)
        self._accepted: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()
        self._closed: TransportClosed | None = None  # the client's side is over
        self._closing: TransportClosed | None = None  # the app closed; messages before it are out
        self._app_closed = False  # the app closed the connection or returned
        self._disconnected = False  # the client closed the connection
        self._task: asyncio.Task[None] | None = None

    async def open(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="swill ASGI connection")
        self._to_app.put_nowait({"type": "websocket.connect"})
        try:
            self.subprotocol = await self._accepted
        except TransportError:
            await self._task
            raise

    async def _run(self) -> None:
        try:
            await self._transport.app(self._scope, self._receive, self._send)
        except Exception as exc:
            logger.exception("the ASGI app raised an exception")
            self._transport.errors.append(exc)
            self._refuse(TransportError(f"the app raised {exc!r} before accepting the connection"))
            self._app_close(1011, "the app raised an exception")
        else:
            self._refuse(TransportError("the app returned without accepting the connection"))
            self._app_close(1000, "")

    def _refuse(self, error: TransportError) -> None:
        if not self._accepted.done():
            self._accepted.set_exception(error)
            self._accepted.exception()

    def _app_close(self, code: int, reason: str) -> None:
        if self._app_closed:
            return
        self._app_closed = True
        self._make_room()
        closed = TransportClosed(code, reason)
        try:
            self._to_client.put_nowait(closed)
        except asyncio.QueueFull:
            self._closed = self._closed or closed

    # The app's side.

    async def _receive(self) -> MutableMapping[str, Any]:
        message = await self._to_app.get()
        if self._room and self._to_app.qsize() <= QUEUE_SIZE:
            self._make_room()
        return message

    def _make_room(self) -> None:
        room, self._room = self._room, []
        for waiter in room:
            if not waiter.done():
                waiter.set_result(None)

    async def _send(self, message: MutableMapping[str, Any]) -> None:
        kind = message["type"]
        if kind == "websocket.send":
            if not self._disconnected and not self._app_closed:
                data = message.get("bytes")
                await self._to_client.put(data if data is not None else message.get("text") or "")
        elif kind == "websocket.accept":
            if not self._accepted.done():
                self._accepted.set_result(message.get("subprotocol"))
        elif kind == "websocket.close":
            self._refuse(TransportError("the server refused the WebSocket handshake with HTTP 403"))
            self._app_close(message.get("code", 1000), message.get("reason") or "")
        elif kind == "websocket.http.response.start":
            self._refuse(TransportError(f"the server refused the WebSocket handshake with HTTP {message['status']}"))
        # websocket.http.response.body carries nothing the client needs.

    # The client's side.

    async def send(self, message: bytes) -> None:
        if self._closed is not None:
            raise self._closed
        if self._app_closed:
            return
        self._to_app.put_nowait({"type": "websocket.receive", "bytes": message})
        while self._to_app.qsize() > QUEUE_SIZE and not self._app_closed and self._closed is None:
            waiter = asyncio.get_running_loop().create_future()
            self._room.append(waiter)
            await waiter

    async def receive(self) -> bytes | str:
        if self._closed is not None:
            raise self._closed
        item = self._closing or await self._to_client.get()
        if isinstance(item, TransportClosed):
            self._closed = item
            raise item
        return item

    async def receive_batch(self) -> list[bytes | str]:
        batch = [await self.receive()]
        queue = self._to_client
        while not queue.empty():
            item = queue.get_nowait()
            if isinstance(item, TransportClosed):
                self._closing = item  # raised by the next receive, after this batch
                break
            batch.append(item)
        return batch

    async def close(self, code: int = 1000, reason: str = "") -> None:
        if self._closed is None:
            self._closed = TransportClosed(code, reason)
        if not self._app_closed and not self._disconnected:
            self._disconnected = True
            while not self._to_client.empty():  # unblock an app waiting to send
                self._to_client.get_nowait()
            self._make_room()
            self._to_app.put_nowait({"type": "websocket.disconnect", "code": code, "reason": reason})
        task = self._task
        if task is not None and not task.done():
            try:
                async with asyncio.timeout(APP_CLOSE_TIMEOUT):
                    await asyncio.shield(task)
            except TimeoutError:
                logger.warning("the ASGI app did not finish within %s s of the client closing", APP_CLOSE_TIMEOUT)
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
