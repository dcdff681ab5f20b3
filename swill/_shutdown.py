"""Drain on SIGTERM and SIGINT under any ASGI server that runs the app's lifespan.

uvicorn, on a shutdown signal, closes every WebSocket with 1012 *before* it sends the lifespan
shutdown event, so a drain started from lifespan shutdown would find no connection left. The
app's lifespan therefore installs, while it runs, signal handlers that drain first and then hand
the signal to the handler that was there (the server's: uvicorn's sets `should_exit`).

Rules:

1. Only in the main thread, where signal handlers live; elsewhere (a server in a thread, as in
   tests) nothing is installed and `app.drain()` is the way.
2. The first signal drains (new connections are refused meanwhile, with 1012, and after, until
   the server is gone), then passes the signal on; a second one, or a signal that finds no
   connection, passes on at once.
3. The previous handlers come back when the lifespan ends.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from ._app import Swill

__all__ = ["SIGNALS", "drain_on_signals"]

SIGNALS: Final = (signal.SIGTERM, signal.SIGINT)

logger: Final = logging.getLogger("swill")


def drain_on_signals(app: Swill) -> Callable[[], None]:
    """Install the handlers; returns what puts the previous ones back."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    loop = asyncio.get_running_loop()
    previous: dict[int, Any] = {sig: signal.getsignal(sig) for sig in SIGNALS}
    tasks: list[asyncio.Task[None]] = []  # the drain, started at most once
    started: list[int] = []  # the signal that started it

    def pass_on(sig: int, frame: FrameType | None) -> None:
        handler = previous[sig]
        if callable(handler):
            handler(sig, frame)
        elif handler == signal.SIG_DFL:
            signal.signal(sig, signal.SIG_DFL)
            signal.raise_signal(sig)

    def drained(task: asyncio.Task[None], sig: int, frame: FrameType | None) -> None:
        if not task.cancelled() and task.exception() is not None:
            logger.error("draining the app failed", exc_info=task.exception())
        pass_on(sig, frame)

    def start(sig: int, frame: FrameType | None) -> None:
        task = loop.create_task(app.drain())
        tasks.append(task)
        task.add_done_callback(lambda task: drained(task, sig, frame))

    def handle(sig: int, frame: FrameType | None) -> None:
        if started or not app.connections:
            pass_on(sig, frame)  # nothing to drain, or a second signal: the server's way now
            return
        started.append(sig)
        app.draining = True  # from now on, new connections are refused
        loop.call_soon_threadsafe(start, sig, frame)

    for sig in SIGNALS:
        signal.signal(sig, handle)

    def restore() -> None:
        for sig, handler in previous.items():
            if signal.getsignal(sig) is handle:
                signal.signal(sig, handler)

    return restore
