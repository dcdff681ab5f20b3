"""Checking a connection's credentials (docs/protocol.md, "Credentials"): the `authenticate` chain.

Rules:

1. AUTH frames are checked one at a time, in order, by a task that lives while there is one to
   check. While it checks one, only the latest AUTH to arrive waits (bounded: a client that floods
   AUTH frames has all but its last one skipped).
2. Until an AUTH passes, the protocol core holds the connection's call frames: before the first,
   all of them; while a later one is checked, those of calls opened after it, so that a call is
   served with the credentials its client sent before it. The first must pass within
   `auth_timeout` seconds of the connection's start, a later one within `auth_timeout` seconds of
   the start of its check (a hung `authenticate` function must not hold the connection's new calls
   forever): a timer, not a task, waits for each.
3. Credentials that fail (a function of the chain raises) close the connection with 4401 and the
   error's message; an exception that is not a `swill.Error` is logged and closes it with
   "internal error". Credentials that pass become `connection.credentials`. After a refusal, the
   timeout or the connection's end, no AUTH is checked any more.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any, Final

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
        timeout: Seconds allowed for the first AUTH that passes, and for each later check.
    """

    __slots__ = ("_chain", "_done", "_expired", "_handler", "_latest", "_timeout", "_timer", "task")

    def __init__(self, handler: ConnectionHandler, chain: tuple[Hook, ...], timeout: float) -> None:
        self._handler = handler
        self._chain = chain
        self._timeout = timeout
        self._latest: Any = _NONE
        self.task: asyncio.Task[None] | None = None
        """The task checking AUTH frames, while there is one to check."""
        self._timer: asyncio.TimerHandle | None = None
        self._done = False  # refused, timed out or stopped: no more checks
        self._expired = False

    def start(self) -> None:
        """The connection started: the first AUTH must pass within the timeout from now."""
        self._timer = self._handler.loop.call_later(self._timeout, self._time_out)

    def received(self, credentials: Any) -> None:
        """An AUTH arrived: check it next (replacing one that still waits)."""
        if self._done:
            return
        self._latest = credentials
        if self.task is None:
            self.task = self._handler.loop.create_task(self._run())

    def stop(self) -> None:
        """The connection ends: check nothing more."""
        self._done = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self.task is not None:
            self.task.cancel()

    def _time_out(self) -> None:
        self._timer = None
        if self._done or self._handler.protocol.authenticated:
            return
        self._done = self._expired = True
        if self.task is not None:
            self.task.cancel()  # too late for the check that runs: its task closes the connection
        else:
            self.task = self._handler.loop.create_task(self._close_expired())

    async def _run(self) -> None:
        """Check the AUTH frames that wait, then end."""
        try:
            while not self._done and self._latest is not _NONE:
                credentials, self._latest = self._latest, _NONE
                if self._timer is None:  # a later AUTH: its check has the same time as the first
                    self._timer = self._handler.loop.call_later(self._timeout, self._time_out)
                if not await self._check(credentials):
                    return
        except asyncio.CancelledError:
            task = asyncio.current_task()
            assert task is not None
            if not self._expired or task.cancelling() > 1:
                raise  # stopped (the connection ends), not timed out
            task.uncancel()
            await self._close_expired()
        finally:
            self.task = None

    async def _close_expired(self) -> None:
        await self._handler.close(4401, f"no valid credentials within {self._timeout:g} s")

    async def _check(self, credentials: Any) -> bool:
        handler = self._handler
        try:
            await run_hooks(self._chain, handler.connection, credentials)
        except Error as error:
            self._done = True
            await handler.close(4401, error.message or "credentials refused")
            return False
        except Exception:
            logger.exception("authenticate hook failed")
            self._done = True
            await handler.close(4401, "internal error")
            return False
        handler.connection.credentials = credentials
        if self._timer is not None:  # passed in time
            self._timer.cancel()
            self._timer = None
        if self._latest is _NONE:  # else the calls that wait are for a newer AUTH, checked next
            await handler.auth_passed()
        return True
