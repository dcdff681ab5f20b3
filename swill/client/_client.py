"""`Client`: calls over one shared connection, opened when needed and reopened after GOAWAY.

Rules:

1. One connection at a time takes new calls. It opens on the first call (or `connect()`), and
   again after GOAWAY or a lost connection; calls still open on a connection that got GOAWAY
   finish there. A connection closed with a 44xx code is a refusal: the client does not reconnect,
   and every later call raises the refusal's error.
2. Failed connection attempts back off: a call that needs a connection waits for one through
   the first attempt and `retries` more, each after the delay the failures before it earned,
   within the call's own deadline; when the attempts are used up, the waiting calls fail with
   `UNAVAILABLE`. A 44xx close or a failing `auth` ends the attempts at once.
4. Credentials (`auth=`): the function is called before every connection attempt and its result
   goes out as AUTH, the connection's first frame. After a 4401 close it is called once more
   and the client reconnects at once; a second 4401 in a row (no call served in between) is a
   refusal like any other 44xx. Credentials are never logged nor put in the URL.
3. A call's deadline is its `timeout=`, else the remaining time of the Swill handler it is made
   from (deadline propagation), capped by the client's default `timeout`.
"""

from __future__ import annotations

import asyncio
import enum
import inspect
import random
import time
from collections.abc import AsyncIterator, Callable, Mapping
from typing import TYPE_CHECKING, Any, Final, Self, TypeVar, overload

from .._call import current_deadline
from .._errors import Code, Error
from .._frames import NO_DATA
from .._protocol import SUBPROTOCOL
from .._telemetry import inject_trace_context
from ._call import Call, decoder_for
from ._connection import NO_CREDENTIALS, Connection
from ._subscribe import SubscriptionEvent, subscribe
from ._transport import AsyncTransport, TransportError
from ._websocket import WebSocketTransport

if TYPE_CHECKING:
    from types import TracebackType

__all__ = ["DEFAULT_WINDOW", "UNSET", "Client", "retry_delay", "transport_max_size"]

T = TypeVar("T")

DEFAULT_WINDOW: Final = 32
"""Messages of a streamed response the server may send ahead of the application."""


def transport_max_size(max_receive_size: int | None) -> int | None:
    """The most the transport buffers for one message: twice the client's `max_receive_size`.

    A message over `max_receive_size` but within this fails only the call it names; a larger one
    closes the connection (1009), since it would have to be buffered whole to be skipped.
    """
    return None if max_receive_size is None else 2 * max_receive_size


class _Unset(enum.Enum):
    UNSET = "UNSET"


UNSET: Final = _Unset.UNSET
"""Marks an argument left out, where `None` means something (`timeout=None`: no deadline)."""


def retry_delay(attempt: int, initial: float = 0.1, maximum: float = 5.0) -> float:
    """Seconds to wait before connection attempt number `attempt` (1 after one failure).

    Exponential with jitter: about `initial * 2 ** (attempt - 1)`, at most `maximum`; 0 for
    attempt 0.
    """
    if attempt <= 0:
        return 0.0
    delay: float = min(maximum, initial * 2 ** (attempt - 1)) * random.uniform(0.5, 1.0)
    return delay


class Client:
    """A Swill client: many concurrent calls over one WebSocket connection.

    Safe to share between tasks of one event loop. Use it as an async context manager, or call
    `aclose()` when done.

    ```python
    async with swill.Client("ws://localhost:8000/ws") as client:
        assert await client.call("add", (1, 2)) == 3
    ```

    Args:
        url: The server's WebSocket endpoint, e.g. `"ws://localhost:8000/ws"`.
        metadata: Client metadata sent with every call, or a function returning it (`None` for
            none), called as each call starts, e.g. to add a request id; a call's own
            `metadata=` adds to it and wins. The same option as the TypeScript client's.
        headers: Extra HTTP headers for the WebSocket handshake (e.g. `Authorization`).
        timeout: The default deadline of each call, in seconds (`None`: none).
        window: The default flow-control window for streamed responses, in messages: the server
            sends at most this many messages ahead of the application (`None`: no limit).
        keepalive: Send a PING frame this often, in seconds, and drop the connection when its
            PONG does not come back within as long (`None`: no PINGs from the client).
        connect_timeout: Seconds allowed to open a connection and receive HELLO.
        max_receive_size: The largest message accepted from the server, in bytes (`None`: no
            limit). A larger one fails the call it names with `RESOURCE_EXHAUSTED` and the
            connection goes on; one larger than twice this (`transport_max_size`) closes the
            connection with 1009, since the transport would have to buffer it whole.
        transport: How to reach the server (default: `WebSocketTransport()`).
        reconnect_delay: The first delay, in seconds, after a failed connection attempt; it
            doubles with each failure, up to `max_reconnect_delay`.
        max_reconnect_delay: The longest delay between connection attempts.
        retries: How many more connection attempts a call waiting for a connection makes after
            the first one failed, each after its backoff; then the waiting calls fail with
            `UNAVAILABLE`.
        auth: A function (sync or async) returning the credentials to send in AUTH
            (docs/protocol.md, "Credentials"), any MessagePack value such as `{"token": "..."}`.
            Called before every connection, and once more after a 4401 close. An exception it raises fails the
            connection attempt with `UNAUTHENTICATED`.
        backoff: The delay in seconds before attempt number `n` (1 after one failure) of a
            reconnection or of a subscription's resumption. Default: `retry_delay` with
            `reconnect_delay` and `max_reconnect_delay` (exponential, with jitter).
    """

    def __init__(
        self,
        url: str,
        *,
        metadata: Mapping[str, Any] | Callable[[], Mapping[str, Any] | None] | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
        window: int | None = DEFAULT_WINDOW,
        keepalive: float | None = None,
        connect_timeout: float = 10.0,
        max_receive_size: int | None = 16 << 20,
        transport: AsyncTransport | None = None,
        reconnect_delay: float = 0.1,
        max_reconnect_delay: float = 5.0,
        retries: int = 5,
        auth: Callable[[], Any] | None = None,
        backoff: Callable[[int], float] | None = None,
    ) -> None:
        self.url = url
        self._metadata_source = metadata if callable(metadata) else None
        self.metadata: dict[str, Any] = {} if callable(metadata) else dict(metadata or {})
        self.headers: dict[str, str] = dict(headers or {})
        self.timeout = timeout
        self.window = _check_window(window)
        self.keepalive = keepalive
        self.connect_timeout = connect_timeout
        self.max_receive_size = max_receive_size
        self.transport = transport if transport is not None else WebSocketTransport(open_timeout=connect_timeout)
        self.reconnect_delay = reconnect_delay
        self.max_reconnect_delay = max_reconnect_delay
        self.retries = retries
        self._conn: Connection | None = None
        self._connections: set[Connection] = set()
        self._connecting: asyncio.Task[Connection] | None = None
        self._failures = 0
        self._next_attempt = 0.0
        self._refused: Error | None = None
        self._closed = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self.auth = auth
        self._backoff = backoff
        self._auth_retried = False  # the last connection closed with 4401, and auth was retried

    def __repr__(self) -> str:
        return f"<Client {self.url}>"

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    @property
    def server_settings(self) -> dict[str, Any] | None:
        """The settings of the current connection's HELLO; `None` when not connected."""
        conn = self._conn
        return conn.protocol.hello if conn is not None else None

    # Calls.

    @overload
    async def call(
        self,
        rpc: str,
        data: Any = None,
        *,
        response_type: type[T],
        metadata: Mapping[str, Any] | None = None,
        timeout: float | _Unset | None = UNSET,  # noqa: ASYNC109
    ) -> T: ...

    @overload
    async def call(
        self,
        rpc: str,
        data: Any = None,
        *,
        response_type: Any = None,
        metadata: Mapping[str, Any] | None = None,
        timeout: float | _Unset | None = UNSET,  # noqa: ASYNC109
    ) -> Any: ...

    async def call(
        self,
        rpc: str,
        data: Any = None,
        *,
        response_type: Any = None,
        metadata: Mapping[str, Any] | None = None,
        timeout: float | _Unset | None = UNSET,  # noqa: ASYNC109
    ) -> Any:
        """Call an rpc that takes one message and returns one; return the response.

        Args:
            rpc: The rpc name, e.g. `"users.get"`.
            data: The request message (`None` is sent as `nil`).
            response_type: Decode the response into this type (msgspec types, with their
                constraints); by default it comes as plain Python values.
            metadata: Client metadata for this call, added to the client's.
            timeout: Seconds until the call's deadline, sent to the server (as whole
                milliseconds, rounded up) and enforced here too. `None`: no deadline. Left out:
                the remaining time of the Swill handler this call is made from, if any, capped
                by the client's `timeout`.

        Raises:
            swill.Error: The call failed: the server's error, `DEADLINE_EXCEEDED`, `CANCELLED`,
                `UNAVAILABLE` when the server can't be reached or the connection was lost,
                `RESOURCE_EXHAUSTED` for a request larger than the server accepts.
        """
        call: Call[Any] = self._new_call(rpc, data, metadata, timeout, None, response_type)
        return await call.result()

    @overload
    def stream(
        self,
        rpc: str,
        data: Any = None,
        *,
        response_type: type[T],
        metadata: Mapping[str, Any] | None = None,
        timeout: float | _Unset | None = UNSET,
        window: int | _Unset | None = UNSET,
    ) -> Call[T]: ...

    @overload
    def stream(
        self,
        rpc: str,
        data: Any = None,
        *,
        response_type: Any = None,
        metadata: Mapping[str, Any] | None = None,
        timeout: float | _Unset | None = UNSET,
        window: int | _Unset | None = UNSET,
    ) -> Call[Any]: ...

    def stream(
        self,
        rpc: str,
        data: Any = None,
        *,
        response_type: Any = None,
        metadata: Mapping[str, Any] | None = None,
        timeout: float | _Unset | None = UNSET,
        window: int | _Unset | None = UNSET,
    ) -> Call[Any]:
        """Call an rpc that streams its response: `async for message in client.stream(...)`.

        The REQUEST goes out when iteration starts. Leaving the loop early cancels the call.
        Arguments as for `call`, and:

        Args:
            window: The flow-control window for this call (default: the client's).
        """
        return self._new_call(rpc, data, metadata, timeout, window, response_type)

    @overload
    async def open(
        self,
        rpc: str,
        data: Any = NO_DATA,
        *,
        response_type: type[T],
        metadata: Mapping[str, Any] | None = None,
        timeout: float | _Unset | None = UNSET,  # noqa: ASYNC109
        window: int | _Unset | None = UNSET,
    ) -> Call[T]: ...

    @overload
    async def open(
        self,
        rpc: str,
        data: Any = NO_DATA,
        *,
        response_type: Any = None,
        metadata: Mapping[str, Any] | None = None,
        timeout: float | _Unset | None = UNSET,  # noqa: ASYNC109
        window: int | _Unset | None = UNSET,
    ) -> Call[Any]: ...

    async def open(
        self,
        rpc: str,
        data: Any = NO_DATA,
        *,
        response_type: Any = None,
        metadata: Mapping[str, Any] | None = None,
        timeout: float | _Unset | None = UNSET,  # noqa: ASYNC109
        window: int | _Unset | None = UNSET,
    ) -> Call[Any]:
        """Open a call of any kind and return it once its REQUEST is on its way.

        `data`, when given, is the request message (or the first message of a streamed
        request); leave it out for a streamed request that starts empty. Then `send` and `end`
        the request, and `result()` or `async for` the response. Arguments as for `stream`.

        Raises:
            swill.Error: The call could not start (see `call`).
        """
        call: Call[Any] = self._new_call(rpc, data, metadata, timeout, window, response_type)
        await call._start()
        return call

    def _new_call(
        self,
        rpc: str,
        data: Any,
        metadata: Mapping[str, Any] | None,
        timeout: float | _Unset | None,
        window: int | _Unset | None,
        response_type: Any,
    ) -> Call[Any]:
        base: Mapping[str, Any] | None = self.metadata
        if self._metadata_source is not None:
            base = self._metadata_source()
        if base and metadata:
            merged: dict[str, Any] | None = {**base, **metadata}
        elif base:
            merged = base if type(base) is dict else dict(base)
        else:
            merged = dict(metadata) if metadata else None
        merged = inject_trace_context(merged)
        if timeout is UNSET and self.timeout is None and current_deadline.get() is None:
            deadline = announced = None  # the usual case, without `_deadline`'s work
        else:
            deadline, announced = self._deadline(timeout)
        return Call(
            self,
            rpc,
            data,
            metadata=merged,
            deadline=deadline,
            timeout=announced,
            window=self.window if window is UNSET else _check_window(window),
            decode=decoder_for(response_type),
        )

    def _deadline(self, timeout: float | _Unset | None) -> tuple[float | None, float | None]:
        """The call's deadline in event-loop time, and the timeout to announce (`None`: what is
        left of the deadline when REQUEST goes, for an inherited one)."""
        inherited: float | None = None
        if timeout is UNSET:
            seconds = self.timeout
            deadline = current_deadline.get()
            if deadline is not None:
                inherited = deadline - time.monotonic()
                if seconds is None or inherited < seconds:
                    seconds = None
                else:
                    inherited = None
        else:
            seconds = timeout
        if seconds is None and inherited is None:
            return None, None
        now = asyncio.get_running_loop().time()
        if seconds is None:
            assert inherited is not None
            return now + inherited, None
        return now + seconds, seconds

    def subscribe(
        self,
        rpc: str,
        after: int | None = None,
        *,
        value_type: Any = None,
        metadata: Mapping[str, Any] | None = None,
        window: int | _Unset | None = UNSET,
    ) -> AsyncIterator[SubscriptionEvent[Any]]:
        """Iterate the events of a resumable stream (docs/protocol.md, "Resumable streams"),
        re-opening it by itself, with the last id delivered, after a lost connection, GOAWAY or `UNAVAILABLE`.

        ```python
        async for event in client.subscribe("temperature", after=None):
            print(event.id, event.value, event.missed, event.restarted)
        ```

        Args:
            rpc: A resumable rpc, such as a topic exposed with `app.expose`.
            after: The id of the last event already seen (`None`: from now on, or from the
                topic's replay).
            value_type: Decode each event's value into this type.
            metadata: Client metadata for each call, added to the client's.
            window: The flow-control window (default: the client's).

        Raises:
            swill.Error: Any failure a new connection can't cure ends the iteration (a refusal,
                `INVALID_ARGUMENT`, ...); see docs/client-behaviour.md.
        """
        return subscribe(self, rpc, after, value_type, metadata, window)

    # Connections.

    async def connect(self) -> None:
        """Open a connection now rather than at the first call, and wait for its HELLO.

        After a refusal (a 44xx close), this tries again: for instance once the application has
        new credentials for `auth`.

        Raises:
            swill.Error: `UNAVAILABLE` when the server can't be reached, or a refusal's code.
        """
        self._refused = None
        self._auth_retried = False
        conn = await self._connection()
        await conn.wait_hello()

    async def reauthenticate(self) -> None:
        """Call `auth` and send its fresh credentials on the live connection; calls go on.

        Without a live connection this does nothing: the next connection calls `auth` anyway.

        Raises:
            RuntimeError: The client has no `auth`.
            swill.Error: `UNAUTHENTICATED` when `auth` raised.
        """
        if self.auth is None:
            raise RuntimeError("reauthenticate() needs Client(auth=...)")
        conn = self._conn
        if conn is None or conn.closed:
            return
        credentials = await self._credentials()
        conn.reauthenticate(credentials)
        await conn.flush()

    async def _credentials(self) -> Any:
        """What `auth` returns now, awaited when it is async.

        Raises:
            swill.Error: `UNAUTHENTICATED` with the message of what `auth` raised.
        """
        assert self.auth is not None
        try:
            credentials = self.auth()
            if inspect.isawaitable(credentials):
                credentials = await credentials
        except Exception as exc:
            raise Error(Code.UNAUTHENTICATED, str(exc) or type(exc).__name__) from None
        return credentials

    def backoff(self, attempt: int) -> float:
        """Seconds to wait before attempt number `attempt` (1 after one failure)."""
        if self._backoff is not None:
            return self._backoff(attempt)
        return retry_delay(attempt, self.reconnect_delay, self.max_reconnect_delay)

    async def ping(self, timeout: float | None = 10.0) -> float:  # noqa: ASYNC109
        """Send a PING frame and wait for its PONG. Returns the round trip in seconds.

        Raises:
            swill.Error: `DEADLINE_EXCEEDED` when no PONG came within `timeout`; `UNAVAILABLE`
                when the connection failed.
        """
        conn = await self._connection()
        try:
            return await conn.ping(timeout)
        except TimeoutError:
            raise Error(Code.DEADLINE_EXCEEDED, f"no PONG within {timeout} s") from None

    async def aclose(self) -> None:
        """Close the connections; calls still open fail with `CANCELLED`."""
        self._closed = True
        connecting, self._connecting = self._connecting, None
        if connecting is not None:
            connecting.cancel()
            await asyncio.gather(connecting, return_exceptions=True)
        for conn in list(self._connections):
            await conn.close()
        self._conn = None

    async def _acquire(self, rpc: str, deadline: float | None) -> Connection:
        """A connection with a call slot taken for the caller."""
        conn = self._conn
        if conn is not None and conn.take_slot():
            return conn
        if deadline is None:
            return await self._take_slot()
        try:
            async with asyncio.timeout_at(deadline):
                return await self._take_slot()
        except TimeoutError:
            raise Error(Code.DEADLINE_EXCEEDED, f"the deadline of {rpc!r} passed before it could start") from None

    async def _take_slot(self) -> Connection:
        while True:
            conn = await self._connection()
            if await conn.acquire():
                return conn
            error = conn.error
            if conn.closed and conn.protocol.hello is None and error is not None:
                # Closed before its HELLO (a server that refuses or drains): that was this
                # call's one connection attempt.
                raise Error(error.code, error.message, error.data)

    async def _connection(self) -> Connection:
        conn = self._conn
        if conn is not None and conn.accepting:
            return conn
        if self._closed:
            raise RuntimeError("the client is closed")
        if self._refused is not None:
            error = self._refused
            raise Error(error.code, error.message, error.data)
        loop = asyncio.get_running_loop()
        if self._loop is None:
            self._loop = loop
        elif self._loop is not loop:
            raise RuntimeError("a swill.Client belongs to the event loop it first ran in")
        task = self._connecting
        if task is None:
            task = self._connecting = loop.create_task(self._connect(loop), name="swill client connect")
            task.add_done_callback(_retrieve)
        try:
            return await asyncio.shield(task)
        except Error as error:  # one attempt, many callers: each raises an exception of its own
            raise Error(error.code, error.message, error.data) from None
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if task.cancelled() and current is not None and not current.cancelling():
                raise Error(Code.CANCELLED, "the client was closed while connecting") from None
            raise

    async def _connect(self, loop: asyncio.AbstractEventLoop) -> Connection:
        """Connection attempts until one opens: the first, then up to `retries` more."""
        try:
            retries = self.retries
            while True:
                delay = self._next_attempt - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                try:
                    return await self._attempt(loop)
                except Error as error:
                    if error.code is not Code.UNAVAILABLE:
                        raise
                    if retries <= 0:  # used up: the next call starts a new round, at once
                        self._failures, self._next_attempt = 0, 0.0
                        raise
                    retries -= 1
        finally:
            self._connecting = None

    async def _attempt(self, loop: asyncio.AbstractEventLoop) -> Connection:
        """One connection attempt; a failure earns the next one its backoff."""
        credentials = NO_CREDENTIALS
        if self.auth is not None:
            try:
                credentials = await self._credentials()
            except Error:
                self._failed(loop)
                raise
        try:
            transport = await self.transport.connect(
                self.url,
                subprotocols=[SUBPROTOCOL],
                headers=self.headers,
                max_size=transport_max_size(self.max_receive_size),
            )
        except TransportError as exc:
            self._failed(loop)
            raise Error(Code.UNAVAILABLE, f"can't connect to {self.url}: {exc}") from None
        conn = Connection(
            transport,
            on_closed=self._closed_connection,
            on_goaway=self._goaway,
            on_hello=self._hello,
            max_receive_size=self.max_receive_size,
        )
        self._connections.add(conn)
        conn.start(credentials, self.connect_timeout, self.keepalive)
        self._conn = conn
        return conn

    def _failed(self, loop: asyncio.AbstractEventLoop) -> None:
        self._failures += 1
        self._next_attempt = loop.time() + self.backoff(self._failures)

    def _hello(self, conn: Connection) -> None:
        self._failures = 0

    def _goaway(self, conn: Connection) -> None:
        if self._conn is conn:
            self._conn = None

    def _closed_connection(self, conn: Connection) -> None:
        self._connections.discard(conn)
        was_current = self._conn is conn
        if was_current:
            self._conn = None
        error = conn.error
        if self._closed or error is None:
            return
        close_code = error.data.get("close_code") if isinstance(error.data, dict) else None
        if close_code == 4401 and self.auth is not None and (conn.served or not self._auth_retried):
            # Fresh credentials may cure it: once, at once.
            self._auth_retried = True
            self._next_attempt = 0.0
            self._reconnect()
        elif _refusal(error):
            self._refused = error
        else:
            self._auth_retried = False
            if was_current and error.code is Code.UNAVAILABLE:
                # Lost unexpectedly: the server may be restarting; don't hammer it.
                self._failed(conn.loop)

    def _reconnect(self) -> None:
        """Start a connection attempt now, for calls to come (a subscription's, typically)."""
        if self._connecting is None and self._loop is not None:
            task = self._connecting = self._loop.create_task(self._connect(self._loop), name="swill client connect")
            task.add_done_callback(_retrieve)


def _refusal(error: Error | None) -> bool:
    if error is None or not isinstance(error.data, dict):
        return False
    code = error.data.get("close_code")
    return isinstance(code, int) and 4400 <= code <= 4499


def _retrieve(task: asyncio.Task[Connection]) -> None:
    """Mark a connection attempt's exception as seen: each waiting call raises it itself."""
    if not task.cancelled():
        task.exception()


def _check_window(window: int | None) -> int | None:
    if window is not None and (not isinstance(window, int) or isinstance(window, bool) or window < 1):
        raise ValueError(f"window must be a positive int or None, got {window!r}")
    return window
