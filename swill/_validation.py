"""Typed decoding of call data: msgspec types, annotated-types constraints, validators.

The rules, in the order they apply:

1. msgspec does the work. `TypeCodec(T)` translates, once, every annotated-types constraint it can
   into the equivalent `msgspec.Meta`, so that msgspec enforces it while decoding and
   `msgspec.json.schema` shows it. For a class (Struct, dataclass, TypedDict, NamedTuple) that
   means rewriting the class's own `__annotations__`: the annotated-types object stays and a
   `Meta` is added next to it. Strings from `from __future__ import annotations` are evaluated first.
2. What cannot map is checked after decoding, by a test compiled once for `T` that visits only the
   places that need it: `Predicate`, a `Timezone` naming a zone, a constraint msgspec refuses for
   that type (`Gt` on a `Decimal`) or one that clashes with a `Meta` already there. Only when the
   test fails is the value walked again to say where and why. When `T` needs no test, `decode` is
   the msgspec decoder call and nothing else.
3. msgspec caches what it learns of a class the first time it decodes it. The cache of a
   dataclass, TypedDict or generic alias is an attribute, dropped when Swill first sees the class;
   a Struct's lives in C and cannot be dropped. A Struct msgspec had already cached is "stale": the
   annotated-types constraints below it are checked after decoding too, by msgspec itself on the
   single value (`msgspec.convert`), so the messages stay msgspec's.
4. A `ValidatedStruct` checks its own leftover constraints and runs its validators from
   `__post_init__`, which msgspec calls while decoding, at any depth, reporting a ValueError with
   the object's path. `InvalidData` is a ValueError, so its per-field errors travel through.
"""

from __future__ import annotations

import collections.abc as abc
import dataclasses
import datetime
import gc
import operator
import re
import types
import typing
import weakref
import zoneinfo
from collections.abc import Callable, Hashable, Iterator
from typing import Annotated, Any, Generic, TypeVar, get_args, get_origin

import annotated_types as at
import msgspec

__all__ = ["InvalidData", "TypeCodec", "ValidatedStruct", "validator"]

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])

Errors = list[dict[str, str]]
_Test = Callable[[Any], bool]
_Field = tuple[str, Callable[[Any], Any], str, Any]  # name, getter, path segment, type

_ANNOTATED: Any = Annotated
_UNION: Any = typing.Union
_MISSING = object()  # a TypedDict key that was not sent
_MARK = "__swill_validator__"
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


def _split(text: str) -> tuple[str, str]:
    """msgspec's "<message> - at `<path>`" as (message, path); an error in a key says so."""
    match = _AT.fullmatch(text)
    if match is None:
        return text, "$"
    message, key, path = match.groups()
    return (f"{message} (in a key)" if key else message), path


def _rebase(errors: Errors, path: str) -> Errors:
    return [{"path": path + e["path"][1:], "message": e["message"]} for e in errors]


def _invalid(exc: msgspec.DecodeError) -> InvalidData:
    cause = exc.__cause__
    if isinstance(cause, InvalidData):  # from a ValidatedStruct inside; msgspec adds its path
        return InvalidData(_rebase(cause.errors, _split(str(exc)[len(str(cause)) :])[1]))
    message, path = _split(str(exc))
    return InvalidData([{"path": path, "message": message}])


# Constraints: what msgspec can enforce, and the checks that stand in for what it can't.

_NUMERIC = ("gt", "ge", "lt", "le", "multiple_of")
_KEYS: dict[type, str] = {at.Gt: "gt", at.Ge: "ge", at.Lt: "lt", at.Le: "le", at.MultipleOf: "multiple_of"}
_KEYS |= {at.MinLen: "min_length", at.MaxLen: "max_length"}
_SEQUENCES = {list, abc.Collection, abc.Sequence, abc.MutableSequence}
_SETS = {set, frozenset, abc.Set, abc.MutableSet}
_MAPPINGS = {dict, abc.Mapping, abc.MutableMapping}
_SIZED = {str, bytes, bytearray, memoryview, tuple} | _SEQUENCES | _SETS | _MAPPINGS
_CONCRETE: dict[Any, type] = {abc.Collection: list, abc.Sequence: list, abc.MutableSequence: list}
_CONCRETE |= {abc.Set: set, abc.MutableSet: set, abc.Mapping: dict, abc.MutableMapping: dict}
_WRAPPERS = {typing.Required, typing.NotRequired, typing.ClassVar, typing.Final}
_KINDS = {list: "array", tuple: "array", set: "array", frozenset: "array", dict: "object", type(None): "null"}
_OPERATORS = {"gt": (operator.gt, ">"), "ge": (operator.ge, ">="), "lt": (operator.lt, "<"), "le": (operator.le, "<=")}


@dataclasses.dataclass(frozen=True, slots=True)
class _Check:
    """A constraint checked after decoding: a fast test (raising counts as failing), a message."""

    test: _Test
    message: Callable[[Any], str]


def _kind(value: Any) -> str:
    return _KINDS.get(type(value)) or type(value).__name__.lower()


def _failure(check: _Check, value: Any) -> str | None:
    try:
        if check.test(value):
            return None
    except ValueError as exc:  # a predicate may explain itself
        return str(exc) or check.message(value)
    except (TypeError, AttributeError):
        pass
    return check.message(value)


def _expand(extra: Any) -> Iterator[Any]:
    """The annotated-types objects inside one `Annotated` extra (`Interval` holds several)."""
    if isinstance(extra, at.GroupedMetadata):
        for item in extra:
            yield from _expand(item)
    else:
        yield extra


def _constrains(extra: Any) -> bool:
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
    core = _core(tp)
    if key in _NUMERIC:
        return core in (int, float)
    if key == "tz":
        return core in (datetime.datetime, datetime.time)
    args = get_args(core)
    if get_origin(core) is tuple and args and args[-1] is not Ellipsis:
        return False  # a fixed-length tuple
    return (get_origin(core) or core) in _SIZED


def _by_msgspec(tp: Any, key: str, value: Any) -> _Check:
    """msgspec's own check and message, for a value msgspec did not check."""
    target = _ANNOTATED[get_origin(_core(tp)) or _core(tp), msgspec.Meta(**{key: value})]

    def message(v: Any) -> str:
        try:
            msgspec.convert(v, target)
        except msgspec.ValidationError as exc:
            return _split(str(exc))[0]
        return ""

    return _Check(lambda v: not message(v), message)


def _by_python(key: str, value: Any) -> _Check:
    """A check with Python's semantics, for a type msgspec has no such constraint for."""
    test: _Test
    if key in _OPERATORS:
        op, symbol = _OPERATORS[key]
        test, text = (lambda v: bool(op(v, value))), f"{symbol} {value!r}"
    elif key == "multiple_of":
        test, text = (lambda v: v % value == 0), f"that's a multiple of {value!r}"
    elif key == "min_length":
        test, text = (lambda v: len(v) >= value), f"of length >= {value}"
    elif key == "max_length":
        test, text = (lambda v: len(v) <= value), f"of length <= {value}"
    else:
        test = lambda v: (v.tzinfo is not None) is value  # noqa: E731
        text = "with a timezone component" if value else "with no timezone component"
    return _Check(test, lambda v: f"Expected `{_kind(v)}` {text}")


def _zone_check(zone: Any) -> _Check:
    """`Timezone("Europe/Paris")`: the value's UTC offset is that zone's at that instant."""
    tz = zoneinfo.ZoneInfo(zone) if isinstance(zone, str) else zone

    def test(v: Any) -> bool:
        offset = v.utcoffset()
        if isinstance(v, datetime.datetime):
            return offset is not None and offset == v.astimezone(tz).utcoffset()
        return offset is not None and offset == tz.utcoffset(None)

    return _Check(test, lambda v: f"Expected `{_kind(v)}` in timezone `{zone}`")


def _predicate_check(item: at.Predicate) -> _Check:
    name = getattr(item.func, "__qualname__", None) or repr(item.func)
    name = name.rpartition("<locals>.")[2]  # a function defined in a function: its own name
    return _Check(item.func, lambda v: f"Expected `{_kind(v)}` satisfying `{name}`")


def _meta(tp: Any, key: str, value: Any, taken: dict[str, Any], stale: bool, checks: list[_Check]) -> list[Any]:
    """The Meta for one constraint on `tp`, or none and a check that stands in for it."""
    if not _supports(tp, key):
        checks.append(_by_python(key, value))
        return []
    if key in taken:  # already there (added by an earlier build), or a clash with another
        if stale or taken[key] != value:
            checks.append(_by_msgspec(tp, key, value))
        return []
    try:
        meta = msgspec.Meta(**{key: value})
    except TypeError:  # a bound msgspec can't hold, e.g. Gt(Decimal("0.5")) on a float
        checks.append(_by_python(key, value))
        return []
    taken[key] = value
    if stale:
        checks.append(_by_msgspec(tp, key, value))
    return [meta]


# The plan of what to check in a decoded value: nodes, None where there is nothing to check.


@dataclasses.dataclass(frozen=True, slots=True)
class _Value:  # checks on the value itself, then on what is inside
    checks: tuple[_Check, ...]
    inner: _Node


@dataclasses.dataclass(frozen=True, slots=True)
class _Each:  # list, set, frozenset, tuple[X, ...]
    inner: _Node
    indexed: bool


@dataclasses.dataclass(frozen=True, slots=True)
class _Fixed:  # tuple[X, Y]
    items: tuple[_Node, ...]


@dataclasses.dataclass(frozen=True, slots=True)
class _Map:
    key: _Node
    value: _Node


@dataclasses.dataclass(frozen=True, slots=True)
class _Union:  # (is this member, plan), for the members that need checks
    members: tuple[tuple[_Test, _Node], ...]


@dataclasses.dataclass(frozen=True, slots=True)
class _Ref:  # a class's fields, by key in the plans (classes may contain themselves)
    key: Hashable


_Node = _Value | _Each | _Fixed | _Map | _Union | _Ref | None
_Plans = dict[Hashable, list[tuple[Callable[[Any], Any], str, _Node]] | None]  # getter, segment, node


def _matcher(tp: Any) -> _Test:
    """Whether a decoded value came from this member of a union (msgspec allows one per kind)."""
    core = _core(tp)
    if get_origin(core) is typing.Literal:
        values = get_args(core)
        return lambda v: any(v == x and type(v) is type(x) for x in values)
    cls = get_origin(core) or core
    cls = dict if typing.is_typeddict(cls) else _CONCRETE.get(cls, cls)
    if cls is int:
        return lambda v: isinstance(v, int) and not isinstance(v, bool)
    return (lambda v: isinstance(v, cls)) if isinstance(cls, type) else (lambda v: True)


def _structured(cls: type) -> bool:
    """A class msgspec decodes field by field."""
    return (
        issubclass(cls, msgspec.Struct)
        or dataclasses.is_dataclass(cls)
        or typing.is_typeddict(cls)
        or (issubclass(cls, tuple) and hasattr(cls, "_fields"))
    )


def _fields(tp: Any, cls: type) -> list[_Field]:
    """The fields msgspec decodes for `tp` (a class or a generic alias of one), in its order."""
    if issubclass(cls, msgspec.Struct):
        config, infos = cls.__struct_config__, msgspec.structs.fields(tp)
        if config.array_like:  # encoded as an array, after the tag if there is one
            first = 0 if config.tag is None else 1
            return [(f.name, operator.attrgetter(f.name), f"[{i}]", f.type) for i, f in enumerate(infos, first)]
        return [(f.name, operator.attrgetter(f.name), f".{f.encode_name}", f.type) for f in infos]
    hints = typing.get_type_hints(cls, include_extras=True)
    if tp is not cls:  # a generic alias: put its arguments in place of the type variables
        mapping = dict(zip(getattr(cls, "__parameters__", ()), get_args(tp), strict=False))
        hints = {name: _substitute(hint, mapping) for name, hint in hints.items()}
    if typing.is_typeddict(cls):
        return [(k, _key_getter(k), f".{k}", hint) for k, hint in hints.items()]
    if issubclass(cls, tuple):
        names: list[str] = list(typing.cast(Any, cls)._fields)
        return [(n, operator.itemgetter(i), f"[{i}]", hints.get(n, Any)) for i, n in enumerate(names)]
    names = [f.name for f in dataclasses.fields(typing.cast(Any, cls))]
    return [(n, operator.attrgetter(n), f".{n}", hints.get(n, Any)) for n in names]


def _substitute(tp: Any, mapping: dict[Any, Any]) -> Any:
    if isinstance(tp, TypeVar):
        return mapping.get(tp, tp)
    params = getattr(tp, "__parameters__", ())
    return tp[tuple(mapping.get(p, p) for p in params)] if params else tp


def _key_getter(key: str) -> Callable[[Any], Any]:
    return lambda d: d.get(key, _MISSING)


def _had_struct_info(cls: type) -> bool:
    """Whether msgspec already cached its decoding info for a Struct class (it can't be dropped).

    msgspec keeps that `StructInfo` in a C slot of the class, which the garbage collector's
    traversal reports, so `gc.get_referents` sees it without depending on the C layout.
    """
    return any(type(ref).__name__ == "StructInfo" for ref in gc.get_referents(cls))


def _drop_msgspec_cache(obj: Any) -> None:
    if "__msgspec_cache__" in getattr(obj, "__dict__", {}):
        delattr(obj, "__msgspec_cache__")


# class -> whether msgspec had cached it before Swill rewrote its annotations (rule 3)
_SEEN: weakref.WeakKeyDictionary[type, bool] = weakref.WeakKeyDictionary()


class _Compiler:
    """Translates types for msgspec and plans the checks msgspec can't do; one per build."""

    def __init__(self) -> None:
        self.plans: _Plans = {}

    def walk(self, tp: Any, stale: bool) -> tuple[Any, _Node]:
        """`tp` as msgspec should see it, and what is left to check after decoding."""
        origin = get_origin(tp)
        if origin is Annotated:
            return self._annotated(tp, stale)
        if origin in (typing.Union, types.UnionType):
            return self._union(tp, stale)
        if isinstance(tp, typing.NewType):
            new, node = self.walk(tp.__supertype__, stale)
            return (tp if new is tp.__supertype__ else new), node
        cls = origin or tp
        if isinstance(cls, type) and _structured(cls):
            return self._class(tp, cls, stale)
        if origin is None or origin is typing.Literal:
            return tp, None
        args = get_args(tp)
        walked = [(a, None) if a is Ellipsis else self.walk(a, stale) for a in args]
        if any(new is not arg for (new, _), arg in zip(walked, args, strict=True)):
            new_args = tuple(new for new, _ in walked)
            tp = origin[new_args if len(new_args) > 1 else new_args[0]]
        nodes = [node for _, node in walked]
        if origin in _WRAPPERS:
            return tp, nodes[0]
        if not any(nodes):
            return tp, None
        if origin is tuple and args[-1] is not Ellipsis:
            return tp, _Fixed(tuple(nodes))
        if origin is tuple or origin in _SEQUENCES or origin in _SETS:
            return tp, _Each(nodes[0], origin not in _SETS)
        return tp, (_Map(nodes[0], nodes[1]) if origin in _MAPPINGS else None)

    def _annotated(self, tp: Any, stale: bool) -> tuple[Any, _Node]:
        base, extras = tp.__origin__, tp.__metadata__
        pushed = [extra for extra in extras if _constrains(extra)]
        if pushed and get_origin(base) in (typing.Union, types.UnionType):
            # Constraints on a union apply to each member but None: Optional[int] > 0.
            union = _UNION[tuple(m if m is type(None) else _ANNOTATED[(m, *pushed)] for m in get_args(base))]
            kept = [extra for extra in extras if not _constrains(extra)]
            return self.walk(_ANNOTATED[(union, *kept)] if kept else union, stale)
        new_base, inner = self.walk(base, stale)
        taken = _taken(extras)
        out: list[Any] = []
        checks: list[_Check] = []
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
                    out.extend(_meta(new_base, *pair, taken, stale, checks))
        if new_base is not base or len(out) != len(extras):
            tp = _ANNOTATED[(new_base, *out)]
        return tp, (_Value(tuple(checks), inner) if checks else inner)

    def _union(self, tp: Any, stale: bool) -> tuple[Any, _Node]:
        args = get_args(tp)
        walked = [self.walk(arg, stale) for arg in args]
        if any(new is not arg for (new, _), arg in zip(walked, args, strict=True)):
            tp = _UNION[tuple(new for new, _ in walked)]
        members = tuple((_matcher(new), node) for new, node in walked if node is not None)
        return tp, (_Union(members) if members else None)

    def _class(self, tp: Any, cls: type, stale: bool) -> tuple[Any, _Node]:
        stale = self.prepare(cls) or stale
        if tp is not cls:  # a generic alias: its arguments may carry constraints too
            args = get_args(tp)
            new_args = tuple(self.walk(arg, stale)[0] for arg in args)
            if any(new is not arg for new, arg in zip(new_args, args, strict=True)):
                tp = cls[new_args]  # type: ignore[index]
            _drop_msgspec_cache(tp)
        if issubclass(cls, ValidatedStruct):  # it checks itself; plan it now, to fail early
            if cls not in _BUILDING:
                _validation(cls)
            return tp, None
        key = (tp, stale)
        if key not in self.plans:
            self.plans[key] = None  # a class met again while planning it
            self.plans[key] = self.plan(tp, cls, stale)
        return tp, _Ref(key)

    def plan(self, tp: Any, cls: type, stale: bool) -> list[tuple[Callable[[Any], Any], str, _Node]]:
        """What to check in each field of `tp`."""
        return [(get, seg, self.walk(hint, stale)[1]) for _, get, seg, hint in _fields(tp, cls)]

    def prepare(self, cls: type) -> bool:
        """Rewrite the annotations of `cls` and its bases, once; return whether it is stale."""
        stale = _SEEN.get(cls)
        if stale is not None:
            return stale
        stale = issubclass(cls, msgspec.Struct) and _had_struct_info(cls)
        _SEEN[cls] = stale  # before walking: the class may contain itself
        try:
            for klass in cls.__mro__:
                own = klass.__dict__.get("__annotations__")  # noqa: RUF063 (we rewrite this very dict)
                if own and klass.__module__ != "builtins":
                    hints = typing.get_type_hints(klass, include_extras=True)
                    new = {name: self.walk(hints[name], stale)[0] for name in own}
                    if any(new[name] is not hints[name] for name in own):
                        klass.__annotations__ = {n: (t if t is not hints[n] else own[n]) for n, t in new.items()}
                _drop_msgspec_cache(klass)
        except BaseException:
            del _SEEN[cls]
            raise
        return stale

    def compile(self, node: _Node) -> _Test | None:
        """The fast test for `node`, None when nothing under it needs checking."""
        needs = dict.fromkeys(self.plans, False)
        changed = True
        while changed:  # a class needs checks if a field does, and classes may contain each other
            changed = False
            for key, plan in self.plans.items():
                if not needs[key] and any(_needs(n, needs) for _, _, n in plan or ()):
                    needs[key] = changed = True
        tests: dict[Hashable, _Test] = {}
        for key, plan in self.plans.items():
            if needs[key]:
                tests[key] = _fields_test([(get, _test(n, needs, tests)) for get, _, n in plan or ()])
        return _test(node, needs, tests)


def _needs(node: _Node, classes: dict[Hashable, bool]) -> bool:
    if node is None or isinstance(node, _Value):
        return node is not None
    if isinstance(node, _Ref):
        return classes.get(node.key, False)
    if isinstance(node, _Each):
        return _needs(node.inner, classes)
    if isinstance(node, _Map):
        return _needs(node.key, classes) or _needs(node.value, classes)
    if isinstance(node, _Fixed):
        return any(_needs(n, classes) for n in node.items)
    return any(_needs(n, classes) for _, n in node.members)


def _test(node: _Node, needs: dict[Hashable, bool], tests: dict[Hashable, _Test]) -> _Test | None:
    """Whether a decoded value passes every check in `node`: as few Python calls as possible."""
    if not _needs(node, needs):
        return None

    def sub(n: _Node) -> _Test:
        return _test(n, needs, tests) or (lambda v: True)

    if isinstance(node, _Ref):
        key = node.key
        return lambda v: tests[key](v)
    if isinstance(node, _Value):
        first, *more = [check.test for check in node.checks]
        if not more and not _needs(node.inner, needs):
            return first
        rest, inner = tuple(more), sub(node.inner)
        return lambda v: bool(first(v)) and all(t(v) for t in rest) and inner(v)
    if isinstance(node, _Each):
        inner = sub(node.inner)
        return lambda v: all(map(inner, v))
    if isinstance(node, _Map):
        keys, values = sub(node.key), sub(node.value)
        return lambda v: all(map(keys, v)) and all(map(values, v.values()))
    if isinstance(node, _Fixed):
        items = [(i, sub(n)) for i, n in enumerate(node.items) if _needs(n, needs)]
        return lambda v: all(t(v[i]) for i, t in items)
    assert isinstance(node, _Union)
    members = [(match, sub(n)) for match, n in node.members]
    return lambda v: next((t(v) for match, t in members if match(v)), True)


def _fields_test(fields: list[tuple[Callable[[Any], Any], _Test | None]]) -> _Test:
    checked = [(get, test) for get, test in fields if test is not None]

    def test(value: Any) -> bool:
        for get, passes in checked:
            item = get(value)
            if item is not _MISSING and not passes(item):
                return False
        return True

    return test


def _collect(node: _Node, value: Any, path: str, errors: Errors, plans: _Plans) -> None:
    """Walk a value that failed its test and say where and why."""
    if node is None:
        return
    if isinstance(node, _Value):
        for check in node.checks:
            message = _failure(check, value)
            if message is not None:
                errors.append({"path": path, "message": message})
                return
        _collect(node.inner, value, path, errors, plans)
    elif isinstance(node, _Each):
        for i, item in enumerate(value):
            _collect(node.inner, item, f"{path}[{i if node.indexed else '...'}]", errors, plans)
    elif isinstance(node, _Fixed):
        for i, inner in enumerate(node.items):
            _collect(inner, value[i], f"{path}[{i}]", errors, plans)
    elif isinstance(node, _Map):
        for key, item in value.items():
            found: Errors = []
            _collect(node.key, key, path, found, plans)
            errors.extend({"path": path, "message": f"{e['message']} (in a key)"} for e in found)
            _collect(node.value, item, f"{path}[...]", errors, plans)  # msgspec's name for the place
    elif isinstance(node, _Union):
        member = next((inner for match, inner in node.members if match(value)), None)
        _collect(member, value, path, errors, plans)
    else:
        for get, seg, inner in plans[node.key] or ():
            if (item := get(value)) is not _MISSING:
                _collect(inner, item, path + seg, errors, plans)


@dataclasses.dataclass(frozen=True, slots=True)
class _Checker:
    """The checks msgspec leaves for after decoding, for one type."""

    test: _Test
    node: _Node
    plans: _Plans

    def __call__(self, value: Any) -> None:
        try:
            passed = self.test(value)
        except Exception:  # a failing check may raise; the slow walk tells which, or re-raises
            passed = False
        if not passed:
            errors: Errors = []
            _collect(self.node, value, "$", errors, self.plans)
            if errors:
                raise InvalidData(errors)


def _checker(compiler: _Compiler, node: _Node) -> _Checker | None:
    test = compiler.compile(node)
    return None if test is None else _Checker(test, node, compiler.plans)


class TypeCodec(Generic[T]):
    """Decodes call data into `T`, checking every constraint; built once per handler.

    Args:
        tp: The declared type: anything msgspec handles, with annotated-types constraints or
            `msgspec.Meta` anywhere inside, and `ValidatedStruct` classes.

    Attributes:
        type: `T` as msgspec sees it, constraints translated to `msgspec.Meta`; give it to
            `msgspec.json.schema` for a schema that shows them.
    """

    __slots__ = ("_check", "_decoder", "type")

    type: Any

    def __init__(self, tp: Any) -> None:
        compiler = _Compiler()
        self.type, node = compiler.walk(tp, False)
        self._decoder: msgspec.msgpack.Decoder[T] = msgspec.msgpack.Decoder(self.type)
        self._check = _checker(compiler, node)
        if self._check is not None:
            self.__class__ = _CheckedTypeCodec  # a decode() that checks; the plain one stays bare

    def __repr__(self) -> str:
        return f"TypeCodec({self.type!r})"

    def decode(self, data: bytes | msgspec.Raw) -> T:
        """Decode MessagePack bytes into `T`.

        Args:
            data: The bytes, or the `msgspec.Raw` a frame holds.

        Returns:
            The value, of type `T`.

        Raises:
            InvalidData: The data is malformed or does not fit `T`.
        """
        try:
            return self._decoder.decode(data)
        except msgspec.DecodeError as exc:
            raise _invalid(exc) from exc

    def convert(self, obj: Any) -> T:
        """Convert an already decoded Python value (dicts, lists, ...) into `T`.

        Args:
            obj: The value, e.g. one a `before_request_data` hook returned.

        Returns:
            The value, of type `T`.

        Raises:
            InvalidData: The value does not fit `T`.
        """
        try:
            value: T = msgspec.convert(obj, self.type)
        except msgspec.ValidationError as exc:
            raise _invalid(exc) from exc
        return value


class _CheckedTypeCodec(TypeCodec[T]):
    __slots__ = ()

    def decode(self, data: bytes | msgspec.Raw) -> T:
        value = super().decode(data)
        self._check(value)  # type: ignore[misc]  # set: that is why the class is this one
        return value

    def convert(self, obj: Any) -> T:
        value = super().convert(obj)
        self._check(value)  # type: ignore[misc]
        return value


# ValidatedStruct


@dataclasses.dataclass(frozen=True, slots=True)
class _Validation:
    """What a ValidatedStruct class checks in `__post_init__`."""

    post_init: Callable[[Any], None]  # the class's __post_init__: the one that checks
    fields: _Checker | None  # the leftover constraints of its fields
    by_field: tuple[tuple[str, str, Callable[[Any, Any], Any]], ...]  # name, path segment, validator
    whole: tuple[Callable[[Any], Any], ...]


_PLAN = "__swill_validation__"  # each class's own _Validation, or None until it is built
_BUILDING: set[type] = set()  # classes whose _Validation is being built (a class may contain itself)


def validator(field: str | None = None) -> Callable[[F], F]:
    """Mark a method of a `ValidatedStruct` as a validator, run after decoding.

    `@validator("qty")` on `def check(self, value) -> None` validates one field;
    `@validator()` on `def check(self) -> None` validates the whole object, once every field
    passed. Raise `ValueError` to refuse the data; the return value is ignored.

    Args:
        field: The field to validate (its Python name), or None for the whole object.

    Returns:
        A decorator that marks the method and returns it unchanged.

    Raises:
        TypeError: Used bare, as `@validator` rather than `@validator()`.
    """
    if callable(field):
        raise TypeError("write @validator() or @validator('field'), with parentheses")

    def mark(fn: F) -> F:
        setattr(fn, _MARK, (*getattr(fn, _MARK, ()), field))
        return fn

    return mark


def _validators(cls: type) -> tuple[list[tuple[str, Callable[..., Any]]], list[Callable[..., Any]]]:
    """The validators of a class and its bases, base first; an override replaces the method."""
    attrs: dict[str, Any] = {}
    for klass in reversed(cls.__mro__):
        attrs.update(vars(klass))
    fields: tuple[str, ...] = getattr(cls, "__struct_fields__", ())
    by_field: list[tuple[str, Callable[..., Any]]] = []
    whole: list[Callable[..., Any]] = []
    for name, attr in attrs.items():
        for field in getattr(attr, _MARK, ()):
            if field is None:
                whole.append(attr)
            elif field in fields:
                by_field.append((field, attr))
            else:
                raise TypeError(f"{cls.__qualname__}.{name}: no field {field!r} to validate")
    return by_field, whole


def _validation(cls: type) -> _Validation:
    found: _Validation | None = cls.__dict__.get(_PLAN)
    if found is not None:
        return found
    _BUILDING.add(cls)
    try:
        by_field, whole = _validators(cls)
        compiler = _Compiler()
        compiler.plans[cls] = compiler.plan(cls, cls, compiler.prepare(cls))
        segments = {name: seg for name, _, seg, _ in _fields(cls, cls)}
        found = _Validation(
            typing.cast(Any, cls).__post_init__,
            _checker(compiler, _Ref(cls)),
            tuple((name, segments[name], fn) for name, fn in by_field),
            tuple(whole),
        )
    finally:
        _BUILDING.discard(cls)
    type.__setattr__(cls, _PLAN, found)
    return found


def _refusal(exc: ValueError, path: str) -> Errors:
    return _rebase(exc.errors, path) if isinstance(exc, InvalidData) else [{"path": path, "message": str(exc)}]


def _run_validators(obj: Any, plan: _Validation) -> None:
    errors: Errors = []
    failed: set[str] = set()
    for name, seg, check in plan.by_field:
        if name not in failed:  # one refusal per field is enough
            try:
                check(obj, getattr(obj, name))
            except ValueError as exc:
                failed.add(name)
                errors.extend(_refusal(exc, "$" + seg))
    for check_all in plan.whole if not errors else ():
        try:
            check_all(obj)
        except ValueError as exc:
            errors.extend(_refusal(exc, "$"))
    if errors:
        raise InvalidData(errors)


def _post_init(user: Callable[[Any], Any] | None) -> Callable[[Any], None]:
    """A `__post_init__` that checks the object, around the class's own `__post_init__`."""

    def __post_init__(self: Any) -> None:
        plan = type(self).__swill_validation__ or _validation(type(self))
        if plan.post_init is not __post_init__:  # reached by super() from a subclass's own
            if user is not None:
                user(self)
            return
        if plan.fields is not None:
            plan.fields(self)
        if user is not None:
            user(self)
        if plan.by_field or plan.whole:
            _run_validators(self, plan)

    return __post_init__


class _ValidatedMeta(msgspec.StructMeta):
    """Installs the checking `__post_init__` and finds the validators of each new class."""

    def __new__(
        mcls, name: str, bases: tuple[type, ...], namespace: dict[str, Any], /, **kwargs: Any
    ) -> _ValidatedMeta:
        if "__post_init__" in namespace or not any(isinstance(b, _ValidatedMeta) for b in bases):
            namespace = {**namespace, "__post_init__": _post_init(namespace.get("__post_init__"))}
        cls = super().__new__(mcls, name, bases, namespace, **kwargs)
        type.__setattr__(cls, _PLAN, None)  # its own, not a base's
        _validators(cls)  # a validator of a field that does not exist fails here
        try:
            _validation(cls)
        except NameError:  # an annotation names something defined later: plan on first use
            pass
        return cls


class ValidatedStruct(msgspec.Struct, metaclass=_ValidatedMeta):
    """A `msgspec.Struct` whose validators run after decoding, wherever it sits in the data.

    ```python
    class Line(swill.ValidatedStruct):
        sku: str
        qty: Annotated[int, Gt(0)]

        @swill.validator("sku")
        def known_sku(self, value: str) -> None:
            if value not in CATALOG:
                raise ValueError(f"unknown sku {value!r}")
    ```

    A refusal in the third line of an order is reported at `$.lines[2].sku`. Once the fields
    passed their constraints, your own `__post_init__` runs, then the field validators (bases'
    first; a field may have several), then, if no field was refused, the object validators
    (`@validator()`). Building the struct in Python runs them too, raising `InvalidData`.
    """
