"""A Swill app under `uvicorn module:app`, and mounted in Starlette and FastAPI under a prefix:
the WebSocket endpoint and the playground route work, and lifespan events are honoured."""

from __future__ import annotations

from typing import Any

import anyio
import httpx
import pytest
import websockets

from tests.conformance.conftest import RawClient
from tests.conftest import LiveServer

from . import apps


async def exercise(server: LiveServer, prefix: str) -> list[str]:
    """Call an rpc over the endpoint under `prefix`, fetch the playground; return what `seen` says."""
    url = f"ws://127.0.0.1:{server.port}{prefix}/ws"
    async with websockets.connect(url, subprotocols=[websockets.Subprotocol("swill.v1")]) as ws:
        client = RawClient(ws)
        assert (await client.recv())[0] == 8
        await client.send([0, 1, "add", None, None, [1, 2]], [0, 2, "seen", None, None, None])
        assert await client.recv_for(1) == [6, 1, 3, None, None]
        seen: list[str] = (await client.recv_for(2))[2]
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}") as http:
        page = await http.get(f"{prefix}/swill")
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert (await http.get(f"{prefix}/nope")).status_code == 404
    return seen


def test_standalone_under_uvicorn_module_app() -> None:
    server = LiveServer("tests.mount.apps:standalone")
    server.start()
    try:
        seen = anyio.run(exercise, server, "")
    finally:
        server.stop()
    assert seen == ["startup", "lifespan enter"]
    assert apps.standalone_events.snapshot() == ["startup", "lifespan enter", "lifespan exit", "shutdown"]


@pytest.mark.parametrize("host", ["starlette", "fastapi"])
def test_mounted_under_a_prefix(host: str) -> None:
    app: Any
    app, events = apps.starlette_host() if host == "starlette" else apps.fastapi_host()
    server = LiveServer(app)
    server.start()
    try:
        seen = anyio.run(exercise, server, "/rpc")

        async def health() -> int:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}") as http:
                return (await http.get("/health")).status_code

        assert anyio.run(health) == 200
    finally:
        server.stop()
    inner = ["startup", "lifespan enter"]
    if host == "starlette":
        assert seen == ["host enter", *inner]
        assert events.snapshot() == ["host enter", *inner, "lifespan exit", "shutdown", "host exit"]
    else:
        assert seen == inner
        assert events.snapshot() == [*inner, "lifespan exit", "shutdown"]
