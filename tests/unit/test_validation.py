"""TypeCodec, annotated-types constraints at any depth, ValidatedStruct and validators."""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import gc
import pickle
import re
import sys
import types
import typing
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Generic, NamedTuple, NewType, NotRequired, TypedDict, TypeVar

import msgspec
import pytest
from annotated_types import (
    Ge,
    Gt,
    Interval,
    Le,
    Len,
    Lt,
    MaxLen,
    MinLen,
    MultipleOf,
    Predicate,
    Timezone,
    doc,
)

import swill
from swill._introspect import describe, schema_components
from swill._validation import InvalidData, TypeCodec, ValidatedStruct, validator

encode = msgspec.msgpack.encode


def errors_of(codec: TypeCodec[Any], value: Any) -> list[dict[str, str]]:
    with pytest.raises(InvalidData) as info:
        codec.decode(encode(value))
    return info.value.errors


def error_of(codec: TypeCodec[Any], value: Any) -> tuple[str, str]:
    [error] = errors_of(codec, value)
    return error["path"], error["message"]


def is_even(value: int) -> bool:
    return value % 2 == 0


Positive = Annotated[int, Gt(0)]
Even = Annotated[int, Predicate(is_even)]


# Every constraint kind, at the top level.

KINDS = [
    (Annotated[int, Gt(0)], 1, 0, "Expected `int` >= 1"),
    (Annotated[float, Gt(0)], 0.5, 0.0, "Expected `float` > 0.0"),
    (Annotated[int, Ge(2)], 2, 1, "Expected `int` >= 2"),
    (Annotated[int, Lt(5)], 4, 5, "Expected `int` <= 4"),
    (Annotated[int, Le(5)], 5, 6, "Expected `int` <= 5"),
    (Annotated[int, Interval(ge=1, lt=3)], 2, 3, "Expected `int` <= 2"),
    (Annotated[int, MultipleOf(3)], 6, 4, "Expected `int` that's a multiple of 3"),
    (Annotated[str, MinLen(2)], "ab", "a", "Expected `str` of length >= 2"),
    (Annotated[str, MaxLen(2)], "ab", "abc", "Expected `str` of length <= 2"),
    (Annotated[list[int], Len(1, 2)], [1], [], "Expected `array` of length >= 1"),
    (Annotated[list[int], Len(1, 2)], [1, 2], [1, 2, 3], "Expected `array` of length <= 2"),
    (Annotated[dict[str, int], MaxLen(1)], {"a": 1}, {"a": 1, "b": 2}, "Expected `object` of length <= 1"),
    (Annotated[bytes, MinLen(1)], b"x", b"", "Expected `bytes` of length >= 1"),
    (
        Annotated[datetime.datetime, Timezone(None)],
        "2024-01-01T00:00:00",
        "2024-01-01T00:00:00Z",
        "Expected `datetime` with no timezone component",
    ),
    (
        Annotated[datetime.datetime, Timezone(...)],
        "2024-01-01T00:00:00Z",
        "2024-01-01T00:00:00",
        "Expected `datetime` with a timezone component",
    ),
    (
        Annotated[datetime.datetime, Timezone("Europe/Paris")],
        "2024-07-01T12:00:00+02:00",
        "2024-07-01T12:00:00+01:00",
        "Expected `datetime` in timezone `Europe/Paris`",
    ),
    (Even, 2, 3, "Expected `int` satisfying `is_even`"),
    (Annotated[str, Predicate(str.islower)], "ab", "aB", "Expected `str` satisfying `str.islower`"),
]


@pytest.mark.parametrize(("tp", "good", "bad", "message"), KINDS)
def test_each_constraint_kind_is_enforced(tp: Any, good: Any, bad: Any, message: str) -> None:
    codec: TypeCodec[Any] = TypeCodec(tp)
    assert codec.decode(encode(good)) == codec.convert(good)
    assert error_of(codec, bad) == ("$", message)


def test_constraints_that_map_become_msgspec_meta_and_leave_nothing_to_check() -> None:
    codec: TypeCodec[Any] = TypeCodec(Annotated[int, Gt(0), Lt(10)])
    assert codec.type == Annotated[int, Gt(0), msgspec.Meta(gt=0), Lt(10), msgspec.Meta(lt=10)]
    assert not codec.checks  # decode is the msgspec decoder call, nothing after it


def test_a_predicate_leaves_a_check_and_the_meta_stays_with_msgspec() -> None:
    codec: TypeCodec[Any] = TypeCodec(Annotated[int, Gt(0), Predicate(is_even)])
    assert codec.checks
    assert error_of(codec, 0) == ("$", "Expected `int` >= 1")
    assert error_of(codec, 3) == ("$", "Expected `int` satisfying `is_even`")


def test_plain_types_decode_as_msgspec_does() -> None:
    codec: TypeCodec[tuple[int, str]] = TypeCodec(tuple[int, str])
    assert not codec.checks
    assert codec.decode(msgspec.Raw(encode([1, "a"]))) == (1, "a")
    assert codec.decode(encode([1, "a"])) == (1, "a")


# At depth: in classes, containers and unions.


class InStruct(msgspec.Struct):
    value: Positive = 1
    even: Even = 0


@dataclasses.dataclass
class InDataclass:
    value: Positive = 1
    even: Even = 0


class InTypedDict(TypedDict, total=False):
    value: Positive
    even: Even


class InNamedTuple(NamedTuple):
    value: Positive = 1
    even: Even = 0


def in_field(name: str) -> Callable[[Any], Any]:
    return lambda v: {name: v}


NESTED = [
    (InStruct, in_field("value"), in_field("even"), "$.{}"),
    (InDataclass, in_field("value"), in_field("even"), "$.{}"),
    (InTypedDict, in_field("value"), in_field("even"), "$.{}"),
    (InNamedTuple, lambda v: [v, 0], lambda v: [1, v], "$[{}]"),
    (list[InStruct], lambda v: [{}, {"value": v}], lambda v: [{}, {"even": v}], "$[1].{}"),
    (dict[str, InDataclass], lambda v: {"k": {"value": v}}, lambda v: {"k": {"even": v}}, "$[...].{}"),
    (InTypedDict | None, in_field("value"), in_field("even"), "$.{}"),
    (typing.Union[int, InStruct], in_field("value"), in_field("even"), "$.{}"),  # noqa: UP007
    (tuple[int, InNamedTuple], lambda v: [0, [v, 0]], lambda v: [0, [1, v]], "$[1][{}]"),
]


@pytest.mark.parametrize(("tp", "put_value", "put_even", "path"), NESTED)
def test_constraints_apply_inside_classes_containers_and_unions(
    tp: Any, put_value: Callable[[Any], Any], put_even: Callable[[Any], Any], path: str
) -> None:
    codec: TypeCodec[Any] = TypeCodec(tp)
    codec.decode(encode(put_value(5)))
    codec.decode(encode(put_even(4)))
    field = ("0", "1") if tp in (InNamedTuple, tuple[int, InNamedTuple]) else ("value", "even")
    assert error_of(codec, put_value(0)) == (path.format(field[0]), "Expected `int` >= 1")
    assert error_of(codec, put_even(3)) == (path.format(field[1]), "Expected `int` satisfying `is_even`")


CONTAINERS = [
    (list[Positive], [1, 0], "$[1]"),
    (list[Even], [2, 3], "$[1]"),
    (dict[str, Positive], {"a": 0}, "$[...]"),
    (dict[str, Even], {"a": 3}, "$[...]"),
    (tuple[int, Positive], [0, 0], "$[1]"),
    (tuple[Even, ...], [2, 3], "$[1]"),
    (set[Even], [3], "$[...]"),
    (frozenset[Positive], [0], "$[0]"),
    (Positive | None, 0, "$"),
    (Even | None, 3, "$"),
    (str | Positive, 0, "$"),
    (typing.Union[str, Even], 3, "$"),  # noqa: UP007 (the typing form too)
    (list[list[Even]], [[2], [4, 3]], "$[1][1]"),
    (NewType("Count", Even), 3, "$"),
]


@pytest.mark.parametrize(("tp", "bad", "path"), CONTAINERS)
def test_constraints_apply_inside_containers(tp: Any, bad: Any, path: str) -> None:
    [error] = errors_of(TypeCodec(tp), bad)
    assert error["path"] == path


def test_optional_and_union_members_are_left_alone_when_not_constrained() -> None:
    assert TypeCodec(Even | None).decode(encode(None)) is None
    assert TypeCodec(str | Even).decode(encode("odd")) == "odd"
    assert TypeCodec(dict[str, Even]).decode(encode({})) == {}


def test_a_constraint_on_a_union_applies_to_its_members_but_not_none() -> None:
    codec: TypeCodec[Any] = TypeCodec(Annotated[int | None, Gt(0)])
    assert codec.decode(encode(None)) is None
    assert codec.decode(encode(1)) == 1
    assert error_of(codec, 0) == ("$", "Expected `int` >= 1")
    predicate: TypeCodec[Any] = TypeCodec(Annotated[str | None, Predicate(str.islower)])
    assert predicate.decode(encode(None)) is None
    assert error_of(predicate, "A") == ("$", "Expected `str` satisfying `str.islower`")


def test_every_problem_found_after_decoding_is_reported() -> None:
    codec: TypeCodec[Any] = TypeCodec(list[Even])
    assert errors_of(codec, [1, 2, 3]) == [
        {"path": "$[0]", "message": "Expected `int` satisfying `is_even`"},
        {"path": "$[2]", "message": "Expected `int` satisfying `is_even`"},
    ]


class Node(msgspec.Struct):
    value: Even
    children: list[Node] = []


def test_recursive_types_are_checked_all_the_way_down() -> None:
    codec: TypeCodec[Node] = TypeCodec(Node)
    tree = {"value": 2, "children": [{"value": 4, "children": [{"value": 5}]}]}
    assert error_of(codec, tree) == ("$.children[0].children[0].value", "Expected `int` satisfying `is_even`")


class Leaf(msgspec.Struct):
    children: list[Leaf] = []


def test_a_recursive_type_without_leftover_constraints_needs_no_check() -> None:
    assert not TypeCodec(Leaf).checks


V = TypeVar("V")


class Page(msgspec.Struct, Generic[V]):
    items: list[V]


def test_constraints_in_the_arguments_of_a_generic_struct() -> None:
    assert error_of(TypeCodec(Page[Positive]), {"items": [1, 0]}) == ("$.items[1]", "Expected `int` >= 1")
    assert error_of(TypeCodec(Page[Even]), {"items": [2, 3]}) == ("$.items[1]", "Expected `int` satisfying `is_even`")


class Renamed(msgspec.Struct, rename="camel"):
    first_value: Positive = 1
    second_value: Even = 0


class AsArray(msgspec.Struct, array_like=True, tag=True):
    value: Positive = 1
    even: Even = 0


def test_paths_use_the_names_on_the_wire() -> None:
    renamed: TypeCodec[Renamed] = TypeCodec(Renamed)
    assert error_of(renamed, {"firstValue": 0})[0] == "$.firstValue"
    assert error_of(renamed, {"secondValue": 3})[0] == "$.secondValue"
    as_array: TypeCodec[AsArray] = TypeCodec(AsArray)
    assert error_of(as_array, ["AsArray", 0])[0] == "$[1]"
    assert error_of(as_array, ["AsArray", 1, 3])[0] == "$[2]"


def test_constraints_on_dict_keys_say_so() -> None:
    assert error_of(TypeCodec(dict[Annotated[str, MinLen(2)], int]), {"a": 1}) == (
        "$",
        "Expected `str` of length >= 2 (in a key)",
    )
    assert error_of(TypeCodec(dict[Annotated[str, Predicate(str.islower)], int]), {"A": 1}) == (
        "$",
        "Expected `str` satisfying `str.islower` (in a key)",
    )


class AllKinds(msgspec.Struct):
    gt: Annotated[int, Gt(0)] = 1
    ge: Annotated[float, Ge(0.5)] = 1.0
    lt: Annotated[int, Lt(10)] = 0
    le: Annotated[int, Le(10)] = 0
    interval: Annotated[int, Interval(gt=0, le=5)] = 1
    multiple: Annotated[int, MultipleOf(5)] = 0
    short: Annotated[str, MaxLen(3)] = ""
    named: Annotated[str, MinLen(1)] = "x"
    tags: Annotated[list[str], Len(0, 2)] = []
    at: Annotated[datetime.datetime | None, Timezone(...)] = None
    note: Annotated[str, doc("A free text note.")] = ""


ALL_KINDS_BAD = [
    ("gt", 0, "Expected `int` >= 1"),
    ("ge", 0.25, "Expected `float` >= 0.5"),
    ("lt", 10, "Expected `int` <= 9"),
    ("le", 11, "Expected `int` <= 10"),
    ("interval", 6, "Expected `int` <= 5"),
    ("multiple", 7, "Expected `int` that's a multiple of 5"),
    ("short", "abcd", "Expected `str` of length <= 3"),
    ("named", "", "Expected `str` of length >= 1"),
    ("tags", ["a", "b", "c"], "Expected `array` of length <= 2"),
    ("at", "2024-01-01T00:00:00", "Expected `datetime` with a timezone component"),
]


@pytest.mark.parametrize(("field", "bad", "message"), ALL_KINDS_BAD)
def test_every_kind_inside_a_struct(field: str, bad: Any, message: str) -> None:
    assert error_of(TypeCodec(AllKinds), {field: bad}) == (f"$.{field}", message)
    assert error_of(TypeCodec(list[AllKinds]), [{}, {field: bad}]) == (f"$[1].{field}", message)


def test_the_schema_shows_the_constraints() -> None:
    [schema], components = schema_components([TypeCodec(AllKinds).type])
    assert schema == {"$ref": "#/schemas/AllKinds"}
    fields = components["AllKinds"]["properties"]
    assert fields["gt"]["exclusiveMinimum"] == 0
    assert fields["ge"]["minimum"] == 0.5
    assert fields["lt"]["exclusiveMaximum"] == 10
    assert fields["le"]["maximum"] == 10
    assert (fields["interval"]["exclusiveMinimum"], fields["interval"]["maximum"]) == (0, 5)
    assert fields["multiple"]["multipleOf"] == 5
    assert fields["short"]["maxLength"] == 3
    assert fields["named"]["minLength"] == 1
    assert fields["tags"]["maxItems"] == 2
    assert fields["note"]["description"] == "A free text note."
    top = msgspec.json.schema(TypeCodec(list[Annotated[str, MaxLen(8)]]).type)
    assert top == {"type": "array", "items": {"type": "string", "maxLength": 8}}


# The user's classes are theirs: registering a type changes nothing in them.


@dataclasses.dataclass
class Untouched:
    qty: Positive
    codes: list[Annotated[str, Predicate(str.isupper)]] = dataclasses.field(default_factory=list)


class UntouchedStruct(msgspec.Struct):
    qty: Annotated[int, Gt(0), doc("how many")]
    boxes: list[Untouched] = []


def test_registering_leaves_the_users_classes_as_they_were() -> None:
    before = {cls: (dict(cls.__annotations__), dict(vars(cls))) for cls in (Untouched, UntouchedStruct)}
    app = swill.Swill(__name__)

    @app.handle()
    async def ship(request: swill.Request[list[UntouchedStruct]]) -> None: ...

    schemas = describe(app)["schemas"]  # the schemas read the constraints without writing them in
    assert schemas["UntouchedStruct"]["properties"]["qty"]["exclusiveMinimum"] == 0
    assert schemas["Untouched"]["properties"]["qty"]["exclusiveMinimum"] == 0
    for cls, (written, namespace) in before.items():
        assert cls.__annotations__ == written  # "Positive", not Annotated[int, Gt(0), Meta(gt=0)]
        now = {k: v for k, v in vars(cls).items() if k != "__msgspec_cache__"}  # msgspec's, on any dataclass
        assert now == namespace  # no attribute added, replaced or dropped
    [decoded] = app.rpcs["ship"].spec.request_codec.decode(encode([{"qty": 1, "boxes": [{"qty": 2}]}]))
    assert type(decoded) is UntouchedStruct and type(decoded.boxes[0]) is Untouched
    assert decoded == UntouchedStruct(qty=1, boxes=[Untouched(qty=2)])
    assert pickle.loads(pickle.dumps(decoded)) == decoded  # the class is the importable one
    # msgspec alone, without Swill, still decodes the classes as written: unchecked.
    assert msgspec.msgpack.decode(encode({"qty": 0}), type=UntouchedStruct) == UntouchedStruct(qty=0)
    assert msgspec.convert({"qty": 0}, Untouched) == Untouched(qty=0)


def test_string_annotations_are_evaluated_in_the_classes_module() -> None:
    assert InStruct.__annotations__ == {"value": "Positive", "even": "Even"}  # this module's future import
    codec: TypeCodec[InStruct] = TypeCodec(InStruct)
    assert error_of(codec, {"value": 0}) == ("$.value", "Expected `int` >= 1")
    assert InStruct.__annotations__ == {"value": "Positive", "even": "Even"}


def test_classes_from_real_annotations_work_too() -> None:
    struct = msgspec.defstruct("Real", [("qty", Annotated[int, Gt(0)]), ("even", Even, 0)])
    RealDict = TypedDict("RealDict", {"qty": Annotated[int, Gt(0)], "even": NotRequired[Even]})  # noqa: UP013
    for tp in (struct, RealDict):
        codec: TypeCodec[Any] = TypeCodec(tp)
        assert error_of(codec, {"qty": 0}) == ("$.qty", "Expected `int` >= 1")
        assert error_of(codec, {"qty": 1, "even": 1}) == ("$.even", "Expected `int` satisfying `is_even`")


def test_a_second_codec_for_the_same_class_checks_the_same() -> None:
    TypeCodec(AllKinds)
    second: TypeCodec[AllKinds] = TypeCodec(AllKinds)
    assert error_of(second, {"gt": 0}) == ("$.gt", "Expected `int` >= 1")
    assert errors_of(second, {"short": "abcd", "gt": 0}) == [  # msgspec stops at the first
        {"path": "$.short", "message": "Expected `str` of length <= 3"},
    ]


def test_a_class_msgspec_decoded_before_registration_is_checked() -> None:
    class Early(msgspec.Struct):
        qty: Annotated[int, Gt(0)]
        tags: list[Annotated[str, MaxLen(2)]] = []

    @dataclasses.dataclass
    class EarlyDataclass:
        qty: Annotated[int, Gt(0)]

    class EarlyDict(TypedDict):
        qty: Annotated[int, Gt(0)]

    for tp in (Early, EarlyDataclass, EarlyDict):
        msgspec.msgpack.decode(encode({"qty": 0}), type=tp)
        msgspec.convert({"qty": 0}, tp)
        assert error_of(TypeCodec(tp), {"qty": 0}) == ("$.qty", "Expected `int` >= 1")
    codec: TypeCodec[Early] = TypeCodec(Early)
    assert error_of(codec, {"qty": 1, "tags": ["abc"]}) == ("$.tags[0]", "Expected `str` of length <= 2")
    assert codec.decode(encode({"qty": 1, "tags": ["ab"]})) == Early(qty=1, tags=["ab"])


def test_defaults_are_not_checked_against_constraints_msgspec_checks_but_predicates_see_them() -> None:
    class Defaulted(msgspec.Struct):
        qty: Annotated[int, Gt(0)] = 0
        even: Even = 1

    codec: TypeCodec[Defaulted] = TypeCodec(Defaulted)
    assert codec.decode(encode({"even": 2})) == Defaulted(qty=0, even=2)  # as msgspec does with a Meta
    assert error_of(codec, {"qty": 0}) == ("$.qty", "Expected `int` >= 1")
    assert error_of(codec, {}) == ("$.even", "Expected `int` satisfying `is_even`")


# The validation type: twins of the classes, decoded first, where msgspec checks their fields.


class Counted(msgspec.Struct):
    qty: Positive
    inner: list[Plain] = []

    def __post_init__(self) -> None:
        post_inits.append("counted")


class Plain(msgspec.Struct):
    name: str = ""

    def __post_init__(self) -> None:
        post_inits.append("plain")


post_inits: list[str] = []


def test_the_users_post_init_runs_once_per_object() -> None:
    codec: TypeCodec[Counted] = TypeCodec(Counted)
    assert codec.checks  # Counted's field has a constraint: a validation type decodes first
    post_inits.clear()
    decoded = codec.decode(encode({"qty": 1, "inner": [{}]}))
    assert post_inits == ["plain", "counted"]
    assert decoded == Counted(qty=1, inner=[Plain()])
    post_inits.clear()
    assert error_of(codec, {"qty": 0, "inner": [{}]}) == ("$.qty", "Expected `int` >= 1")
    assert post_inits == []  # refused before any of the user's code ran


class Tree(msgspec.Struct):
    size: Positive
    children: list[Tree] = []


def test_a_class_that_contains_itself_is_checked_all_the_way_down() -> None:
    codec: TypeCodec[Tree] = TypeCodec(Tree)
    value = {"size": 1, "children": [{"size": 2, "children": [{"size": 0}]}]}
    assert error_of(codec, value) == ("$.children[0].children[0].size", "Expected `int` >= 1")
    assert codec.decode(encode({"size": 1, "children": [{"size": 2}]})) == Tree(1, [Tree(2)])


class Cat(msgspec.Struct, tag="cat", tag_field="kind"):
    lives: Annotated[int, Le(9)]


class Dog(msgspec.Struct, tag="dog", tag_field="kind", forbid_unknown_fields=True):
    name: Annotated[str, MinLen(1)]


def test_twins_read_the_same_data_as_the_classes() -> None:
    codec: TypeCodec[list[Cat | Dog]] = TypeCodec(list[Cat | Dog])
    pets = [{"kind": "cat", "lives": 9}, {"kind": "dog", "name": "rex"}]
    assert codec.decode(encode(pets)) == [Cat(9), Dog("rex")]
    assert error_of(codec, [{"kind": "cat", "lives": 10}]) == ("$[0].lives", "Expected `int` <= 9")
    assert error_of(codec, [{"kind": "dog", "name": ""}]) == ("$[0].name", "Expected `str` of length >= 1")
    assert error_of(codec, [{"kind": "cow"}]) == ("$[0].kind", "Invalid value 'cow'")
    assert error_of(codec, [{"kind": "dog", "name": "rex", "x": 1}]) == ("$[0]", "Object contains unknown field `x`")
    assert codec.decode(encode([{"kind": "cat", "lives": 1, "x": 1}])) == [Cat(1)]  # Cat ignores unknown fields


def test_a_twin_is_never_stricter_than_its_class() -> None:
    assert TypeCodec(InNamedTuple).decode(encode([1])) == InNamedTuple(1, 0)
    assert TypeCodec(InTypedDict).decode(encode({"value": 2, "other": "x"})) == {"value": 2}
    assert TypeCodec(InDataclass).decode(encode({})) == InDataclass()


# Constraints msgspec has no Meta for, or that clash with one.


def test_constraints_on_types_msgspec_cannot_constrain_use_python_comparisons() -> None:
    codec: TypeCodec[Any] = TypeCodec(Annotated[decimal.Decimal, Gt(0)])
    assert codec.decode(encode("0.5")) == decimal.Decimal("0.5")
    assert error_of(codec, "0") == ("$", "Expected `decimal` > 0")
    dates: TypeCodec[Any] = TypeCodec(Annotated[datetime.date, Ge(datetime.date(2024, 1, 1))])
    assert error_of(dates, "2023-12-31") == ("$", "Expected `date` >= datetime.date(2024, 1, 1)")


def test_a_constraint_that_clashes_with_a_meta_is_checked_as_well() -> None:
    codec: TypeCodec[Any] = TypeCodec(Annotated[int, msgspec.Meta(ge=0), Ge(5)])
    assert error_of(codec, -1) == ("$", "Expected `int` >= 0")
    assert error_of(codec, 3) == ("$", "Expected `int` >= 5")
    assert codec.decode(encode(5)) == 5


def test_a_predicate_may_explain_a_refusal_with_value_error() -> None:
    def known(value: str) -> bool:
        if value != "known":
            raise ValueError(f"{value!r} is not known")
        return True

    assert error_of(TypeCodec(list[Annotated[str, Predicate(known)]]), ["x"]) == ("$[0]", "'x' is not known")


def test_a_predicate_that_fails_with_another_error_is_a_bug_not_invalid_data() -> None:
    def broken(value: int) -> bool:
        raise KeyError(value)

    with pytest.raises(KeyError):
        TypeCodec(Annotated[int, Predicate(broken)]).decode(encode(1))


def test_python_checks_for_lengths_multiples_and_timezones_msgspec_cannot_constrain() -> None:
    assert error_of(TypeCodec(Annotated[tuple[int, int], MinLen(3)]), [1, 2]) == (
        "$",
        "Expected `array` of length >= 3",
    )
    assert error_of(TypeCodec(Annotated[Any, MaxLen(1)]), "ab") == ("$", "Expected `str` of length <= 1")
    assert error_of(TypeCodec(Annotated[decimal.Decimal, MultipleOf(2)]), "3") == (
        "$",
        "Expected `decimal` that's a multiple of 2",
    )
    assert error_of(TypeCodec(Annotated[Any, Timezone(...)]), "x") == ("$", "Expected `str` with a timezone component")
    assert error_of(TypeCodec(Annotated[float, Gt(decimal.Decimal("0.5"))]), 0.5) == (
        "$",
        "Expected `float` > Decimal('0.5')",
    )


def test_a_timezone_on_a_time_of_day() -> None:
    codec: TypeCodec[Any] = TypeCodec(Annotated[datetime.time, Timezone(datetime.UTC)])
    assert codec.decode(encode("12:00:00+00:00")) == datetime.time(12, tzinfo=datetime.UTC)
    assert error_of(codec, "12:00:00+01:00") == ("$", "Expected `time` in timezone `UTC`")


def test_constraints_on_a_newtype() -> None:
    count = NewType("count", int)
    assert error_of(TypeCodec(Annotated[count, Gt(0)]), 0) == ("$", "Expected `int` >= 1")


def test_a_constraint_on_a_union_reaches_members_it_does_not_suit() -> None:
    codec: TypeCodec[Any] = TypeCodec(Annotated[str | int, Predicate(str.islower)])
    assert codec.decode(encode("ab")) == "ab"
    assert error_of(codec, 1) == ("$", "Expected `int` satisfying `str.islower`")


def test_a_checked_literal_member_of_a_union() -> None:
    codec: TypeCodec[Any] = TypeCodec(Annotated[typing.Literal[1, 2, 3], Predicate(is_even)] | str)
    assert codec.decode(encode("odd")) == "odd"
    assert codec.decode(encode(2)) == 2
    assert error_of(codec, 3) == ("$", "Expected `int` satisfying `is_even`")


def test_checks_on_a_value_and_inside_it() -> None:
    codec: TypeCodec[Any] = TypeCodec(Annotated[list[Even], Predicate(lambda items: len(items) < 3)])
    assert codec.decode(encode([2, 4])) == [2, 4]
    assert error_of(codec, [2, 4, 6]) == ("$", "Expected `array` satisfying `<lambda>`")
    assert error_of(codec, [2, 3]) == ("$[1]", "Expected `int` satisfying `is_even`")


@dataclasses.dataclass
class Box(Generic[V]):
    item: V
    more: list[V] = dataclasses.field(default_factory=list)


class Pair(TypedDict, Generic[V]):
    first: V


def test_constraints_in_the_arguments_of_generic_dataclasses_and_typeddicts() -> None:
    assert error_of(TypeCodec(Box[Even]), {"item": 3}) == ("$.item", "Expected `int` satisfying `is_even`")
    assert error_of(TypeCodec(Pair[Even]), {"first": 3}) == ("$.first", "Expected `int` satisfying `is_even`")
    assert error_of(TypeCodec(Box[Positive]), {"item": 0}) == ("$.item", "Expected `int` >= 1")
    assert error_of(TypeCodec(Box[Even]), {"item": 2, "more": [4, 5]}) == (
        "$.more[1]",
        "Expected `int` satisfying `is_even`",
    )


def test_a_codec_shows_its_type() -> None:
    assert repr(TypeCodec(list[int])) == "TypeCodec(list[int])"


# Errors.


def test_msgspec_errors_keep_its_message_and_path() -> None:
    codec: TypeCodec[list[InStruct]] = TypeCodec(list[InStruct])
    assert error_of(codec, [{}, {"value": "x"}]) == ("$[1].value", "Expected `int`, got `str`")
    assert error_of(codec, {}) == ("$", "Expected `array`, got `object`")


def test_malformed_data_is_invalid_data_at_the_root() -> None:
    with pytest.raises(InvalidData) as info:
        TypeCodec(list[int]).decode(b"\x92\x01")
    assert info.value.errors == [{"path": "$", "message": "Input data was truncated"}]


def test_invalid_data_is_a_value_error_that_reads_well() -> None:
    error = InvalidData([{"path": "$.a", "message": "bad"}, {"path": "$.b", "message": "worse"}])
    assert isinstance(error, ValueError)
    assert str(error) == "$.a: bad; $.b: worse"


def test_convert_checks_like_decode() -> None:
    codec: TypeCodec[list[InStruct]] = TypeCodec(list[InStruct])
    assert codec.convert([{"value": 2}]) == [InStruct(value=2)]
    with pytest.raises(InvalidData) as info:
        codec.convert([{"value": 0}])
    assert info.value.errors == [{"path": "$[0].value", "message": "Expected `int` >= 1"}]
    with pytest.raises(InvalidData) as info:
        codec.convert([{"even": 1}])
    assert info.value.errors == [{"path": "$[0].even", "message": "Expected `int` satisfying `is_even`"}]


def test_convert_checks_objects_already_built_by_their_attributes() -> None:
    codec: TypeCodec[AllKinds] = TypeCodec(AllKinds)
    assert codec.convert(AllKinds(gt=2)) == AllKinds(gt=2)
    with pytest.raises(InvalidData) as info:
        codec.convert(AllKinds(gt=0))
    assert info.value.errors == [{"path": "$.gt", "message": "Expected `int` >= 1"}]
    with pytest.raises(InvalidData) as info:
        TypeCodec(list[Untouched]).convert([Untouched(qty=1), Untouched(qty=0)])
    assert info.value.errors == [{"path": "$[1].qty", "message": "Expected `int` >= 1"}]


def test_keys_that_cannot_be_attribute_names() -> None:
    Odd = TypedDict("Odd", {"first-name": Annotated[str, MinLen(1)], "class": Positive, "_x": Positive})
    codec: TypeCodec[Any] = TypeCodec(Odd)
    assert codec.decode(encode({"first-name": "a", "class": 1, "_x": 1})) == {"first-name": "a", "class": 1, "_x": 1}
    assert error_of(codec, {"first-name": "", "class": 1, "_x": 1}) == ("$.first-name", "Expected `str` of length >= 1")
    assert error_of(codec, {"first-name": "a", "class": 0, "_x": 1}) == ("$.class", "Expected `int` >= 1")
    assert error_of(codec, {"first-name": "a", "class": 1, "_x": 0}) == ("$._x", "Expected `int` >= 1")


# ValidatedStruct and validators.


class Line(ValidatedStruct):
    sku: Annotated[str, MinLen(1)]
    qty: Annotated[int, Gt(0)] = 1
    codes: list[Annotated[str, Predicate(str.isupper)]] = msgspec.field(default_factory=list)

    @validator("sku")
    def known_sku(self, value: str) -> None:
        if value == "unknown":
            raise ValueError(f"unknown sku {value!r}")

    @validator("qty")
    def in_stock(self, value: int) -> bool:  # the return value is ignored
        if value > 100:
            raise ValueError("only 100 in stock")
        return False

    @validator()
    def not_a_gift(self) -> None:
        if self.sku == "gift" and self.qty > 1:
            raise ValueError("one gift per order")


class Order(msgspec.Struct):
    lines: list[Line]


def test_a_field_validator_refuses_at_the_field_path() -> None:
    codec: TypeCodec[Line] = TypeCodec(Line)
    assert codec.decode(encode({"sku": "a", "qty": 2})) == Line(sku="a", qty=2)
    assert error_of(codec, {"sku": "unknown"}) == ("$.sku", "unknown sku 'unknown'")
    assert error_of(codec, {"sku": "a", "qty": 101}) == ("$.qty", "only 100 in stock")


def test_an_object_validator_refuses_at_the_object_path() -> None:
    assert error_of(TypeCodec(Line), {"sku": "gift", "qty": 2}) == ("$", "one gift per order")


def test_validators_run_deep_inside_the_data() -> None:
    codec: TypeCodec[Order] = TypeCodec(Order)
    lines = [{"sku": "a"}, {"sku": "b"}, {"sku": "c", "qty": 101}]
    assert error_of(codec, {"lines": lines}) == ("$.lines[2].qty", "only 100 in stock")
    assert error_of(codec, {"lines": [{"sku": "gift", "qty": 2}]}) == ("$.lines[0]", "one gift per order")
    assert error_of(codec, {"lines": [{"sku": "a", "qty": 0}]}) == ("$.lines[0].qty", "Expected `int` >= 1")
    assert error_of(codec, {"lines": [{"sku": "a", "codes": ["A", "b"]}]}) == (
        "$.lines[0].codes[1]",
        "Expected `str` satisfying `str.isupper`",
    )


@dataclasses.dataclass
class Shipment:
    orders: dict[str, Order]


class Parcel(TypedDict):
    line: Line


def test_validators_run_inside_dataclasses_typeddicts_and_dicts() -> None:
    shipment = {"orders": {"k": {"lines": [{"sku": "unknown"}]}}}
    assert error_of(TypeCodec(Shipment), shipment) == ("$.orders[...].lines[0].sku", "unknown sku 'unknown'")
    assert error_of(TypeCodec(Parcel), {"line": {"sku": "unknown"}}) == ("$.line.sku", "unknown sku 'unknown'")
    assert error_of(TypeCodec(Line | None), {"sku": "unknown"}) == ("$.sku", "unknown sku 'unknown'")


def test_every_refused_field_is_reported() -> None:
    assert errors_of(TypeCodec(Line), {"sku": "unknown", "qty": 101}) == [
        {"path": "$.sku", "message": "unknown sku 'unknown'"},
        {"path": "$.qty", "message": "only 100 in stock"},
    ]


def test_validators_run_through_convert_and_construction() -> None:
    with pytest.raises(InvalidData) as info:
        TypeCodec(Order).convert({"lines": [{"sku": "unknown"}]})
    assert info.value.errors == [{"path": "$.lines[0].sku", "message": "unknown sku 'unknown'"}]
    with pytest.raises(InvalidData) as info:
        Line(sku="a", qty=101)
    assert info.value.errors == [{"path": "$.qty", "message": "only 100 in stock"}]


calls: list[str] = []


class Base(ValidatedStruct, kw_only=True):
    qty: int

    @validator("qty")
    def base_check(self, value: int) -> None:
        calls.append("base")
        if value < 0:
            raise ValueError("negative")


class Derived(Base, kw_only=True):
    name: str = ""

    @validator("qty")
    def derived_check(self, value: int) -> None:
        calls.append("derived")
        if value > 10:
            raise ValueError("too many")

    @validator("name")
    @validator("qty")
    def both(self, value: object) -> None:
        calls.append(f"both {value!r}")

    @validator()
    def whole(self) -> None:
        calls.append("whole")

    def __post_init__(self) -> None:
        calls.append("post_init")


def test_validators_are_inherited_and_several_may_check_one_field() -> None:
    codec: TypeCodec[Derived] = TypeCodec(Derived)
    calls.clear()
    codec.decode(encode({"qty": 1, "name": "n"}))
    assert calls == ["post_init", "base", "derived", "both 1", "both 'n'", "whole"]
    calls.clear()
    assert error_of(codec, {"qty": -1}) == ("$.qty", "negative")
    assert calls == ["post_init", "base", "both ''"]  # qty refused once; no object validator
    assert error_of(codec, {"qty": 11}) == ("$.qty", "too many")
    assert error_of(TypeCodec(Base), {"qty": -1}) == ("$.qty", "negative")


def test_validators_do_not_run_on_a_field_that_failed_its_constraints() -> None:
    class Checked(ValidatedStruct):
        code: Annotated[str, Predicate(str.isupper)]

        @validator("code")
        def never_lowercase(self, value: str) -> None:
            raise AssertionError("ran on a value that failed its predicate")

    assert error_of(TypeCodec(Checked), {"code": "a"}) == ("$.code", "Expected `str` satisfying `str.isupper`")


def test_a_validator_for_an_unknown_field_fails_when_the_class_is_made() -> None:
    with pytest.raises(TypeError, match="no field 'nope'"):

        class Wrong(ValidatedStruct):
            qty: int

            @validator("nope")
            def check(self, value: int) -> None: ...


def test_validator_needs_its_parentheses() -> None:
    with pytest.raises(TypeError, match="parentheses"):
        validator(lambda self: None)  # type: ignore[arg-type]


def test_errors_raised_as_invalid_data_by_a_validator_are_placed_under_its_field() -> None:
    class Wrapper(ValidatedStruct):
        inner: dict[str, int]

        @validator("inner")
        def check(self, value: dict[str, int]) -> None:
            raise InvalidData([{"path": "$.a", "message": "bad a"}, {"path": "$.b", "message": "bad b"}])

    assert errors_of(TypeCodec(list[Wrapper]), [{"inner": {}}]) == [
        {"path": "$[0].inner.a", "message": "bad a"},
        {"path": "$[0].inner.b", "message": "bad b"},
    ]


def raising(error: Exception) -> type[ValidatedStruct]:
    """A struct whose validator raises `error`."""

    class Raising(ValidatedStruct):
        qty: int

        @validator("qty")
        def check(self, value: int) -> None:
            raise error

    return Raising


def test_a_type_error_from_a_validator_refuses_at_the_object_path_as_msgspec_does() -> None:
    strict = raising(TypeError("not that kind of number"))
    assert error_of(TypeCodec(list[strict]), [{"qty": 1}]) == ("$[0]", "not that kind of number")  # type: ignore[valid-type]


def test_other_exceptions_from_validators_are_not_invalid_data() -> None:
    with pytest.raises(RuntimeError, match="bug"):
        TypeCodec(raising(RuntimeError("bug"))).decode(encode({"qty": 1}))


def test_a_post_init_that_calls_super_validates_once() -> None:
    seen: list[str] = []

    class Counted(ValidatedStruct):
        qty: int

        @validator("qty")
        def check(self, value: int) -> None:
            seen.append("check")

        def __post_init__(self) -> None:
            seen.append("parent")

    class Child(Counted):
        def __post_init__(self) -> None:
            seen.append("child")
            super().__post_init__()

    TypeCodec(Child).decode(encode({"qty": 1}))
    assert seen == ["child", "parent", "check"]


class Forward(ValidatedStruct):
    child: Later | None = None  # defined below: planned on first use

    @validator("child")
    def not_empty(self, value: Later | None) -> None:
        if value is not None and not value.name:
            raise ValueError("empty child")


class Later(ValidatedStruct):
    name: str
    size: Annotated[int, Predicate(is_even)] = 0


def test_a_validated_struct_may_name_a_class_defined_after_it() -> None:
    codec: TypeCodec[Forward] = TypeCodec(Forward)
    assert error_of(codec, {"child": {"name": ""}}) == ("$.child", "empty child")
    assert error_of(codec, {"child": {"name": "a", "size": 1}}) == (
        "$.child.size",
        "Expected `int` satisfying `is_even`",
    )


def test_a_validated_struct_class_is_freed_like_any_class() -> None:
    def make() -> type[ValidatedStruct]:
        class Passing(ValidatedStruct):
            qty: Positive

            @validator("qty")
            def check(self, value: int) -> None: ...

        TypeCodec(list[Passing]).decode(encode([{"qty": 1}]))
        return Passing

    ref = weakref.ref(make())
    gc.collect()
    assert ref() is None  # Swill keeps no registry of classes


def test_validated_struct_is_public() -> None:
    assert swill.ValidatedStruct is ValidatedStruct
    assert swill.validator is validator


# The examples in docs/validation.md run.

DOCS = Path(__file__).parents[2] / "docs" / "validation.md"


def test_the_documentation_examples_run() -> None:
    """Every ```python block runs, in order, in one module (```py blocks need a live server)."""
    blocks = re.findall(r"^```python\n(.*?)^```", DOCS.read_text(encoding="utf-8"), flags=re.S | re.M)
    assert blocks
    module = types.ModuleType("docs_validation")  # a real module: classes resolve their annotations in it
    sys.modules[module.__name__] = module
    try:
        for block in blocks:
            exec(compile(block, str(DOCS), "exec"), module.__dict__)
    finally:
        del sys.modules[module.__name__]
