"""The app the resumable-subscription tests serve in processes of their own.

`SWILL_TEST_BROKER` names the Redis URL; without it topics live in the process's memory.
"""

from __future__ import annotations

import os

import anyio

import swill
from swill._brokers import broker_for
from swill._brokers.redis import RedisBroker

app = swill.Swill(__name__, broker=os.environ.get("SWILL_TEST_BROKER") or None, drain_grace=30)
ticks = app.topic("ticks", int, policy="fifo", queue_size=64, history=100)
levels = app.topic("levels", int, policy="latest", replay=True)
app.expose(ticks)
app.expose(levels)


@app.handle()
async def publish(request: swill.Request[int]) -> int:
    """Publish a tick; returns its id."""
    return await ticks.publish(request.data)


@app.handle()
async def publish_level(request: swill.Request[int]) -> int:
    """Publish a level; returns its id."""
    return await levels.publish(request.data)


@app.handle()
async def ready(request: swill.Request[float]) -> int:
    """Wait up to `data` seconds for the broker; returns this process's pid."""
    broker = broker_for(app)
    if isinstance(broker, RedisBroker):
        with anyio.fail_after(request.data):
            await broker.connected.wait()
    return os.getpid()
