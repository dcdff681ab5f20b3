"""examples/metadata.py and the frames docs/metadata.md shows."""

from __future__ import annotations

from collections.abc import Callable

import swill
from examples import metadata
from swill.client import Client

from .conftest import open_raw, run_python_block


async def test_client_leading_and_trailing_metadata_of_a_unary_call(serve: Callable[..., str]) -> None:
    async with open_raw(serve(metadata.app)) as client:
        await client.send([0, 1, "greet", {"language": "fr"}, None, "Ada"])
        assert await client.until_end(1) == [[6, 1, "Bonjour, Ada", {"content-language": "fr"}, {"length": 3}]]
        await client.send([0, 2, "greet", None, None, "Ada"])
        assert await client.until_end(2) == [[6, 2, "Hello, Ada", {"content-language": "en"}, {"length": 3}]]


async def test_leading_metadata_sent_early_then_rows_then_trailing(serve: Callable[..., str]) -> None:
    async with open_raw(serve(metadata.app)) as client:
        await client.send([0, 1, "table", None, {"window": 16}, 2])
        assert await client.until_end(1) == [
            [2, 1, {"rows": 2}],
            [1, 1, {"n": 0, "square": 0}],
            [1, 1, {"n": 1, "square": 1}],
            [3, 1, {"checksum": 1}],
        ]


async def test_error_metadata_merges_into_trailing_metadata(serve: Callable[..., str]) -> None:
    app = swill.Swill()

    @app.handle()
    async def busy(request: swill.Request[None], response: swill.Response) -> None:
        response.trailing_metadata["request-id"] = "r-42"
        raise swill.Error(swill.Code.UNAVAILABLE, "try later", metadata={"retry-after": 5})

    async with open_raw(serve(app)) as client:
        await client.send([0, 1, "busy", None, None, None])
        assert await client.until_end(1) == [
            [5, 1, "UNAVAILABLE", "try later", None, {"request-id": "r-42", "retry-after": 5}]
        ]


async def test_metadata_is_sealed_once_sent(serve: Callable[..., str]) -> None:
    app = swill.Swill()
    failures: list[str] = []

    @app.handle()
    async def twice(request: swill.Request[None], response: swill.Response) -> None:
        await response.send_leading_metadata()
        try:
            response.leading_metadata["late"] = True
        except RuntimeError as exc:
            failures.append(str(exc))
        await response.send_leading_metadata()  # RuntimeError: the call fails with INTERNAL

    async with open_raw(serve(app)) as client:
        await client.send([0, 1, "twice", None, None, None])
        [error] = await client.until_end(1)
        assert error[:4] == [5, 1, "INTERNAL", "internal error"]
    assert failures == ["leading metadata was already sent; it can't change now"]


async def test_the_python_client_snippets(serve: Callable[..., str]) -> None:
    async with Client(serve(metadata.app)) as client:
        await run_python_block("metadata.md", '"language": "fr"', client=client)
        found = await run_python_block("metadata.md", 'client.open("greet"', client=client)
    assert found["call"].trailing_metadata == {"length": 3}
