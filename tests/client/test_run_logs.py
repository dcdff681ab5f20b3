"""`swill run` as a real process: Swill's own records in uvicorn's format, and `--dev`."""

from __future__ import annotations

import re

import pytest
import websockets

from swill.client import Client

from .test_cli import Served, served, swill_command

__all__ = ["served"]  # the fixture, shared with test_cli

PROTOCOL = [websockets.Subprotocol("swill.v1")]


async def refused_reason(url: str, origin: str) -> str:
    async with websockets.connect(url, origin=websockets.Origin(origin), subprotocols=PROTOCOL) as ws:
        with pytest.raises(websockets.ConnectionClosed) as info:
            await ws.recv()
    assert info.value.rcvd is not None and info.value.rcvd.code == 4403
    return info.value.rcvd.reason


async def test_run_logs_refusals_and_connections(served: list[Served]) -> None:
    one = Served("tests.client.app:app")
    served.append(one)
    reason = await refused_reason(one.url, "http://localhost:5173")
    dev = "serve with `swill run --dev` or add it to allowed_origins"
    assert reason == f"origin http://localhost:5173 is not allowed: {dev}"
    line = one.wait_for("refused connection from")
    assert re.match(rf"^INFO: +refused connection from 127\.0\.0\.1:\d+: {re.escape(reason)}$", line)
    async with Client(one.url) as client:
        assert await client.call("add", (1, 2)) == 3
    assert re.match(r"^INFO: +\S+ open 127\.0\.0\.1:\d+$", one.wait_for(" open 127"))
    assert re.match(r"^INFO: +\S+ close 127\.0\.0\.1:\d+$", one.wait_for(" close 127"))
    assert not [line for line in one.log if '"add" OK' in line]  # no access log unless asked


async def test_run_access_log(served: list[Served]) -> None:
    one = Served("tests.client.app:app", "--access-log")
    served.append(one)
    async with Client(one.url) as client:
        assert await client.call("add", (1, 2)) == 3
    assert re.match(r'^INFO: +\S+ "add" OK [\d.]+\S*s$', one.wait_for('"add" OK'))


async def test_dev_accepts_pages_on_localhost(served: list[Served]) -> None:
    one = Served("tests.client.app:app", "--dev")
    served.append(one)
    assert "WARNING:  development mode (--dev)" in one.wait_for("development mode")
    for origin in ("http://localhost:5173", "http://127.0.0.1:3000"):
        async with websockets.connect(one.url, origin=websockets.Origin(origin), subprotocols=PROTOCOL) as ws:
            assert (await ws.recv())[1] == 8  # HELLO: [8, 0, {...}] starts 0x93 0x08
    reason = await refused_reason(one.url, "https://evil.example")
    assert reason == "origin https://evil.example is not allowed: add it to Swill(allowed_origins=[...])"


def test_dev_refuses_a_host_that_is_not_loopback() -> None:
    done = swill_command("run", "tests.client.app:app", "--dev", "--host", "0.0.0.0")
    assert done.returncode == 2
    assert done.stderr.startswith("swill: --dev serves pages from localhost only, and --host 0.0.0.0 is not")
