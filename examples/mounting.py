"""A Swill app mounted inside a FastAPI app, next to ordinary HTTP routes (docs/deployment.md).

Serve it with `uvicorn examples.mounting:api`: the WebSocket endpoint is `/rpc/ws` and the
playground `/rpc/swill`.
"""

from __future__ import annotations

from fastapi import FastAPI

import swill

rpc = swill.Swill(__name__)


@rpc.handle()
async def add(request: swill.Request[tuple[int, int]]) -> int:
    """Add two integers."""
    return request.data[0] + request.data[1]


api = FastAPI()


@api.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


api.mount("/rpc", rpc)
