"""An app with resumable streams (docs/protocol.md, "Resumable streams") for the code generators."""

from __future__ import annotations

from collections.abc import AsyncIterator

import msgspec

import swill


class Alert(msgspec.Struct):
    level: str


def make_app() -> swill.Swill:
    """A fresh app: each live test starts from topics that have seen no value."""
    app = swill.Swill(__name__)
    ticks = app.topic("ticks", float, replay=True, policy="fifo", queue_size=16)
    alerts = app.topic("alerts.raised", Alert, replay=True)
    app.expose(ticks)
    app.expose(alerts)

    @app.handle()
    async def count(request: swill.Request[int]) -> AsyncIterator[int]:
        """Not resumable: its request is not an event id, its messages not events."""
        for i in range(request.data):
            yield i

    @app.handle()
    async def publish(request: swill.Request[float]) -> None:
        await ticks.publish(request.data)
        await alerts.publish(Alert(level=f"{request.data:g}"))

    return app


app = make_app()
