"""Integers a frontend can use: which ints are typed `number` for JavaScript, and the check that
keeps the promise on the way out.

Rules:

1. An int is *typed as a number* (JSON Schema without `"x-msgpack": "int64"`, `number` in
   generated TypeScript and in the playground) when its bounds keep it within ±(2^53 - 1)
   (`SafeInt`), or when the app says `Swill(safe_integers=True)` and the int is not marked
   `Int64`. Any other int is `Int64` (`number | bigint`). `typed_as_number` decides; introspection
   and this module's check both ask it, so the schema and the check never disagree.
2. Requests: under `safe_integers` a decoded message is checked for a plain int beyond
   ±(2^53 - 1), so a client's 2^60 is `INVALID_ARGUMENT` with its path (a `SafeInt`'s bounds are
   a `msgspec.Meta`, which msgspec checks as it decodes).
3. Responses: msgspec checks nothing while encoding, so before a message that holds ints typed as
   numbers is sent, `unsafe_integer_check(T)` (compiled once per type, visiting only those ints)
   finds one beyond ±(2^53 - 1); the call then fails on the server (`UnsafeInteger`, logged with
   its path, `INTERNAL` for the client) instead of sending a value JavaScript can't hold exactly.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any, Final, cast

import msgspec
import msgspec.inspect as mi

if TYPE_CHECKING:
    from ._registry import HandlerSpec
    from ._validation import TypeCodec

__all__ = [
    "MAX_SAFE_INTEGER",
    "Int64",
    "SafeInt",
    "UnsafeInteger",
    "is_int64",
    "safe_integer_rules",
    "typed_as_number",
    "unsafe_integer_check",
]

MAX_SAFE_INTEGER: Final = 2**53 - 1
"""The largest integer a JavaScript number holds exactly (`Number.MAX_SAFE_INTEGER`)."""

_INT64_MARK: Final = {"swill": "int64"}

Int64 = Annotated[int, msgspec.Meta(extra=_INT64_MARK)]
"""An int that may leave ±(2^53 - 1): `Int64` (`number | bigint`) in TypeScript, never bounded by
`Swill(safe_integers=True)`. Use it for ids and counters that can grow past 2^53."""

SafeInt = Annotated[int, msgspec.Meta(ge=-MAX_SAFE_INTEGER, le=MAX_SAFE_INTEGER)]
"""An int within ±(2^53 - 1): `number` in TypeScript; a request beyond is `INVALID_ARGUMENT`, a
response beyond fails the call on the server."""

Check = Callable[[Any], str | None]
"""Returns `None`, or the path (below the value) of an int beyond ±(2^53 - 1)."""


class UnsafeInteger(OverflowError):
    """A handler sent an int typed as a number (for JavaScript) beyond ±(2^53 - 1)."""


def is_int64(t: mi.Type) -> bool:
    """Whether `t` (a `Metadata` chain) is marked `Int64`."""
    while isinstance(t, mi.Metadata):
        if (t.extra or {}).get("swill") == "int64":
            return True
        t = t.type
    return False


def typed_as_number(t: mi.IntType, *, int64: bool, safe_integers: bool) -> bool:
    """Whether an int is typed `number` for JavaScript (rule 1)."""
    low = t.ge if t.gt is None else t.gt + 1
    high = t.le if t.lt is None else t.lt - 1
    if low is not None and high is not None and low >= -MAX_SAFE_INTEGER and high <= MAX_SAFE_INTEGER:
        return True
    return safe_integers and not int64


def unsafe_integer_check(tp: Any, *, safe_integers: bool) -> Callable[[Any], None] | None:
    """The check of rule 3 for messages of type `tp`; `None` when it holds no int typed as a number.

    The returned function raises `UnsafeInteger` naming the path of the first int beyond
    ±(2^53 - 1).
    """
    check = _Compiler(safe_integers).compile(_type_info(tp))
    if check is None:
        return None

    def run(value: Any) -> None:
        path = check(value)
        if path is not None:
            raise UnsafeInteger(
                f"an int beyond ±(2^53 - 1) at ${path}, where clients expect a JavaScript number; "
                "declare it swill.Int64 if it may grow that large"
            )

    return run


def _type_info(tp: Any) -> mi.Type:
    """msgspec's view of `tp` with annotated-types bounds read as `Meta`, as introspection sees it."""
    from ._decoding import decoding

    try:
        tp = decoding(tp).type
    except Exception:  # a type msgspec can't decode, such as a response-only custom class
        pass
    try:
        return mi.type_info(tp)
    except Exception:  # a type msgspec can't describe is sent as it is
        return mi.AnyType()


def _field_types(cls: Any) -> dict[str, mi.Type]:
    """The fields of `cls` whose types carry constraints, as introspection shows them."""
    from ._decoding import field_types

    try:
        return {name: mi.type_info(tp) for name, tp in field_types(cls).items()}
    except Exception:  # as `_type_info`: what msgspec can't describe has no ints to check
        return {}


class _Compiler:
    """Builds a `Check` per type, visiting only the ints typed as numbers."""

    def __init__(self, safe_integers: bool) -> None:
        self.safe_integers = safe_integers
        self.classes: dict[Any, Check | None] = {}
        self.pending: dict[Any, list[Check | None]] = {}

    def compile(self, t: mi.Type) -> Check | None:
        int64 = is_int64(t)
        while isinstance(t, mi.Metadata):
            t = t.type
        if isinstance(t, mi.IntType):
            return _check_int if typed_as_number(t, int64=int64, safe_integers=self.safe_integers) else None
        if isinstance(t, mi.UnionType):
            return self.union(t)
        if isinstance(t, (mi.ListType, mi.SetType, mi.FrozenSetType, mi.VarTupleType)):
            return _each(self.compile(t.item_type))
        if isinstance(t, mi.TupleType):
            return _positions([self.compile(item) for item in t.item_types])
        if isinstance(t, (mi.DictType, mi.FrozenDictType)):
            return _mapping(self.compile(t.key_type), self.compile(t.value_type))
        if isinstance(t, (mi.StructType, mi.DataclassType, mi.TypedDictType, mi.NamedTupleType)):
            return self.class_check(t)
        return None

    def union(self, t: mi.UnionType) -> Check | None:
        guarded = [(_instance_of(member), self.compile(member)) for member in t.types]
        options = [(kinds, check) for kinds, check in guarded if check is not None]
        if not options:
            return None

        def check(value: Any) -> str | None:
            for kinds, member in options:
                if isinstance(value, kinds):
                    return member(value)
            return None

        return check

    def class_check(self, t: Any) -> Check | None:
        if t.cls in self.classes:
            return self.classes[t.cls]
        if t.cls in self.pending:  # a class that contains itself: resolved once it is built
            waiting = self.pending[t.cls]
            return lambda value: None if waiting[0] is None else waiting[0](value)
        cell: list[Check | None] = [None]
        self.pending[t.cls] = cell
        keyed = isinstance(t, mi.TypedDictType)
        indexed = getattr(t, "array_like", False)
        fields = []
        declared = _field_types(t.cls)  # fields whose annotated-types bounds msgspec can't see
        for index, field in enumerate(t.fields):
            check = self.compile(declared.get(field.name, field.type))
            if check is not None:
                where = f"[{index}]" if indexed else f".{field.encode_name}"
                fields.append((field.name, where, check))
        result = _fields(fields, keyed) if fields else None
        cell[0] = result
        del self.pending[t.cls]
        self.classes[t.cls] = result
        return result


def _check_int(value: Any) -> str | None:
    if type(value) is int and not -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
        return ""
    return None


def _each(item: Check | None) -> Check | None:
    if item is None:
        return None
    if item is _check_int:
        return _each_int

    def check(value: Any) -> str | None:
        for index, element in enumerate(value):
            path = item(element)
            if path is not None:
                return f"[{index}]{path}"
        return None

    return check


def _each_int(value: Any) -> str | None:
    # Ints only, in the common case: min and max run in C; the loop says where, when one is out.
    try:
        if not value or (-MAX_SAFE_INTEGER <= min(value) and max(value) <= MAX_SAFE_INTEGER):
            return None
    except TypeError:  # not all numbers: a handler's mistake, for msgspec to report as it encodes
        pass
    for index, element in enumerate(value):
        if _check_int(element) is not None:
            return f"[{index}]"
    return None


def _positions(items: list[Check | None]) -> Check | None:
    present = [(index, check) for index, check in enumerate(items) if check is not None]
    if not present:
        return None

    def check(value: Any) -> str | None:
        for index, item in present:
            path = item(value[index])
            if path is not None:
                return f"[{index}]{path}"
        return None

    return check


def _mapping(keys: Check | None, values: Check | None) -> Check | None:
    if keys is None and values is None:
        return None

    def check(value: Any) -> str | None:
        for key, element in value.items():
            if keys is not None and keys(key) is not None:
                return "[...] (in a key)"
            path = None if values is None else values(element)
            if path is not None:
                return f"[...]{path}"
        return None

    return check


def _fields(fields: list[tuple[str, str, Check]], keyed: bool) -> Check:
    def check(value: Any) -> str | None:
        for name, where, field in fields:
            element = value.get(name) if keyed else getattr(value, name, None)
            path = field(element)
            if path is not None:
                return f"{where}{path}"
        return None

    return check


def _instance_of(t: mi.Type) -> type | tuple[type, ...]:
    """The Python classes a union member's values have, to pick the member a value belongs to."""
    while isinstance(t, mi.Metadata):
        t = t.type
    if isinstance(t, mi.IntType):
        return int
    if isinstance(t, (mi.ListType, mi.VarTupleType, mi.TupleType)):
        return (list, tuple)
    if isinstance(t, (mi.SetType, mi.FrozenSetType)):
        return (set, frozenset)
    if isinstance(t, (mi.DictType, mi.FrozenDictType, mi.TypedDictType)):
        return dict
    cls = getattr(t, "cls", None)
    return cls if isinstance(cls, type) else ()


class _SafeIntegerCodec:
    """A request codec whose decoded messages hold no int typed as a number beyond ±(2^53 - 1)."""

    __slots__ = ("_check", "_codec", "type")

    def __init__(self, codec: Any, check: Check) -> None:
        self._codec = codec
        self._check = check
        self.type = codec.type

    def decode(self, data: Any) -> Any:
        return self._checked(self._codec.decode(data))

    def convert(self, value: Any) -> Any:
        return self._checked(self._codec.convert(value))

    def _checked(self, message: Any) -> Any:
        path = self._check(message)
        if path is not None:
            from ._validation import InvalidData

            limit = f"Expected `int` >= -{MAX_SAFE_INTEGER} and <= {MAX_SAFE_INTEGER}"
            raise InvalidData([{"path": f"${path.removesuffix(' (in a key)')}", "message": limit}])
        return message


def safe_integer_rules(spec: HandlerSpec, *, safe_integers: bool) -> tuple[HandlerSpec, Callable[[Any], None] | None]:
    """`spec` with its requests held to rule 2 (under `safe_integers`), and the check of rule 3 for
    its responses (`None` when they hold no int typed as a number)."""
    check_response = unsafe_integer_check(spec.response_type, safe_integers=safe_integers)
    if safe_integers:
        codec = spec.request_codec
        check = _Compiler(safe_integers).compile(_type_info(codec.type))
        if check is not None:
            # The server uses a codec's `decode`, `convert` and `type`, which this one wraps.
            safe = cast("TypeCodec[Any]", _SafeIntegerCodec(codec, check))
            spec = dataclasses.replace(spec, request_codec=safe)
    return spec, check_response
