"""Fixtures for the docs' examples: each runs on a real uvicorn server and is driven with raw
PROTOCOL.md frames."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
import websockets

from tests.conformance.conftest import RawClient
from tests.conftest import LiveServer

__all__ = ["RawClient", "open_raw", "serve"]


@asynccontextmanager
async def open_raw(url: str, *, subprotocols: list[str] | None = None, **kwargs: Any) -> AsyncIterator[RawClient]:
    """A raw client on `url` that has read HELLO; `subprotocols` defaults to `["swill.v1"]`."""
    offered = [websockets.Subprotocol(p) for p in subprotocols or ["swill.v1"]]
    async with websockets.connect(url, subprotocols=offered, **kwargs) as ws:
        client = RawClient(ws)
        hello = await client.recv()
        assert hello[0] == 8, hello
        yield client


@pytest.fixture
def serve(live_server: Callable[..., LiveServer]) -> Callable[..., str]:
    """Serve an app and return its WebSocket URL."""

    def start(app: Any, **config: Any) -> str:
        return live_server(app, **config).url

    return start
