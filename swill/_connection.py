"""The public view of one WebSocket connection."""

from __future__ import annotations

import itertools
import os
from typing import TYPE_CHECKING, Any

from starlette.datastructures import URL, Address, Headers, QueryParams, State
from starlette.requests import HTTPConnection

if TYPE_CHECKING:
    from starlette.types import Scope

    from ._asgi import ConnectionHandler

__all__ = ["Connection"]

_ids = itertools.count(1)
_prefix = f"{os.getpid():x}"


class Connection:
    """One client's WebSocket connection, shared by all of its calls.

    Attributes:
        id: Unique within the process and across restarts of it (`"<pid>-<n>"`).
        scope: The ASGI scope of the handshake.
        state: A namespace for the application, e.g. the authenticated user.
        credentials: The last credentials that passed `app.authenticate` (docs/protocol.md,
            "Credentials"); `None` before, or when the app checks none.

    Two connections are equal only when they are the same object (the `id` of one is no other's).
    """

    __slots__ = ("_handler", "_http", "_state", "credentials", "id", "scope")

    def __init__(self, scope: Scope, handler: ConnectionHandler) -> None:
        self.id = f"{_prefix}-{next(_ids)}"
        self.scope = scope
        self.credentials: Any = None
        self._handler = handler
        # Made when first read: most connections never read some of them.
        self._state: State | None = None
        self._http: HTTPConnection | None = None

    @property
    def state(self) -> State:
        """A namespace for the application, e.g. the authenticated user."""
        if self._state is None:
            self._state = State()
        return self._state

    @property
    def _request(self) -> HTTPConnection:
        if self._http is None:
            self._http = HTTPConnection(self.scope)
        return self._http

    @property
    def headers(self) -> Headers:
        """The handshake's HTTP headers."""
        return self._request.headers

    @property
    def cookies(self) -> dict[str, str]:
        """The handshake's cookies."""
        return self._request.cookies

    @property
    def query_params(self) -> QueryParams:
        """The query string of the WebSocket URL."""
        return self._request.query_params

    @property
    def url(self) -> URL:
        return self._request.url

    @property
    def client(self) -> Address | None:
        """The peer's host and port, when the server knows them."""
        return self._request.client

    @property
    def subprotocols(self) -> list[str]:
        """The subprotocols the client offered."""
        offered: list[str] = self.scope.get("subprotocols") or []
        return offered

    @property
    def open_calls(self) -> int:
        """How many calls are open on the connection now."""
        return len(self._handler.calls)

    @property
    def buffered_bytes(self) -> int:
        """Bytes queued for the client and not yet handed to the ASGI server. Bounded: see
        "Memory per connection" in docs/deployment.md."""
        return self._handler.buffered_bytes

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close the connection. Open calls are cancelled.

        Args:
            code: The WebSocket close code (4000 + an HTTP-like status for refusals).
            reason: A short reason for people.
        """
        await self._handler.close(code, reason)

    def __repr__(self) -> str:
        return f"<Connection {self.id} client={self.client}>"
