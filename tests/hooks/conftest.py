"""One live server for the hooks app; each test connects with its own key and query string."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlencode

import pytest
import websockets

from tests.conformance.conftest import RawClient
from tests.conftest import LiveServer

from .app import app

_keys = itertools.count(1)


@pytest.fixture(scope="module")
def server() -> Iterator[LiveServer]:
    live = LiveServer(app)
    live.start()
    yield live
    live.stop()


class Session:
    """A test's connection: its raw client and the key its records are filed under."""

    def __init__(self, key: str, client: RawClient) -> None:
        self.key = key
        self.client = client


@asynccontextmanager
async def session(server: LiveServer, **query: Any) -> AsyncIterator[Session]:
    """Connect with `?t=<a fresh key>&<query>`; lists in `query` repeat the parameter."""
    key = f"k{next(_keys)}"
    params = [("t", key)]
    for name, value in query.items():
        for item in value if isinstance(value, list) else [value]:
            params.append((name, item))
    url = f"{server.url}?{urlencode(params)}"
    async with websockets.connect(url, subprotocols=[websockets.Subprotocol("swill.v1")]) as ws:
        client = RawClient(ws)
        hello = await client.recv()
        assert hello[0] == 8
        yield Session(key, client)
