"""An app with resumable streams (PROTOCOL.md section 7b) for the code generators."""

from __future__ import annotations

from collections.abc import AsyncIterator

import msgspec

import swill

app = swill.Swill(__name__)


class Alert(msgspec.Struct):
    level: str


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
