"""Integers a frontend can use (swill/_integers.py): `Swill(safe_integers=True)`, `swill.SafeInt`
and `swill.Int64`, from the schema and the generated TypeScript to the checks on both ways."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import msgspec
import pytest

import swill
from swill._codegen import generate_typescript
from swill._introspect import build_document
from swill.testing import TestClient
from tests.conftest import LogWatch

BIG = 2**53  # one past Number.MAX_SAFE_INTEGER


class Counter(msgspec.Struct):
    name: str
    value: int
    snowflake: swill.Int64 = 0


def make_app(*, safe_integers: bool) -> swill.Swill:
    app = swill.Swill(__name__, safe_integers=safe_integers)

    @app.handle()
    async def add(request: swill.Request[tuple[int, int]]) -> int:
        return request.data[0] + request.data[1]

    @app.handle()
    async def bump(request: swill.Request[Counter]) -> Counter:
        return msgspec.structs.replace(request.data, value=request.data.value + 1)

    @app.handle()
    async def counts(request: swill.Request[list[int]]) -> AsyncIterator[dict[str, int]]:
        for value in request.data:
            yield {"n": value * 2}

    @app.handle()
    async def small(request: swill.Request[swill.SafeInt]) -> swill.SafeInt:
        return request.data * 2

    return app


def schemas(app: swill.Swill) -> dict[str, Any]:
    return build_document(app.rpcs, safe_integers=app.safe_integers)


def test_plain_ints_are_numbers_in_the_schema_and_in_typescript() -> None:
    document = schemas(make_app(safe_integers=True))
    value = document["schemas"]["Counter"]["properties"]["value"]
    assert value == {"type": "integer", "minimum": -(BIG - 1), "maximum": BIG - 1}
    assert document["schemas"]["Counter"]["properties"]["snowflake"]["x-msgpack"] == "int64"
    code = generate_typescript(document)
    assert "value: number;" in code
    assert "snowflake?: Int64;" in code
    assert "add(data: [number, number], options?: CallOptions): Promise<number>" in code


def test_without_the_setting_plain_ints_stay_int64_and_safe_ints_are_numbers() -> None:
    document = schemas(make_app(safe_integers=False))
    assert document["schemas"]["Counter"]["properties"]["value"] == {"type": "integer", "x-msgpack": "int64"}
    code = generate_typescript(document)
    assert "value: Int64;" in code
    assert "small(data: number, options?: CallOptions): Promise<number>" in code


async def test_a_request_beyond_the_range_is_invalid() -> None:
    async with TestClient(make_app(safe_integers=True)) as client:
        assert await client.call("add", (BIG - 2, 1)) == BIG - 1
        with pytest.raises(swill.Error) as info:
            await client.call("add", (1, BIG))
        assert info.value.code is swill.Code.INVALID_ARGUMENT
        assert info.value.data == [{"path": "$[1]", "message": f"Expected `int` >= -{BIG - 1} and <= {BIG - 1}"}]
        with pytest.raises(swill.Error) as info:
            await client.call("bump", {"name": "a", "value": -BIG})
        assert info.value.data[0]["path"] == "$.value"
        # Int64 is left alone both ways.
        assert await client.call("bump", {"name": "a", "value": 1, "snowflake": 2**62}) == {
            "name": "a",
            "value": 2,
            "snowflake": 2**62,
        }


async def test_a_response_beyond_the_range_fails_on_the_server(watch_log: Callable[[str], LogWatch]) -> None:
    log = watch_log("swill")
    async with TestClient(make_app(safe_integers=True), raise_server_exceptions=False) as client:
        with pytest.raises(swill.Error) as info:
            await client.call("add", (BIG - 1, 1))
        assert info.value.code is swill.Code.INTERNAL
        stream = await client.open("counts", [1, BIG // 2 - 1, BIG // 2])  # two messages out, then the error
        seen = []
        with pytest.raises(swill.Error) as info:
            async for message in stream:
                seen.append(message)
        assert seen == [{"n": 2}, {"n": BIG - 2}]
        assert info.value.code is swill.Code.INTERNAL
    records = [record for record in log.records if record.levelno == logging.ERROR]
    assert [str(record.exc_info[1]) for record in records if record.exc_info] == [
        "an int beyond ±(2^53 - 1) at $, where clients expect a JavaScript number; "
        "declare it swill.Int64 if it may grow that large",
        "an int beyond ±(2^53 - 1) at $[...], where clients expect a JavaScript number; "
        "declare it swill.Int64 if it may grow that large",
    ]


async def test_without_the_setting_only_safe_ints_are_held() -> None:
    async with TestClient(make_app(safe_integers=False), raise_server_exceptions=False) as client:
        assert await client.call("add", (BIG, BIG)) == 2 * BIG
        with pytest.raises(swill.Error) as info:
            await client.call("small", BIG // 2 + 1)  # in range; twice it is not
        assert info.value.code is swill.Code.INTERNAL
        with pytest.raises(swill.Error) as info:
            await client.call("small", BIG)  # msgspec checks SafeInt's bounds as it decodes
        assert info.value.code is swill.Code.INVALID_ARGUMENT
