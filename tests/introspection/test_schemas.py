"""Schemas that tell the truth about the MessagePack wire, for a wide set of types."""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import uuid
from typing import Annotated, Any, Literal, NamedTuple, NotRequired, TypedDict

import annotated_types as at
import msgspec
import pytest

import swill
from swill._integers import MAX_SAFE_INTEGER
from swill._introspect import schema_components

from . import catalog


def schema(tp: Any) -> dict[str, Any]:
    [out], _ = schema_components([tp])
    return out


def components(*types: Any) -> dict[str, Any]:
    _, out = schema_components(types)
    return out


class Shade(enum.Enum):
    DARK = "dark"
    LIGHT = "light"


class Item(msgspec.Struct):
    """An item.

    With a longer description.
    """

    name: Annotated[str, msgspec.Meta(description="What it is called.", examples=["tea"], title="Name")]
    price: Annotated[float, at.Ge(0)] = 0.0
    """The price, in euros."""
    labels: Annotated[list[Annotated[str, at.MaxLen(8)]], at.MaxLen(3)] = msgspec.field(default_factory=list)
    """The labels."""
    shade: Shade | None = None
    documented_twice: Annotated[int, msgspec.Meta(description="From Meta.")] = 0
    """From the docstring."""


class Plain(msgspec.Struct):
    qty: Annotated[int, at.Gt(0), at.Le(1000)]
    item: Annotated[str, at.MinLen(1)]


class Validated(swill.ValidatedStruct):
    qty: Annotated[int, at.Gt(0), at.Le(1000)]
    item: Annotated[str, at.MinLen(1)]

    @swill.validator("qty")
    def _check(self, value: int) -> None:
        pass


class Reply(msgspec.Struct):
    count: Annotated[int, at.MultipleOf(2), at.Ge(0), at.Le(10)]


@pytest.mark.parametrize(
    ("tp", "expected"),
    [
        (bytes, {"type": "string", "contentEncoding": "base64", "x-msgpack": "bin"}),
        (bytearray, {"type": "string", "contentEncoding": "base64", "x-msgpack": "bin"}),
        (datetime.datetime, {"type": "string", "format": "date-time", "x-msgpack": "timestamp"}),
        (
            Annotated[datetime.datetime, msgspec.Meta(tz=True)],
            {"type": "string", "format": "date-time", "x-msgpack": "timestamp"},
        ),
        (int, {"type": "integer", "x-msgpack": "int64"}),
        (float, {"type": "number"}),
        (bool, {"type": "boolean"}),
        (str, {"type": "string"}),
        (None, {"type": "null"}),
    ],
)
def test_msgpack_types_are_marked(tp: Any, expected: dict[str, Any]) -> None:
    assert schema(tp) == expected


@pytest.mark.parametrize(
    ("tp", "expected"),
    [
        # A naive datetime travels as an RFC 3339 string, like JSON; so do the other time types.
        (Annotated[datetime.datetime, msgspec.Meta(tz=False)], {"type": "string"}),
        (datetime.date, {"type": "string", "format": "date"}),
        (datetime.timedelta, {"type": "string", "format": "duration"}),
        (datetime.time, {"type": "string"}),
        (Annotated[datetime.time, msgspec.Meta(tz=True)], {"type": "string", "format": "time"}),
        (uuid.UUID, {"type": "string", "format": "uuid"}),
        (decimal.Decimal, {"type": "string", "format": "decimal"}),
    ],
)
def test_types_that_travel_as_strings_are_not_marked(tp: Any, expected: dict[str, Any]) -> None:
    assert schema(tp) == expected


def test_msgpack_marks_match_what_msgspec_sends() -> None:
    # bin 8/16/32, the timestamp extension (type -1), and uint64/int64.
    assert msgspec.msgpack.encode(b"abc")[0] in (0xC4, 0xC5, 0xC6)
    stamp = msgspec.msgpack.encode(datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC))
    assert stamp[:2] in (b"\xd6\xff", b"\xd7\xff") or (stamp[0] == 0xC7 and stamp[2] == 0xFF)
    assert msgspec.msgpack.encode(datetime.datetime(2024, 1, 1))[0] & 0xE0 == 0xA0  # a fixstr
    assert msgspec.msgpack.encode(MAX_SAFE_INTEGER + 1)[0] == 0xCF
    assert msgspec.msgpack.encode(-MAX_SAFE_INTEGER - 1)[0] == 0xD3


@pytest.mark.parametrize(
    ("bounds", "int64"),
    [
        ((), True),
        ((at.Ge(0),), True),  # no upper bound: it may leave ±2^53
        ((at.Ge(0), at.Le(MAX_SAFE_INTEGER)), False),
        ((at.Gt(-MAX_SAFE_INTEGER - 1), at.Lt(MAX_SAFE_INTEGER + 1)), False),
        ((at.Ge(0), at.Le(MAX_SAFE_INTEGER + 1)), True),
        ((at.Interval(ge=-(2**63), le=2**63 - 1),), True),
        ((msgspec.Meta(ge=-5, le=5),), False),
    ],
)
def test_int64_is_an_integer_whose_bounds_may_leave_2_53(bounds: tuple[Any, ...], int64: bool) -> None:
    tp = Annotated[(int, *bounds)] if bounds else int
    assert (schema(tp).get("x-msgpack") == "int64") is int64


def test_bytes_lengths_count_bytes_not_base64_characters() -> None:
    assert schema(Annotated[bytes, at.MinLen(1), at.MaxLen(10)]) == {
        "type": "string",
        "contentEncoding": "base64",
        "x-msgpack": "bin",
        "minLength": 1,
        "maxLength": 10,
    }


@pytest.mark.parametrize(
    ("tp", "expected"),
    [
        (Annotated[int, at.Gt(0), at.Lt(10)], {"exclusiveMinimum": 0, "exclusiveMaximum": 10}),
        (
            Annotated[float, at.Ge(0.5), at.Le(1.5), at.MultipleOf(0.5)],
            {"minimum": 0.5, "maximum": 1.5, "multipleOf": 0.5},
        ),
        (Annotated[str, at.Len(2, 5)], {"minLength": 2, "maxLength": 5}),
        (Annotated[str, msgspec.Meta(pattern="^[a-z]+$")], {"pattern": "^[a-z]+$"}),
        (Annotated[list[int], at.MinLen(1), at.MaxLen(3)], {"minItems": 1, "maxItems": 3}),
        (Annotated[dict[str, int], at.MaxLen(4)], {"maxProperties": 4}),
        (Annotated[int, at.Interval(ge=1, le=5)], {"minimum": 1, "maximum": 5}),
    ],
)
def test_constraints_become_json_schema_keywords(tp: Any, expected: dict[str, Any]) -> None:
    out = schema(tp)
    assert {key: out[key] for key in expected} == expected


def test_struct_fields_carry_constraints_docs_examples_and_defaults() -> None:
    assert schema(Item) == {"$ref": "#/schemas/Item"}
    item = components(Item)["Item"]
    assert item["title"] == "Item"
    assert item["description"] == "An item.\n\nWith a longer description."
    assert item["required"] == ["name"]
    props = item["properties"]
    assert props["name"] == {
        "type": "string",
        "title": "Name",
        "description": "What it is called.",
        "examples": ["tea"],
    }
    assert props["price"] == {"type": "number", "minimum": 0, "description": "The price, in euros.", "default": 0.0}
    labels = props["labels"]
    assert (labels["maxItems"], labels["items"]["maxLength"], labels["default"]) == (3, 8, [])
    assert props["shade"] == {"anyOf": [{"$ref": "#/schemas/Shade"}, {"type": "null"}], "default": None}
    assert props["documented_twice"]["description"] == "From Meta."  # Meta wins over a docstring


def test_enums_and_literals_are_enums() -> None:
    assert components(Shade)["Shade"] == {"title": "Shade", "enum": ["dark", "light"]}  # no doc: none
    assert components(catalog.Color)["Color"]["description"] == "A color of the rainbow."
    assert components(catalog.Priority)["Priority"] == {"title": "Priority", "enum": [1, 2]}
    assert schema(Literal["a", "b"]) == {"enum": ["a", "b"]}
    assert schema(Literal["a", None]) == {"enum": [None, "a"]}


def test_optional_and_unions() -> None:
    assert schema(int | None) == {"anyOf": [{"type": "integer", "x-msgpack": "int64"}, {"type": "null"}]}
    assert schema(bytes | float) == {
        "anyOf": [{"type": "string", "contentEncoding": "base64", "x-msgpack": "bin"}, {"type": "number"}]
    }


def test_tagged_unions_have_a_discriminator() -> None:
    assert schema(catalog.Cat | catalog.Dog | None) == {
        "anyOf": [
            {
                "anyOf": [{"$ref": "#/schemas/Cat"}, {"$ref": "#/schemas/Dog"}],
                "discriminator": {
                    "propertyName": "type",
                    "mapping": {"Cat": "#/schemas/Cat", "Dog": "#/schemas/Dog"},
                },
            },
            {"type": "null"},
        ]
    }
    cat = components(catalog.Cat)["Cat"]
    assert cat["properties"]["type"] == {"enum": ["Cat"]}
    assert cat["required"] == ["type"]


def test_nested_and_recursive_structs_refer_to_each_other() -> None:
    out = components(catalog.Tree, catalog.Blob)
    assert out["Tree"]["properties"]["children"] == {
        "type": "array",
        "items": {"$ref": "#/schemas/Tree"},
        "default": [],
    }
    assert out["Blob"]["properties"]["big"] == {"type": "integer", "x-msgpack": "int64"}
    assert out["Blob"]["properties"]["small"] == {"type": "integer", "minimum": -100, "maximum": 100}


def test_array_like_structs_and_named_tuples_name_their_items() -> None:
    out = components(catalog.Point, catalog.Pair)
    assert out["Point"] == {
        "title": "Point",
        "type": "array",
        "prefixItems": [{"type": "number", "x-name": "x"}, {"type": "number", "default": 0.0, "x-name": "y"}],
        "minItems": 1,
    }
    assert out["Pair"]["minItems"] == 1
    assert out["Pair"]["maxItems"] == 2
    assert [item["x-name"] for item in out["Pair"]["prefixItems"]] == ["left", "right"]


def test_dataclasses_typed_dicts_and_generics() -> None:
    out = components(catalog.Window, catalog.Tags, catalog.Box[int])
    assert out["Window"]["required"] == ["start"]
    assert out["Window"]["properties"]["end"]["default"] is None
    assert "description" not in out["Window"]  # not the dataclass's generated "Window(start, end)"
    assert out["Tags"]["required"] == ["names"]  # `weight` is NotRequired
    assert out["Box_int_"]["title"] == "Box[int]"
    assert out["Box_int_"]["properties"]["item"] == {"type": "integer", "x-msgpack": "int64"}


def test_a_validated_struct_is_described_like_a_struct() -> None:
    plain = components(Plain)["Plain"]
    validated = components(Validated)["Validated"]
    assert validated == {**plain, "title": "Validated"}
    assert plain["properties"]["qty"] == {"type": "integer", "exclusiveMinimum": 0, "maximum": 1000}


def test_response_types_carry_annotated_types_constraints_too() -> None:
    app = swill.Swill()

    @app.handle()
    async def reply(request: swill.Request[None]) -> Reply:
        return Reply(2)

    document = swill._introspect.describe(app)
    assert document["schemas"]["Reply"]["properties"]["count"] == {
        "type": "integer",
        "minimum": 0,
        "maximum": 10,
        "multipleOf": 2,
    }


def test_maps_with_non_string_keys_say_so() -> None:
    assert schema(dict[int, str]) == {
        "type": "object",
        "propertyNames": {"type": "integer", "x-msgpack": "int64"},
        "additionalProperties": {"type": "string"},
    }
    assert schema(dict[str, Any]) == {"type": "object"}


def test_classes_with_the_same_name_get_their_full_names() -> None:
    def make() -> type:
        class Item(msgspec.Struct):
            other: int

        return Item

    out = components(Item, make())
    assert set(out) == {
        "Shade",
        f"{__name__}.Item",
        f"{__name__}.test_classes_with_the_same_name_get_their_full_names.<locals>.make.<locals>.Item".replace(
            "<", "_"
        ).replace(">", "_"),
    }


class Custom:
    pass


@dataclasses.dataclass
class Holder:
    value: Any
    raw: msgspec.Raw


class Keyed(TypedDict):
    key: str
    extra: NotRequired[int]


class Row(NamedTuple):
    a: int


def test_anything_goes_and_unknown_types_are_empty_schemas() -> None:
    assert schema(Any) == {}
    assert schema(msgspec.Raw) == {}
    assert schema(Custom) == {}  # a response type msgspec can't describe does not break the document
    assert schema(msgspec.msgpack.Ext) == {"x-msgpack": "ext"}
    assert components(Holder)["Holder"]["properties"] == {"value": {}, "raw": {}}
    assert components(Keyed)["Keyed"]["required"] == ["key"]
    assert components(Row)["Row"]["prefixItems"] == [{"type": "integer", "x-msgpack": "int64", "x-name": "a"}]


class Base(msgspec.Struct):
    shared: int = 0
    """Documented on the base."""


def test_attribute_docstrings_of_local_classes_and_bases() -> None:
    class Local(Base):
        own: str = ""
        """Documented here."""

    props = components(Local)["Local"]["properties"]
    assert props["shared"]["description"] == "Documented on the base."
    assert props["own"]["description"] == "Documented here."
