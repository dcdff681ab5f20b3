"""Fixtures for the docs' examples: each runs on a real uvicorn server and is driven with raw
PROTOCOL.md frames."""

from __future__ import annotations

import re
import textwrap
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import websockets

from tests.conformance.conftest import RawClient
from tests.conftest import LiveServer, LogWatch

DOCS = Path(__file__).parents[2] / "docs"
PYTHON_BLOCK = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)

__all__ = [
    "DOCS",
    "PYTHON_BLOCK",
    "LogWatch",
    "RawClient",
    "open_raw",
    "python_block",
    "run_python_block",
    "serve",
]


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


def python_block(page: str, containing: str) -> str:
    """The ```python block of `docs/<page>` that contains `containing`."""
    text = (DOCS / page).read_text(encoding="utf-8")
    blocks: list[str] = [block for block in PYTHON_BLOCK.findall(text) if containing in block]
    assert len(blocks) == 1, f"{len(blocks)} python blocks of {page} contain {containing!r}"
    return blocks[0]


async def run_python_block(
    page: str, containing: str, *, replace: dict[str, str] | None = None, **names: Any
) -> dict[str, Any]:
    """Run a block of a page as the body of an async function with `names` defined, after
    replacing the strings in `replace` (a URL, say); return the function's locals."""
    source = python_block(page, containing)
    for old, new in (replace or {}).items():
        assert old in source, f"{old!r} is not in the block"
        source = source.replace(old, new)
    body = textwrap.indent(source + "\nreturn locals()\n", "    ")
    namespace: dict[str, Any] = dict(names)
    exec(compile(f"async def block():\n{body}", f"docs/{page}", "exec"), namespace)
    result: dict[str, Any] = await namespace["block"]()
    return result
