"""The dashboard example: over the Python client, and its page in Chromium (playwright-core)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import anyio
import pytest

import swill
from examples.dashboard.app import create_app
from swill.client import Client
from tests.conftest import LiveServer

pytestmark = pytest.mark.anyio

HERE = Path(__file__).resolve().parent
CLIENT_BUILD = HERE.parents[1] / "clients" / "typescript" / "dist" / "index.js"

Start = Callable[..., LiveServer]


async def test_the_dashboard_streams_telemetry_and_alerts(live_server: Start) -> None:
    server = live_server(create_app(interval=0.01, time_scale=10))
    async with Client(server.url) as client:
        with anyio.fail_after(10):
            async for event in client.stream("telemetry", None):  # replay: the last sample
                assert set(event["value"]) == {"at", "temperature", "rpm", "target_rpm"}
                break
            assert await client.call("set_speed", 6000) == 0
            levels = []
            async for event in client.stream("alerts", 0):
                levels.append(event["value"]["level"])
                if levels[-1] == "critical":
                    break
            assert levels == ["warning", "critical"]
        with pytest.raises(swill.Error) as raised:
            await client.call("set_speed", 7000, timeout=5)
        assert raised.value.code is swill.Code.INVALID_ARGUMENT


async def test_the_dashboard_page_in_chromium(live_server: Start) -> None:
    assert CLIENT_BUILD.exists(), "build the TS client first: cd clients/typescript && npm ci && npm run build"
    node = shutil.which("node")
    assert node is not None, "node is needed to drive Chromium with playwright-core"
    server = live_server(create_app(interval=0.05, time_scale=4))
    page = f"http://127.0.0.1:{server.port}/"
    with anyio.fail_after(90):
        result = await anyio.run_process(
            [node, str(HERE / "dashboard_browser.mjs"), page], check=False, stderr=subprocess.STDOUT
        )
    assert result.returncode == 0, result.stdout.decode()
