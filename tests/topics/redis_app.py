"""The app the two-process Redis test serves: `uvicorn tests.topics.redis_app:app`.

`SWILL_TEST_BROKER` names the Redis URL.
"""

from __future__ import annotations

import os

import anyio

import swill
from swill._brokers import broker_for
from swill._brokers.redis import RedisBroker
from swill._topics import Topic

app = swill.Swill(__name__, broker=os.environ["SWILL_TEST_BROKER"])
ticks: Topic[int] = app.topic("ticks", int, policy="fifo", queue_size=64, history=100)
app.expose(ticks)


@app.handle()
async def publish(request: swill.Request[int]) -> int:
    """Publish a tick from this process; returns its id."""
    return await ticks.publish(request.data)


@app.handle()
async def ready(request: swill.Request[float]) -> int:
    """Wait up to `data` seconds for the subscription to Redis; returns this process's pid."""
    broker = broker_for(app)
    assert isinstance(broker, RedisBroker)
    with anyio.fail_after(request.data):
        await broker.connected.wait()
    return os.getpid()
