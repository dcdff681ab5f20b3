"""A Swill app served three ways: by itself, mounted in Starlette, mounted in FastAPI.

Each module-level app is built by a factory so that every test gets fresh lifespan records;
`uvicorn tests.mount.apps:standalone` imports the standalone one by name.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route

import swill

__all__ = ["Events", "fastapi_host", "make_rpc", "standalone", "starlette_host"]


class Events:
    """What the lifespan did, in order; read from the test's thread."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.seen: list[str] = []

    def add(self, event: str) -> None:
        with self.lock:
            self.seen.append(event)

    def snapshot(self) -> list[str]:
        with self.lock:
            return list(self.seen)


def make_rpc() -> tuple[swill.Swill, Events]:
    events = Events()

    @asynccontextmanager
    async def lifespan(app: swill.Swill) -> AsyncIterator[None]:
        events.add("lifespan enter")
        yield
        events.add("lifespan exit")

    rpc = swill.Swill(__name__, lifespan=lifespan)
    rpc.on_startup(lambda: events.add("startup"))
    rpc.on_shutdown(lambda: events.add("shutdown"))

    @rpc.handle()
    async def add(request: swill.Request[tuple[int, int]]) -> int:
        return request.data[0] + request.data[1]

    @rpc.handle()
    async def seen(request: swill.Request[None]) -> list[str]:
        return events.snapshot()

    return rpc, events


async def health(request: Request) -> PlainTextResponse:
    return PlainTextResponse("ok")


def starlette_host() -> tuple[Starlette, Events]:
    rpc, events = make_rpc()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        events.add("host enter")
        async with rpc.lifespan(app):
            yield
        events.add("host exit")

    host = Starlette(routes=[Route("/health", health), Mount("/rpc", app=rpc)], lifespan=lifespan)
    return host, events


def fastapi_host() -> tuple[FastAPI, Events]:
    rpc, events = make_rpc()
    api = FastAPI(lifespan=rpc.lifespan)

    @api.get("/health")
    async def api_health() -> dict[str, Any]:
        return {"ok": True}

    api.mount("/rpc", rpc)
    return api, events


standalone, standalone_events = make_rpc()
