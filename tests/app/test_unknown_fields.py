"""Unknown fields (docs/validation.md): skipped by default, refused by a Struct that says so, and
by every request type under `Swill(forbid_unknown_fields=True)`, with introspection to match."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from typing import Annotated, Any, TypedDict

import annotated_types as at
import msgspec
import pytest

import swill
from swill._introspect import build_document
from swill.testing import TestClient


class Item(msgspec.Struct):
    sku: str
    qty: Annotated[int, at.Gt(0)] = 1


class Order(msgspec.Struct):
    items: list[Item]
    note: str = ""


class Strict(msgspec.Struct, forbid_unknown_fields=True):
    name: str


class Checked(swill.ValidatedStruct):
    name: str

    @swill.validator("name")
    def upper(self, value: str) -> None:
        if not value.isupper():
            raise ValueError("must be upper case")


@dataclasses.dataclass
class Box:
    n: int


class Doc(TypedDict):
    a: int


def make_app(*, forbid_unknown_fields: bool) -> swill.Swill:
    app = swill.Swill(__name__, forbid_unknown_fields=forbid_unknown_fields)

    @app.handle()
    async def place(request: swill.Request[Order]) -> int:
        return sum(item.qty for item in request.data.items)

    @app.handle()
    async def strict(request: swill.Request[Strict]) -> str:
        return request.data.name

    @app.handle()
    async def checked(request: swill.Request[Checked]) -> str:
        return request.data.name

    @app.handle()
    async def box(request: swill.Request[Box]) -> int:
        return request.data.n

    @app.handle()
    async def doc(request: swill.Request[Doc]) -> int:
        return request.data["a"]

    @app.handle()
    async def count(request: swill.Request[int]) -> AsyncIterator[Item]:
        yield Item("a", request.data)

    @app.handle()
    async def total(request: swill.StreamingRequest[Item]) -> int:
        return sum([item.qty async for item in request])

    return app


async def refusal(client: TestClient, rpc: str, data: Any) -> list[dict[str, Any]]:
    with pytest.raises(swill.Error) as info:
        await client.call(rpc, data)
    assert info.value.code is swill.Code.INVALID_ARGUMENT
    assert isinstance(info.value.data, list)
    return info.value.data


async def test_by_default_unknown_fields_are_skipped_unless_the_struct_forbids_them() -> None:
    async with TestClient(make_app(forbid_unknown_fields=False)) as client:
        assert await client.call("place", {"items": [{"sku": "a", "qty": 2, "extra": 1}]}) == 2
        assert await client.call("box", {"n": 1, "m": 2}) == 1
        assert await refusal(client, "strict", {"name": "a", "x": 1}) == [
            {"path": "$", "message": "Object contains unknown field `x`"}
        ]


async def test_the_app_wide_switch_refuses_them_in_every_class() -> None:
    async with TestClient(make_app(forbid_unknown_fields=True)) as client:
        assert await client.call("place", {"items": [{"sku": "a", "qty": 2}]}) == 2
        assert await refusal(client, "place", {"items": [{"sku": "a", "qty": 1, "extra": 1}]}) == [
            {"path": "$.items[0]", "message": "Object contains unknown field `extra`"}
        ]
        assert await refusal(client, "place", {"items": [], "x": 1}) == [
            {"path": "$", "message": "Object contains unknown field `x`"}
        ]
        assert (await refusal(client, "box", {"n": 1, "m": 2}))[0]["message"] == "Object contains unknown field `m`"
        assert (await refusal(client, "doc", {"a": 1, "b": 2}))[0]["message"] == "Object contains unknown field `b`"
        # Constraints and validators still run, once.
        assert (await refusal(client, "place", {"items": [{"sku": "a", "qty": 0}]}))[0]["path"] == "$.items[0].qty"
        assert (await refusal(client, "checked", {"name": "a"}))[0]["message"] == "must be upper case"
        assert await client.call("checked", {"name": "A"}) == "A"
        # In a stream, the message is named by its index.
        call = await client.open("total", {"sku": "a"})
        await call.send({"sku": "b", "z": 0})
        await call.end()
        with pytest.raises(swill.Error) as info:
            await call.result()
        assert info.value.data == [{"path": "$", "message": "Object contains unknown field `z`", "index": 1}]


def test_introspection_says_no_other_fields() -> None:
    for forbid in (False, True):
        app = make_app(forbid_unknown_fields=forbid)
        schemas = build_document(app.rpcs, forbid_unknown_fields=app.forbid_unknown_fields)["schemas"]
        assert schemas["Strict"]["additionalProperties"] is False
        for name in ("Order", "Item", "Box", "Doc", "Checked"):
            assert schemas[name].get("additionalProperties") is (False if forbid else None), name
