"""Static types of the client's results, checked by mypy (`assert_type`) and run as a test."""

from __future__ import annotations

from typing import Any, assert_type

from swill.client import Call, Client
from swill.testing import TestClient

from .app import Point, make_app


async def test_response_type_types_the_result(url: str) -> None:
    async with Client(url) as client:
        total = await client.call("add", (1, 2), response_type=int)
        assert_type(total, int)
        assert total == 3
        untyped = await client.call("add", (1, 2))
        assert_type(untyped, Any)
        pairs = await client.call("swill.introspect", response_type=dict[str, Any])
        assert_type(pairs, dict[str, Any])


async def test_calls_are_generic_in_their_messages(url: str) -> None:
    async with Client(url) as client:
        stream = client.stream("count", 2, response_type=int)
        assert_type(stream, Call[int])
        async for i in stream:
            assert_type(i, int)
        call = await client.open("point", Point(1, 2), response_type=Point)
        assert_type(call, Call[Point])
        point = await call.result()
        assert_type(point, Point)
        assert point == Point(2, 1)
        assert_type(await client.open("total"), Call[Any])


async def test_test_client_is_a_client() -> None:
    async with TestClient(make_app()) as client:
        assert_type(client, TestClient)
        assert_type(await client.call("add", (1, 2), response_type=int), int)
