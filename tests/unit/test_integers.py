"""swill/_integers.py: which ints are JavaScript numbers, and the check compiled per type."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any, NamedTuple, TypedDict

import annotated_types as at
import msgspec
import pytest

import swill
from swill._integers import UnsafeInteger, unsafe_integer_check

BIG = 2**53


class Leaf(msgspec.Struct):
    n: int
    big: swill.Int64 = 0


class Tree(msgspec.Struct):
    leaf: Leaf
    children: list[Tree] = []


class Row(msgspec.Struct, array_like=True):
    label: str
    n: int


@dataclasses.dataclass
class Box:
    n: int


class Pair(NamedTuple):
    a: int
    b: int


class Doc(TypedDict):
    n: int


def problem(tp: Any, value: Any, *, safe_integers: bool = True) -> str | None:
    check = unsafe_integer_check(tp, safe_integers=safe_integers)
    assert check is not None
    try:
        check(value)
    except UnsafeInteger as exc:
        return str(exc).split(" at ")[1].split(",")[0]
    return None


@pytest.mark.parametrize(
    ("tp", "value", "path"),
    [
        (int, BIG - 1, None),
        (int, -(BIG - 1), None),
        (int, BIG, "$"),
        (int, -BIG, "$"),
        (list[int], [1, 2, BIG], "$[2]"),
        (tuple[str, int], ("a", BIG), "$[1]"),
        (dict[str, int], {"a": 1, "b": BIG}, "$[...]"),
        (dict[int, str], {BIG: "a"}, "$[...] (in a key)"),
        (int | str | None, "x", None),
        (int | None, BIG, "$"),
        (list[int] | None, [BIG], "$[0]"),
        (Leaf, Leaf(BIG), "$.n"),
        (Leaf, Leaf(1, big=2**62), None),  # Int64 may leave the range
        (Tree, Tree(Leaf(1), [Tree(Leaf(2), [Tree(Leaf(BIG))])]), "$.children[0].children[0].leaf.n"),
        (Row, Row("a", BIG), "$[1]"),
        (Box, Box(BIG), "$.n"),
        (Pair, Pair(1, BIG), "$.b"),
        (Doc, {"n": BIG}, "$.n"),
        (bool | int, True, None),
    ],
)
def test_the_check_names_the_first_int_beyond_the_range(tp: Any, value: Any, path: str | None) -> None:
    assert problem(tp, value) == path


def test_without_the_setting_only_bounded_ints_are_checked() -> None:
    assert unsafe_integer_check(int, safe_integers=False) is None
    assert unsafe_integer_check(list[Leaf], safe_integers=False) is None
    assert problem(swill.SafeInt, BIG, safe_integers=False) == "$"
    assert problem(Annotated[int, at.Ge(0), at.Le(10)], BIG, safe_integers=False) == "$"  # bounds in range


def test_types_without_ints_typed_as_numbers_need_no_check() -> None:
    for tp in (str, list[str], bytes, Any, swill.Int64, dict[str, swill.Int64], float):
        assert unsafe_integer_check(tp, safe_integers=True) is None


class Bounded(msgspec.Struct):
    qty: Annotated[int, at.Ge(0), at.Le(10)]  # annotated-types bounds: a number, as the schema says


def test_class_fields_with_annotated_types_bounds_are_numbers() -> None:
    assert problem(Bounded, Bounded(BIG), safe_integers=False) == "$.qty"


def test_a_list_of_ints_is_checked_at_c_speed_and_still_says_where() -> None:
    assert problem(list[int], list(range(1000))) is None
    assert problem(list[int], [*range(10), BIG, 1]) == "$[10]"
    assert problem(list[int], [1, -BIG]) == "$[1]"
    assert problem(list[int], [1, "x", BIG]) == "$[2]"  # not all numbers: the slow way
    assert problem(set[int], {1, BIG}) is not None
    assert problem(list[int], []) is None
