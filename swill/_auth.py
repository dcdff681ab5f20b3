"""Checking a connection's credentials (docs/protocol.md, "Credentials"): the `authenticate` chain.

Rules:

1. One task per connection checks AUTH frames, one at a time, in order. While it checks one,
   only the latest AUTH to arrive waits (bounded: a client that floods AUTH frames has all but
   its last one skipped).
2. Until an AUTH passes, the protocol core holds the connection's call frames. The first must
   pass within `auth_timeout` seconds of the connection's start.
3. Credentials that fail (a function of the chain raises) close the connection with 4401 and the
   error's message; an exception that is not a `swill.Error` is logged and closes it with
   "internal error". Credentials that pass become `connection.credentials`.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Final

import anyio

from ._errors import Error
from ._hooks import Hook, run_hooks

if TYPE_CHECKING:
    from ._asgi import ConnectionHandler

__all__ = ["Authenticator"]

logger: Final = logging.getLogger("swill")

_NONE: Final[Any] = object()


class Authenticator:
    """Runs the `authenticate` chain for one connection.

    Args:
        handler: The connection's I/O layer.
        chain: The `authenticate` functions, in order.
        timeout: Seconds allowed for the first AUTH that passes.
    """

    def __init__(self, handler: ConnectionHandler, chain: tuple[Hook, ...], timeout: float) -> None:
        self._handler = handler
        self._chain = chain
        self._timeout = timeout
        self._latest: Any = _NONE
        self._arrived = anyio.Event()
        self._scope = anyio.CancelScope()

    def received(self, credentials: Any) -> None:
        """An AUTH arrived: check it next (replacing one that still waits)."""
        self._latest = credentials
        self._arrived.set()

    def stop(self) -> None:
        self._scope.cancel()

    async def run(self) -> None:
        """Check AUTH frames until the connection ends (or one fails: then it is closed)."""
        with self._scope:
            with anyio.move_on_after(self._timeout) as first:
                if not await self._check(await self._next()):
                    return
            if first.cancelled_caught:
                await self._handler.close(4401, f"no valid credentials within {self._timeout:g} s")
                return
            while await self._check(await self._next()):
                pass

    async def _next(self) -> Any:
        while self._latest is _NONE:
            await self._arrived.wait()
            self._arrived = anyio.Event()
        credentials, self._latest = self._latest, _NONE
        return credentials

    async def _check(self, credentials: Any) -> bool:
        handler = self._handler
        try:
            await run_hooks(self._chain, handler.connection, credentials)
        except Error as error:
            await handler.close(4401, error.message or "credentials refused")
            return False
        except Exception:
            logger.exception("authenticate hook failed")
            await handler.close(4401, "internal error")
            return False
        handler.connection.credentials = credentials
        await handler.auth_passed()
        return True
