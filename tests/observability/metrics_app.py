"""The app the multiprocess metrics test serves with `swill run --workers 2`: metrics at
/metrics, written to PROMETHEUS_MULTIPROC_DIR (set by the test) every 50 ms."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import swill
from swill.metrics import Metrics

app = swill.Swill(__name__, playground=False)
metrics = Metrics(app, path="/metrics", flush_interval=0.05)


@app.handle()
async def pid(request: swill.Request[None]) -> int:
    """The worker's process id."""
    return os.getpid()


@app.handle()
async def count(request: swill.Request[int]) -> AsyncIterator[int]:
    for i in range(request.data):
        yield i
