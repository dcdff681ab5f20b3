"""Prometheus metrics at /metrics, next to the WebSocket endpoint (docs/observability.md).

Serve it with `swill run examples.observability:app` and read http://127.0.0.1:8000/metrics.
"""

from __future__ import annotations

import swill
from swill.metrics import Metrics

# --8<-- [start:metrics]
app = swill.Swill(__name__)
metrics = Metrics(app, path="/metrics")  # or Metrics(app, port=9100, addr="127.0.0.1")


@app.handle()
async def add(request: swill.Request[tuple[int, int]]) -> int:
    """Add two integers."""
    return request.data[0] + request.data[1]


# --8<-- [end:metrics]
