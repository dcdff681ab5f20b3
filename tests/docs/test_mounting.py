"""examples/mounting.py: a Swill app under a prefix in FastAPI, and the same in Starlette."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from examples import mounting
from tests.conftest import LiveServer

from .conftest import open_raw


@pytest.mark.parametrize("outer", ["fastapi", "starlette"])
async def test_mounted_endpoint_playground_and_http_routes(live_server: Callable[..., LiveServer], outer: str) -> None:
    app: Any = mounting.api if outer == "fastapi" else Starlette(routes=[Mount("/rpc", app=mounting.rpc)])
    server = live_server(app)
    base = f"127.0.0.1:{server.port}"
    async with open_raw(f"ws://{base}/rpc/ws") as client:
        await client.send([0, 1, "add", None, None, [1, 2]])
        assert await client.until_end(1) == [[6, 1, 3, None, None]]
    async with httpx.AsyncClient(base_url=f"http://{base}") as http:
        playground = await http.get("/rpc/swill")
        assert playground.status_code == 200 and "text/html" in playground.headers["content-type"]
        if outer == "fastapi":
            assert (await http.get("/health")).json() == {"status": "ok"}
