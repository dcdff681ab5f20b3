"""What Swill decodes a declared type as, and what it checks after msgspec is done.

`decoding(T)` is the one place where a request type's decode-time types are built, once, at
registration; an app-wide rule about request types belongs there. Unknown fields refused
everywhere: a twin for every class (`ValidationTypes` with nothing left out), each with
`forbid_unknown_fields` (`_classes._config`). A bound on every plain `int`: a bare `int` walked as
`Annotated[int, msgspec.Meta(ge=..., le=...)]`, in `_Planner.walk` for the type expression and in
`ValidationTypes.walk` for classes' fields. Its rules:

1. msgspec does the work. Every annotated-types constraint in the type expression (`T` itself,
   list items, dict keys and values, tuple positions, union members, generic classes' arguments)
   gets the equivalent `msgspec.Meta` next to it (swill/_constraints.py), in a new type
   expression: msgspec checks it while decoding. The user's objects are never changed.
2. Classes (Structs, dataclasses, TypedDicts, NamedTuples) are decoded as written: msgspec builds
   the user's own class, so `type(value) is Order`, equality and pickling work as users expect.
   When their fields carry constraints, the message is first decoded into a validation type
   (swill/_classes.py), in which msgspec checks them.
3. What msgspec has no `Meta` for (`Predicate`, a named `Timezone`, ...), anywhere, is checked
   after decoding by a test compiled once for `T` that visits only the places that need it. Only
   when it fails is the value walked again to say where and why. When `T` needs no test and no
   validation type, decoding is the msgspec decoder call and nothing else.
4. A class whose metaclass has a `swill_prepare` method (`ValidatedStruct`) runs its own checks
   after decoding, from the `__post_init__` msgspec calls as it builds each object; the test of
   rule 3 stops there.
"""

from __future__ import annotations

import collections.abc as abc
import dataclasses
import types
import typing
from collections.abc import Callable, Hashable
from typing import Annotated, Any, get_args, get_origin

from ._classes import MISSING, ValidationTypes, structured, wire_fields
from ._constraints import Check, Errors, InvalidData, distribute, failure, translate

__all__ = ["Checker", "Decoding", "class_checker", "decoding", "field_types"]

_ANNOTATED: Any = Annotated
_UNION: Any = typing.Union
_SEQUENCES = {list, abc.Collection, abc.Sequence, abc.MutableSequence}
_SETS = {set, frozenset, abc.Set, abc.MutableSet}
_MAPPINGS = {dict, abc.Mapping, abc.MutableMapping}
_CONCRETE: dict[Any, type] = {abc.Collection: list, abc.Sequence: list, abc.MutableSequence: list}
_CONCRETE |= {abc.Set: set, abc.MutableSet: set, abc.Mapping: dict, abc.MutableMapping: dict}
_WRAPPERS = {typing.Required, typing.NotRequired, typing.ClassVar, typing.Final}

Test = Callable[[Any], bool]
Getter = Callable[[Any], Any]


# The plan of what to check in a decoded value: nodes, None where there is nothing to check.


@dataclasses.dataclass(frozen=True, slots=True)
class _Value:  # checks on the value itself, then on what is inside
    checks: tuple[Check, ...]
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
    members: tuple[tuple[Test, _Node], ...]


@dataclasses.dataclass(frozen=True, slots=True)
class _Ref:  # a class's fields, by key in the plans (classes may contain themselves)
    key: Hashable


_Node = _Value | _Each | _Fixed | _Map | _Union | _Ref | None
_Plans = dict[Hashable, list[tuple[Getter, str, _Node]] | None]  # getter, segment, node


def _matcher(tp: Any) -> Test:
    """Whether a decoded value came from this member of a union (msgspec allows one per kind)."""
    while get_origin(tp) is Annotated or isinstance(tp, typing.NewType):
        tp = tp.__origin__ if get_origin(tp) is Annotated else tp.__supertype__
    if get_origin(tp) is typing.Literal:
        values = get_args(tp)
        return lambda v: any(v == x and type(v) is type(x) for x in values)
    cls = get_origin(tp) or tp
    cls = dict if typing.is_typeddict(cls) else _CONCRETE.get(cls, cls)
    if cls is int:
        return lambda v: isinstance(v, int) and not isinstance(v, bool)
    return (lambda v: isinstance(v, cls)) if isinstance(cls, type) else (lambda v: True)


class _Planner:
    """Translates types for msgspec and plans the checks msgspec can't do; one per build."""

    def __init__(self) -> None:
        self.plans: _Plans = {}

    def walk(self, tp: Any) -> tuple[Any, _Node]:
        """`tp` as msgspec should see it, and what is left to check after decoding."""
        origin = get_origin(tp)
        if origin is Annotated:
            return self._annotated(tp)
        if origin in (typing.Union, types.UnionType):
            return self._union(tp)
        if isinstance(tp, typing.NewType):
            new, node = self.walk(tp.__supertype__)
            return (tp if new is tp.__supertype__ else new), node
        if structured(origin or tp):
            return self._class(tp, origin or tp)
        if origin is None or origin is typing.Literal:
            return tp, None
        return self._generic(tp, origin)

    def _generic(self, tp: Any, origin: Any) -> tuple[Any, _Node]:
        """Containers: `list[X]`, `dict[K, V]`, `tuple[X, Y]`, `Required[X]`, ..."""
        args = get_args(tp)
        walked = [(a, None) if a is Ellipsis else self.walk(a) for a in args]
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

    def _annotated(self, tp: Any) -> tuple[Any, _Node]:
        spread = distribute(tp)  # constraints on a union apply to each member but None
        if spread is not None:
            return self.walk(spread)
        base, extras = tp.__origin__, tp.__metadata__
        new_base, inner = self.walk(base)
        out, checks = translate(new_base, extras)
        if new_base is not base or len(out) != len(extras):
            tp = _ANNOTATED[(new_base, *out)]
        return tp, (_Value(tuple(checks), inner) if checks else inner)

    def _union(self, tp: Any) -> tuple[Any, _Node]:
        args = get_args(tp)
        walked = [self.walk(arg) for arg in args]
        if any(new is not arg for (new, _), arg in zip(walked, args, strict=True)):
            tp = _UNION[tuple(new for new, _ in walked)]
        members = tuple((_matcher(new), node) for new, node in walked if node is not None)
        return tp, (_Union(members) if members else None)

    def _class(self, tp: Any, cls: type) -> tuple[Any, _Node]:
        if tp is not cls:  # a generic alias: its arguments may carry constraints
            args = get_args(tp)
            new_args = tuple(self.walk(arg)[0] for arg in args)
            if any(new is not arg for new, arg in zip(new_args, args, strict=True)):
                tp = cls[new_args]  # type: ignore[index]
        prepare = getattr(type(cls), "swill_prepare", None)
        if prepare is not None:  # it checks itself (rule 3); prepare it now, to fail early
            prepare(cls)
            return tp, None
        if tp not in self.plans:
            self.plans[tp] = None  # a class met again while planning it
            self.plans[tp] = self.plan(tp, cls)
        return tp, _Ref(tp)

    def plan(self, tp: Any, cls: type) -> list[tuple[Getter, str, _Node]]:
        """What to check in each field of `tp`, a class or a generic alias of one."""
        return [(f.get, f.segment, self.walk(f.type)[1]) for f in wire_fields(tp, cls)]

    def compile(self, node: _Node) -> Test | None:
        """The fast test for `node`, None when nothing under it needs checking."""
        needs = dict.fromkeys(self.plans, False)
        changed = True
        while changed:  # a class needs checks if a field does, and classes may contain each other
            changed = False
            for key, plan in self.plans.items():
                if not needs[key] and any(_needs(n, needs) for _, _, n in plan or ()):
                    needs[key] = changed = True
        tests: dict[Hashable, Test] = {}
        for key, plan in self.plans.items():
            if needs[key]:
                tests[key] = _fields_test([(get, _test(n, needs, tests)) for get, _, n in plan or ()])
        return _test(node, needs, tests)

    def checker(self, node: _Node) -> Checker | None:
        """The `Checker` for `node`, None when nothing under it needs checking."""
        test = self.compile(node)
        return None if test is None else Checker(test, node, self.plans)


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


def _test(node: _Node, needs: dict[Hashable, bool], tests: dict[Hashable, Test]) -> Test | None:
    """Whether a decoded value passes every check in `node`: as few Python calls as possible."""
    if not _needs(node, needs):
        return None

    def sub(n: _Node) -> Test:
        return _test(n, needs, tests) or (lambda v: True)

    if isinstance(node, _Ref):
        key = node.key
        return lambda v: tests[key](v)
    if isinstance(node, _Value):
        inner_test = [sub(node.inner)] if _needs(node.inner, needs) else []
        return _all_of([*(check.test for check in node.checks), *inner_test])
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


def _all_of(tests: list[Test]) -> Test:
    """One test for several, without a generator per value (they are the hot path)."""
    if len(tests) == 1:
        return tests[0]
    if len(tests) == 2:
        a, b = tests
        return lambda v: bool(a(v)) and bool(b(v))
    a, b, *rest = tests
    more = _all_of(rest)
    return lambda v: bool(a(v)) and bool(b(v)) and more(v)


def _fields_test(fields: list[tuple[Getter, Test | None]]) -> Test:
    checked = [(get, test) for get, test in fields if test is not None]

    def test(value: Any) -> bool:
        for get, passes in checked:
            item = get(value)
            if item is not MISSING and not passes(item):
                return False
        return True

    return test


def _collect(node: _Node, value: Any, path: str, errors: Errors, plans: _Plans) -> None:
    """Walk a value that failed its test and say where and why."""
    if node is None:
        return
    if isinstance(node, _Value):
        for check in node.checks:
            message = failure(check, value)
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
            if (item := get(value)) is not MISSING:
                _collect(inner, item, path + seg, errors, plans)


@dataclasses.dataclass(frozen=True, slots=True)
class Checker:
    """The checks msgspec leaves for after decoding, for one type; call it on a decoded value.

    Raises:
        InvalidData: A check failed; one error per failing place.
    """

    test: Test
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


@dataclasses.dataclass(frozen=True, slots=True)
class Decoding:
    """How values of one declared type are decoded and checked.

    Attributes:
        type: The type to decode into: the declared one, with `msgspec.Meta` next to the
            annotated-types constraints of its type expression (rule 1). Give it to
            `msgspec.inspect` too, with `field_types` for the classes' fields.
        validation: The type to decode a message into first, to check the constraints of the
            classes' fields (rule 2); None when there are none.
        check: What to run on a decoded value (rule 3), or None when msgspec checked everything.
    """

    type: Any
    validation: Any
    check: Checker | None


def decoding(tp: Any, *, forbid_unknown_fields: bool = False) -> Decoding:
    """The decode-time types of `tp` and the checks after decoding; built once per handler.

    Args:
        tp: The declared type: anything msgspec handles, with annotated-types constraints or
            `msgspec.Meta` anywhere inside.
        forbid_unknown_fields: Refuse fields that a class of `tp` does not have, whatever the
            class says (`Swill(forbid_unknown_fields=True)`).

    Returns:
        The `Decoding` of `tp`.
    """
    planner = _Planner()
    new, node = planner.walk(tp)
    validation = ValidationTypes(forbid_unknown_fields=forbid_unknown_fields).build(tp)
    return Decoding(new, validation, planner.checker(node))


def class_checker(cls: type) -> Checker | None:
    """The checks after decoding of the fields of `cls`, None if there are none (rule 4)."""
    planner = _Planner()
    planner.plans[cls] = planner.plan(cls, cls)
    return planner.checker(_Ref(cls))


def field_types(tp: Any) -> dict[str, Any]:
    """The fields of a class (or generic alias) whose declared types carry constraints.

    Args:
        tp: The class, or a generic alias of it.

    Returns:
        Field name to its type as msgspec would see it in a type expression (with `msgspec.Meta`
        added), for the fields where that differs from the declared type: what a schema shows.
    """
    cls = get_origin(tp) or tp
    planner = _Planner()
    out: dict[str, Any] = {}
    for field in wire_fields(tp, cls):
        new = planner.walk(field.type)[0]
        if new is not field.type:
            out[field.name] = new
    return out
