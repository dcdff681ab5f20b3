"""The app's lifespan drains on SIGTERM and SIGINT, then hands the signal to the server's handler."""

from __future__ import annotations

import asyncio
import signal
from types import FrameType
from typing import Any

import anyio

import swill
from swill._shutdown import drain_on_signals


async def test_a_signal_drains_then_reaches_the_previous_handler() -> None:
    app = swill.Swill()
    seen: list[tuple[int, bool]] = []
    passed_on = anyio.Event()

    def server_handler(sig: int, frame: FrameType | None) -> None:  # what uvicorn installs
        seen.append((sig, app.draining))
        passed_on.set()

    drained: list[bool] = []
    original_drain = app.drain

    async def drain(grace: float | None = None) -> None:
        drained.append(True)
        await original_drain(grace)

    app.drain = drain  # type: ignore[method-assign]
    app.connections.add(object())  # type: ignore[arg-type]  # something to drain
    before: Any = signal.signal(signal.SIGTERM, server_handler)
    try:
        restore = drain_on_signals(app)
        signal.raise_signal(signal.SIGTERM)
        assert seen == []  # not yet: the drain comes first
        with anyio.fail_after(5):
            await passed_on.wait()
        assert drained == [True] and seen == [(signal.SIGTERM, True)]  # still refusing: going away
        signal.raise_signal(signal.SIGTERM)  # a second signal goes straight on
        assert seen == [(signal.SIGTERM, True)] * 2 and drained == [True]
        restore()
        assert signal.getsignal(signal.SIGTERM) is server_handler
    finally:
        signal.signal(signal.SIGTERM, before)


async def test_nothing_to_drain_passes_the_signal_on_at_once() -> None:
    app = swill.Swill()
    seen: list[int] = []
    before: Any = signal.signal(signal.SIGINT, lambda sig, frame: seen.append(sig))
    try:
        restore = drain_on_signals(app)
        signal.raise_signal(signal.SIGINT)
        assert seen == [signal.SIGINT] and not app.draining
        restore()
    finally:
        signal.signal(signal.SIGINT, before)


async def test_outside_the_main_thread_nothing_is_installed() -> None:
    app = swill.Swill()

    async def install() -> Any:  # on an event loop of its own, in a worker thread
        return drain_on_signals(app)

    before = signal.getsignal(signal.SIGTERM)
    restore = await anyio.to_thread.run_sync(lambda: asyncio.run(install()))
    assert signal.getsignal(signal.SIGTERM) is before
    restore()
