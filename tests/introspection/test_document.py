"""The `swill.introspect` document: its shape, over the wire and in-process (PROTOCOL.md section 7)."""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Callable, Iterator
from typing import Any, Literal

import msgspec
import pytest

import swill
import swill._introspect
from swill._codegen import load_document
from swill._introspect import build_document, describe
from swill._topics import Topic
from swill.testing import TestClient

from ..conftest import LiveServer
from . import catalog


def refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if "$ref" in node:
            yield node["$ref"]
        for value in node.values():
            yield from refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from refs(value)


def test_document_over_the_wire_is_the_apps(live_server: Callable[..., LiveServer]) -> None:
    url = live_server(catalog.app).url
    document = load_document(url)
    assert document == json.loads(json.dumps(describe(catalog.app)))
    assert set(document) == {"version", "schema_hash", "rpcs", "schemas", "topics"}
    assert document["version"] == 1
    assert re.fullmatch("[0-9a-f]{64}", document["schema_hash"])


def test_every_rpc_is_described_with_kind_docs_and_schemas() -> None:
    document = describe(catalog.app)
    rpcs = {rpc["name"]: rpc for rpc in document["rpcs"]}
    assert set(rpcs) == set(catalog.app.rpcs)
    assert {"chat.echo", "pets.adopt"} <= set(rpcs)  # routers' handlers, under their prefix
    kinds = {name: (rpc["kind"], rpc["request"]["stream"], rpc["response"]["stream"]) for name, rpc in rpcs.items()}
    assert kinds["add"] == ("unary", False, False)
    assert kinds["count"] == ("server_stream", False, True)
    assert kinds["total"] == ("client_stream", True, False)
    assert kinds["chat.echo"] == ("bidi", True, True)
    count = rpcs["count"]
    assert count["doc"] == "Count from 0 up to the given number.\n\nThe number itself is not sent."
    assert (count["summary"], count["description"]) == (
        "Count from 0 up to the given number.",
        "The number itself is not sent.",
    )
    assert (rpcs["add"]["summary"], rpcs["add"]["description"]) == ("Add two integers.", None)
    assert count["request"]["schema"] == {"type": "integer", "minimum": 0, "maximum": 100}
    assert rpcs["ping"]["request"]["schema"] == {"type": "null"}
    assert rpcs["ping"]["response"]["schema"] == {"type": "null"}
    assert rpcs["order"]["request"]["schema"] == {"$ref": "#/schemas/Order"}


def test_only_the_builtin_rpc_is_marked_builtin() -> None:
    document = describe(catalog.app)
    builtin = [rpc["name"] for rpc in document["rpcs"] if rpc["builtin"]]
    assert builtin == ["swill.introspect"]
    [introspect] = [rpc for rpc in document["rpcs"] if rpc["builtin"]]
    assert introspect["kind"] == "unary"
    assert introspect["request"]["schema"] == {"type": "null"}


def test_shared_types_are_schemas_and_every_ref_resolves() -> None:
    document = describe(catalog.app)
    names = {"Blob", "Box_int_", "Box_str_", "Cat", "Color", "Dog", "Order", "Pair", "Point", "Priority"}
    assert set(document["schemas"]) == names | {"Stock", "Tags", "Tree", "Window"}  # Stock: a declared error's
    for ref in refs(document):
        assert ref.startswith("#/schemas/")
        assert ref.removeprefix("#/schemas/") in document["schemas"]


def test_declared_errors_are_listed_with_code_doc_and_the_schema_of_their_detail() -> None:
    document = describe(catalog.app)
    rpcs = {rpc["name"]: rpc for rpc in document["rpcs"]}
    assert rpcs["reserve"]["errors"] == [
        {
            "name": "SoldOut",
            "code": "FAILED_PRECONDITION",
            "doc": "Not enough of the item is left.",
            "schema": {"$ref": "#/schemas/Stock"},
        },
        {"name": "shop.Closed", "code": "UNAVAILABLE", "doc": "The shop is closed.", "schema": {"type": "null"}},
    ]
    assert document["schemas"]["Stock"]["required"] == ["item", "left"]
    assert "errors" not in rpcs["add"]  # rpcs without declared errors carry no key


def test_document_encodes_to_msgpack_and_json_unchanged() -> None:
    document = describe(catalog.app)
    assert msgspec.msgpack.decode(msgspec.msgpack.encode(document)) == document
    assert json.loads(json.dumps(document)) == document


def test_introspection_false_removes_the_rpc(live_server: Callable[..., LiveServer]) -> None:
    app = swill.Swill(introspection=False)

    @app.handle()
    async def add(request: swill.Request[tuple[int, int]]) -> int:
        return request.data[0] + request.data[1]

    assert "swill.introspect" not in app.rpcs
    with pytest.raises(swill.Error) as refused:
        load_document(live_server(app).url)
    assert refused.value.code is swill.Code.UNIMPLEMENTED
    # The app can still be described in-process, for `swill codegen module:app`.
    assert [rpc["name"] for rpc in describe(app)["rpcs"]] == ["add"]


async def test_document_is_built_once_per_route_table(monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[int] = []
    real = swill._introspect.build_document

    def counting(*args: Any, **kwargs: Any) -> dict[str, Any]:
        built.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(swill._introspect, "build_document", counting)
    app = swill.Swill()

    @app.handle()
    async def ping(request: swill.Request[None]) -> None:
        """Ping."""

    async with TestClient(app) as client:
        first = await client.call("swill.introspect")
        second = await client.call("swill.introspect")
        assert first == second
        assert len(built) == 1

        @app.handle()
        async def pong(request: swill.Request[None]) -> None:
            """Pong."""

        third = await client.call("swill.introspect")
        assert len(built) == 2
        assert [rpc["name"] for rpc in third["rpcs"]] == ["swill.introspect", "ping", "pong"]
        assert third["schema_hash"] != first["schema_hash"]
        app.topic("temperature", float)  # a topic changes the document without a new rpc
        fourth = await client.call("swill.introspect")
        assert len(built) == 3
        assert [topic["name"] for topic in fourth["topics"]] == ["temperature"]


def make_app(field: type, doc: str = "Get.") -> swill.Swill:
    app = swill.Swill()
    thing = msgspec.defstruct("Thing", [("value", field)])

    async def get(request: Any) -> None:
        pass

    get.__doc__ = doc
    get.__annotations__ = {"request": swill.Request[thing], "return": None}  # type: ignore[valid-type]
    app.add_handler(get)
    return app


def test_schema_hash_tells_when_generated_code_is_stale() -> None:
    def schema_hash(app: swill.Swill) -> str:
        value: str = describe(app)["schema_hash"]
        return value

    same = schema_hash(make_app(int))
    assert schema_hash(make_app(int)) == same  # the same app: the same hash
    assert schema_hash(make_app(str)) != same  # a field changed type
    assert schema_hash(make_app(int, doc="Get a thing.")) != same  # a docstring changed


def test_schema_hash_leaves_out_builtin_rpcs() -> None:
    app = make_app(int)
    without = swill.Swill(introspection=False)
    without.add_handler(app.rpcs["get"].spec.endpoint)
    assert describe(without)["schema_hash"] == describe(app)["schema_hash"]


def test_topics_are_described(live_server: Callable[..., LiveServer]) -> None:
    app = swill.Swill()
    temperature: Topic[float] = app.topic("temperature", float, replay=True)
    app.expose(temperature)
    document = describe(app)
    [topic] = document["topics"]
    assert topic == temperature.describe() | {"rpcs": ["temperature"]}
    [rpc] = [rpc for rpc in document["rpcs"] if rpc["name"] == "temperature"]
    assert rpc["kind"] == "server_stream"
    event = document["schemas"][rpc["response"]["schema"]["$ref"].removeprefix("#/schemas/")]
    assert event["properties"]["value"] == {"type": "number"}  # the topic's value type
    assert "\n    " not in event["description"]  # docstrings are cleaned


def test_build_document_of_an_empty_route_table() -> None:
    document = build_document({})
    assert (document["rpcs"], document["schemas"], document["topics"]) == ([], {}, [])


class Size(enum.Enum):
    SMALL = "small"
    MEDIUM = "medium"
    LARGE = "large"


class Order(msgspec.Struct):
    size: Size
    speed: Literal["slow", "fast"]
    priority: Literal[3, 1, 2] | None = None
    tags: list[Literal["zulu", "alpha"]] = []


def test_literal_and_enum_values_are_listed_in_declaration_order() -> None:
    # msgspec sorts them; a person reads them in the order the code gives them (the playground's
    # pickers, generated code and docs show the schema's order).
    app = swill.Swill(__name__)

    @app.handle()
    async def place(request: swill.Request[Order]) -> Literal["queued", "done"]:
        return "done"

    document = build_document(app.rpcs)
    schemas = document["schemas"]
    assert schemas["Size"]["enum"] == ["small", "medium", "large"]
    fields = schemas["Order"]["properties"]
    assert fields["speed"]["enum"] == ["slow", "fast"]
    assert fields["priority"]["anyOf"][0]["enum"] == [3, 1, 2]
    assert fields["tags"]["items"]["enum"] == ["zulu", "alpha"]
    [rpc] = [rpc for rpc in document["rpcs"] if rpc["name"] == "place"]
    assert rpc["response"]["schema"]["enum"] == ["queued", "done"]


def test_introspection_marks_exactly_the_resumable_rpcs() -> None:
    from . import resumable

    marked = {rpc["name"]: rpc.get("resumable", False) for rpc in describe(resumable.app)["rpcs"]}
    assert marked == {
        "swill.introspect": False,
        "ticks": True,
        "alerts.raised": True,
        "count": False,
        "publish": False,
    }
