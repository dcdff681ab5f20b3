"""examples/quickstart.py, which docs/getting-started.md walks through."""

from __future__ import annotations

from collections.abc import Callable

import pytest

import swill
from examples import quickstart
from swill.client import Client

from .conftest import open_raw, run_python_block


async def test_every_handler(serve: Callable[..., str]) -> None:
    async with open_raw(serve(quickstart.app)) as client:
        await client.send([0, 1, "add", None, None, [1, 2]])
        assert await client.until_end(1) == [[6, 1, 3, None, None]]
        await client.send([0, 2, "count", None, None, 3])
        assert await client.until_end(2) == [[1, 2, 0], [1, 2, 1], [1, 2, 2], [3, 2, None]]
        await client.send([0, 3, "total"], [1, 3, 1], [1, 3, 2], [3, 3])
        assert (await client.until_end(3))[-1] == [6, 3, 3.0, None, None]
        await client.send([0, 4, "chat.echo", None, None, "hi"], [3, 4])
        assert await client.until_end(4) == [[1, 4, "hi"], [3, 4, None]]
        await client.send([0, 5, "greet", None, None, {"name": "Ada", "excited": True}])
        assert await client.until_end(5) == [[6, 5, "Hello, Ada!", {"greeter": "swill"}, {"length": 3}]]
        await client.send([0, 6, "slow_sum", None, None, [0.5, 0.25]])
        assert await client.until_end(6) == [[6, 6, 0.75, None, None]]


async def test_validation_the_page_mentions(serve: Callable[..., str]) -> None:
    async with open_raw(serve(quickstart.app)) as client:
        await client.send([0, 1, "greet", None, None, {"name": ""}])
        [error] = await client.until_end(1)
        assert error[:3] == [5, 1, "INVALID_ARGUMENT"]
        assert error[4][0]["path"] == "$.name"
        await client.send([0, 2, "count", None, None, -1])
        [error] = await client.until_end(2)
        assert error[:3] == [5, 2, "INVALID_ARGUMENT"]


async def test_the_python_client_snippet(serve: Callable[..., str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(swill, "Client", Client, raising=False)  # until swill exports it
    url = serve(quickstart.app)
    await run_python_block("getting-started.md", "swill.Client(", replace={"ws://127.0.0.1:8000/ws": url}, swill=swill)
