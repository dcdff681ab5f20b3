"""Fixtures for the docs' examples: each runs on a real uvicorn server and is driven with raw
PROTOCOL.md frames."""

from __future__ import annotations

import logging
import re
import textwrap
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest
import websockets

from tests.conformance.conftest import RawClient
from tests.conftest import LiveServer

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
    "watch_log",
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


class LogWatch(logging.Handler):
    """Keeps the records of a logger, whichever thread logs them, and lets a test wait for some."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self._changed = threading.Condition()

    def emit(self, record: logging.LogRecord) -> None:
        with self._changed:
            self.records.append(record)
            self._changed.notify_all()

    async def wait_for(self, predicate: Callable[[list[logging.LogRecord]], bool], seconds: float = 5) -> None:
        """Wait until `predicate(records)` holds, for at most `seconds`."""

        def wait() -> bool:
            with self._changed:
                return self._changed.wait_for(lambda: predicate(self.records), seconds)

        assert await anyio.to_thread.run_sync(wait), f"log records: {[r.getMessage() for r in self.records]}"

    def messages(self) -> list[str]:
        return [record.getMessage() for record in self.records]


@pytest.fixture
def watch_log() -> Iterator[Callable[[str], LogWatch]]:
    """`watch_log("swill.access")` records that logger's INFO records and above until the test ends."""
    attached: list[tuple[logging.Logger, LogWatch, int]] = []

    def watch(name: str) -> LogWatch:
        logger = logging.getLogger(name)
        handler = LogWatch()
        attached.append((logger, handler, logger.level))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        return handler

    yield watch
    for logger, handler, level in attached:
        logger.removeHandler(handler)
        logger.setLevel(level)


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
