"""annotated-types constraints in msgspec's terms, and the errors that report them.

`translate` reads one `Annotated[base, *extras]`: each constraint msgspec has a `msgspec.Meta`
for gets that `Meta` added next to it, so that msgspec checks it while decoding, in C, with its
own message and path, and `msgspec.inspect` shows it. What msgspec has no `Meta` for becomes a
`Check`, run after decoding: `Predicate`, a `Timezone` naming a zone, a bound on a type msgspec
can't bound (`Gt` on a `Decimal`, compared with Python's operators) and a bound that clashes with
a `Meta` already there (checked by msgspec on the single value, so the words stay msgspec's).

Where the translated types go, and how classes are handled without touching them, is
swill/_decoding.py's business.
"""

from __future__ import annotations

import collections.abc as abc
import dataclasses
import datetime
import functools
import operator
import re
import types
import typing
import zoneinfo
from collections.abc import Callable, Iterator
from typing import Annotated, Any, get_args, get_origin

import annotated_types as at
import msgspec

__all__ = ["Check", "Errors", "InvalidData", "distribute", "failure", "invalid", "rebase", "translate"]

Errors = list[dict[str, str]]
Test = Callable[[Any], bool]

_ANNOTATED: Any = Annotated
_UNION: Any = typing.Union
_AT = re.compile(r"(?s)(.*) - at `(key` in `)?(\$[^`]*)`")


class InvalidData(ValueError):
    """Data that does not fit the declared type; the server answers `INVALID_ARGUMENT`.

    Args:
        errors: One `{"path", "message"}` per problem found.

    Attributes:
        errors: One `{"path", "message"}` per problem found. Paths are written as msgspec writes
            them, `$` being the whole value: `$.items[2].qty`.
    """

    errors: Errors

    def __init__(self, errors: Errors) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{e['path']}: {e['message']}" for e in errors))


def split(text: str) -> tuple[str, str]:
    """msgspec's "<message> - at `<path>`" as (message, path); an error in a key says so."""
    match = _AT.fullmatch(text)
    if match is None:
        return text, "$"
    message, key, path = match.groups()
    return (f"{message} (in a key)" if key else message), path


def rebase(errors: Errors, path: str) -> Errors:
    """`errors` found in a value, placed under that value's `path`."""
    return [{"path": path + e["path"][1:], "message": e["message"]} for e in errors]


def invalid(exc: msgspec.DecodeError) -> InvalidData:
    """msgspec's error as `InvalidData`, with the errors of a `__post_init__` placed under its path."""
    cause = exc.__cause__
    if isinstance(cause, InvalidData):  # raised in a __post_init__; msgspec added the object's path
        return InvalidData(rebase(cause.errors, split(str(exc)[len(str(cause)) :])[1]))
    message, path = split(str(exc))
    return InvalidData([{"path": path, "message": message}])


@dataclasses.dataclass(frozen=True, slots=True)
class Check:
    """A constraint checked after decoding.

    Attributes:
        test: Whether a value passes; raising counts as failing.
        message: Why a value that failed `test` is refused; "" accepts it after all (msgspec had
            the last word on a value Python's operators refused).
    """

    test: Test
    message: Callable[[Any], str]


def failure(check: Check, value: Any) -> str | None:
    """Why `value` fails `check`, or None when it passes."""
    try:
        if check.test(value):
            return None
    except ValueError as exc:  # a predicate may explain itself
        return str(exc) or check.message(value) or None
    except (TypeError, AttributeError):
        pass
    return check.message(value) or None


_NUMERIC = ("gt", "ge", "lt", "le", "multiple_of")
_KEYS: dict[type, str] = {at.Gt: "gt", at.Ge: "ge", at.Lt: "lt", at.Le: "le", at.MultipleOf: "multiple_of"}
_KEYS |= {at.MinLen: "min_length", at.MaxLen: "max_length"}
_SIZED = {str, bytes, bytearray, memoryview, tuple, list, set, frozenset, dict}
_SIZED |= {abc.Collection, abc.Sequence, abc.MutableSequence, abc.Set, abc.MutableSet, abc.Mapping, abc.MutableMapping}
_KINDS = {list: "array", tuple: "array", set: "array", frozenset: "array", dict: "object", type(None): "null"}
# key: (the test with the bound first, so that functools.partial makes it one C call; the symbol)
_OPERATORS = {"gt": (operator.lt, ">"), "ge": (operator.le, ">="), "lt": (operator.gt, "<"), "le": (operator.ge, "<=")}


def _kind(value: Any) -> str:
    return _KINDS.get(type(value)) or type(value).__name__.lower()


def _expand(extra: Any) -> Iterator[Any]:
    """The annotated-types objects inside one `Annotated` extra (`Interval` holds several)."""
    if isinstance(extra, at.GroupedMetadata):
        for item in extra:
            yield from _expand(item)
    else:
        yield extra


def _constrains(extra: Any) -> bool:
    """Whether an `Annotated` extra is an annotated-types constraint (a doc is not)."""
    return isinstance(extra, at.BaseMetadata | at.GroupedMetadata) and not isinstance(extra, at.DocInfo)


def _constraint(item: Any) -> tuple[str, Any] | None:
    """The `msgspec.Meta` keyword for an annotated-types object, if there is one."""
    if isinstance(item, at.Timezone):
        return "tz", item.tz is not None
    key = _KEYS.get(type(item))
    return None if key is None else (key, getattr(item, key))


def _taken(extras: tuple[Any, ...]) -> dict[str, Any]:
    """What the `msgspec.Meta` objects already in an `Annotated` set (msgspec refuses repeats)."""
    keys = (*_NUMERIC, "min_length", "max_length", "tz", "description")
    metas = [extra for extra in extras if isinstance(extra, msgspec.Meta)]
    return {key: getattr(m, key) for m in metas for key in keys if getattr(m, key) is not None}


def _core(tp: Any) -> Any:
    """`tp` without the `Annotated` and `NewType` around it."""
    while True:
        if get_origin(tp) is Annotated:
            tp = tp.__origin__
        elif isinstance(tp, typing.NewType):
            tp = tp.__supertype__
        else:
            return tp


def _supports(tp: Any, key: str) -> bool:
    """Whether msgspec accepts `Meta(key=...)` on `tp` (it raises TypeError otherwise)."""
    base = _core(tp)
    if key in _NUMERIC:
        return base in (int, float)
    if key == "tz":
        return base in (datetime.datetime, datetime.time)
    args = get_args(base)
    if get_origin(base) is tuple and args and args[-1] is not Ellipsis:
        return False  # a fixed-length tuple
    return (get_origin(base) or base) in _SIZED


def _by_python(key: str, value: Any) -> Check:
    """A check with Python's semantics, for a type msgspec has no such constraint for."""
    test: Test
    if key in _OPERATORS:
        op, symbol = _OPERATORS[key]
        test, text = functools.partial(op, value), f"{symbol} {value!r}"
    elif key == "multiple_of":
        test, text = (lambda v: v % value == 0), f"that's a multiple of {value!r}"
    elif key == "min_length":
        test, text = (lambda v: len(v) >= value), f"of length >= {value}"
    elif key == "max_length":
        test, text = (lambda v: len(v) <= value), f"of length <= {value}"
    else:
        test = lambda v: (v.tzinfo is not None) is value  # noqa: E731
        text = "with a timezone component" if value else "with no timezone component"
    return Check(test, lambda v: f"Expected `{_kind(v)}` {text}")


def _by_msgspec(tp: Any, key: str, value: Any) -> Check:
    """Python's quick test, and msgspec's verdict and message on a value that fails it (a clash)."""
    target = _ANNOTATED[get_origin(_core(tp)) or _core(tp), msgspec.Meta(**{key: value})]

    def message(v: Any) -> str:
        try:
            msgspec.convert(v, target)
        except msgspec.ValidationError as exc:
            return split(str(exc))[0]
        return ""

    return Check(_by_python(key, value).test, message)


def _zone_check(zone: Any) -> Check:
    """`Timezone("Europe/Paris")`: the value's UTC offset is that zone's at that instant."""
    tz = zoneinfo.ZoneInfo(zone) if isinstance(zone, str) else zone

    def test(v: Any) -> bool:
        offset = v.utcoffset()
        if isinstance(v, datetime.datetime):
            return offset is not None and offset == v.astimezone(tz).utcoffset()
        return offset is not None and offset == tz.utcoffset(None)

    return Check(test, lambda v: f"Expected `{_kind(v)}` in timezone `{zone}`")


def _predicate_check(item: at.Predicate) -> Check:
    name = getattr(item.func, "__qualname__", None) or repr(item.func)
    name = name.rpartition("<locals>.")[2]  # a function defined in a function: its own name
    return Check(item.func, lambda v: f"Expected `{_kind(v)}` satisfying `{name}`")


def _meta(tp: Any, key: str, value: Any, taken: dict[str, Any], checks: list[Check]) -> list[Any]:
    """The Meta for one constraint on `tp`, or none and a check that stands in for it."""
    if not _supports(tp, key):
        checks.append(_by_python(key, value))
        return []
    if key in taken:  # the user's own Meta: msgspec checks it; a clash is checked as well
        if taken[key] != value:
            checks.append(_by_msgspec(tp, key, value))
        return []
    try:
        meta = msgspec.Meta(**{key: value})
    except TypeError:  # a bound msgspec can't hold, e.g. Gt(Decimal("0.5")) on a float
        checks.append(_by_python(key, value))
        return []
    taken[key] = value
    return [meta]


def translate(base: Any, extras: tuple[Any, ...]) -> tuple[list[Any], list[Check]]:
    """The extras of `Annotated[base, *extras]` for msgspec, and the checks left for after decoding.

    Args:
        base: The annotated type, as msgspec will see it.
        extras: The `Annotated` metadata as written.

    Returns:
        The extras with a `msgspec.Meta` after each constraint that has one, and the checks for
        the rest.
    """
    taken = _taken(extras)
    out: list[Any] = []
    checks: list[Check] = []
    for extra in extras:
        out.append(extra)
        for item in _expand(extra):
            if isinstance(item, at.Predicate):
                checks.append(_predicate_check(item))
            elif isinstance(item, at.DocInfo) and "description" not in taken:
                taken["description"] = item.documentation
                out.append(msgspec.Meta(description=item.documentation))
            elif (pair := _constraint(item)) is not None:
                if isinstance(item, at.Timezone) and item.tz not in (None, Ellipsis):
                    checks.append(_zone_check(item.tz))
                out.extend(_meta(base, *pair, taken, checks))
    return out, checks


def distribute(tp: Any) -> Any | None:
    """`Annotated[Union[...], *constraints]` as a union of constrained members, or None.

    Constraints on a union apply to each member but None: `Annotated[int | None, Gt(0)]` is
    `Annotated[int, Gt(0)] | None`. Extras that are not constraints stay around the union.
    """
    base, extras = tp.__origin__, tp.__metadata__
    pushed = [extra for extra in extras if _constrains(extra)]
    if not pushed or get_origin(base) not in (typing.Union, types.UnionType):
        return None
    union = _UNION[tuple(m if m is type(None) else _ANNOTATED[(m, *pushed)] for m in get_args(base))]
    kept = [extra for extra in extras if not _constrains(extra)]
    return _ANNOTATED[(union, *kept)] if kept else union
