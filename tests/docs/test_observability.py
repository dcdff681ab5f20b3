"""examples/observability.py: the metrics docs/observability.md shows, read over HTTP."""

from __future__ import annotations

from collections.abc import Callable

import httpx

import swill
from examples import observability
from tests.conftest import LiveServer


async def test_the_example_serves_its_metrics_at_a_path(live_server: Callable[..., LiveServer]) -> None:
    server = live_server(observability.app)
    async with swill.Client(server.url) as client:
        assert await client.call("add", (1, 2)) == 3
    line = 'swill_rpc_server_calls_total{rpc_method="add",rpc_response_status_code="OK",rpc_system="swill"} 1.0'
    async with httpx.AsyncClient() as http:
        for _ in range(100):  # counted just after the response went out
            text = (await http.get(f"http://127.0.0.1:{server.port}/metrics")).text
            if line in text:
                break
    assert line in text
    assert "process_cpu_seconds_total" in text  # the default registry brings the process collector
