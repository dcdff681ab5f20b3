"""The classes msgspec decodes field by field, and the twins Swill checks their constraints with.

msgspec reads a class's annotations as the class has them, and reads only `msgspec.Meta`, so it
would skip `qty: Annotated[int, Gt(0)]` in a Struct. Swill never edits a user's class; instead,
for a request type whose classes carry such constraints, it builds once, at registration, a
*validation type*: the same type in which every class is replaced by a twin, a plain Struct made
with `msgspec.defstruct`, with the same fields under the same names on the wire, the same
array-likeness, tag and strictness, and field types translated (annotated-types constraints with
their `msgspec.Meta`, inner classes with their twins). Rules:

1. A message is decoded into the validation type first: msgspec checks every constraint in C,
   and its errors carry its own messages and paths. The twins are thrown away; the message is
   then decoded into the user's type, so the handler gets the user's own objects.
2. A twin has no `__post_init__` and no validators: only the second decode runs the user's
   code, once. That is why, once one class needs a twin, every class of the type gets one.
3. A twin is never stricter than its class (it accepts no less), so every refusal is the one
   msgspec would make if the class carried the `Meta` itself. Optional fields default to `UNSET`,
   which msgspec never checks. A class may contain itself: a twin still being built is named by
   a `ForwardRef` into a list every twin of the build holds, resolved when msgspec first decodes.
4. A twin checks only constraints: the second decode checks everything else. So a field with no
   constraint in it is left out of the twin (msgspec skips unknown fields without decoding them),
   or typed `msgspec.Raw` where it must stay (an array's position, a class that forbids unknown
   fields). A field naming a twin still being built is kept whole.
"""

from __future__ import annotations

import dataclasses
import keyword
import operator
import types
import typing
from collections.abc import Callable, Hashable
from typing import Annotated, Any, ForwardRef, NamedTuple, TypeVar, get_args, get_origin

import msgspec

from ._constraints import distribute, translate

__all__ = ["MISSING", "Field", "ValidationTypes", "structured", "wire_fields"]

_ANNOTATED: Any = Annotated
_UNION: Any = typing.Union
MISSING: Any = object()  # what `Field.get` finds for a TypedDict key that was not sent
_WRAPPERS = {typing.Required, typing.NotRequired, typing.ClassVar, typing.Final}
_REFS = "_swill_twins"  # the name of the list of twins, in each twin's namespace


class Field(NamedTuple):
    """One field of a class as msgspec decodes it."""

    name: str  # the Python name
    get: Callable[[Any], Any]  # reads it from a decoded object (a missing TypedDict key: MISSING)
    segment: str  # what msgspec writes in a path: `.name` on the wire, `[i]` in an array
    type: Any  # the declared type, type variables replaced by a generic alias's arguments
    wire: str  # the name on the wire
    required: bool


def structured(cls: Any) -> bool:
    """Whether `cls` is a class msgspec decodes field by field."""
    return isinstance(cls, type) and (
        issubclass(cls, msgspec.Struct)
        or dataclasses.is_dataclass(cls)
        or typing.is_typeddict(cls)
        or (issubclass(cls, tuple) and hasattr(cls, "_fields"))
    )


def wire_fields(tp: Any, cls: type) -> list[Field]:
    """The fields msgspec decodes for `tp` (a class or a generic alias of one), in its order.

    Args:
        tp: The class, or a generic alias of it.
        cls: The class itself.

    Returns:
        Its fields.
    """
    if issubclass(cls, msgspec.Struct):
        config, infos = cls.__struct_config__, msgspec.structs.fields(tp)
        first = 0 if config.tag is None else 1  # an array-like Struct's tag comes first
        out = []
        for i, f in enumerate(infos, first):
            segment = f"[{i}]" if config.array_like else f".{f.encode_name}"
            out.append(Field(f.name, operator.attrgetter(f.name), segment, f.type, f.encode_name, f.required))
        return out
    hints = typing.get_type_hints(cls, include_extras=True)
    if tp is not cls:  # a generic alias: put its arguments in place of the type variables
        mapping = dict(zip(getattr(cls, "__parameters__", ()), get_args(tp), strict=False))
        hints = {name: _substitute(hint, mapping) for name, hint in hints.items()}
    if typing.is_typeddict(cls):
        required = typing.cast(Any, cls).__required_keys__
        return [Field(k, _key_getter(k), f".{k}", hint, k, k in required) for k, hint in hints.items()]
    if issubclass(cls, tuple):
        names: list[str] = list(typing.cast(Any, cls)._fields)
        defaults = typing.cast(Any, cls)._field_defaults
        return [
            Field(n, operator.itemgetter(i), f"[{i}]", hints.get(n, Any), n, n not in defaults)
            for i, n in enumerate(names)
        ]
    return [
        Field(f.name, operator.attrgetter(f.name), f".{f.name}", hints.get(f.name, Any), f.name, _no_default(f))
        for f in dataclasses.fields(typing.cast(Any, cls))
    ]


def _no_default(f: dataclasses.Field[Any]) -> bool:
    return f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING


def _substitute(tp: Any, mapping: dict[Any, Any]) -> Any:
    if isinstance(tp, TypeVar):
        return mapping.get(tp, tp)
    params = getattr(tp, "__parameters__", ())
    return tp[tuple(mapping.get(p, p) for p in params)] if params else tp


def _key_getter(key: str) -> Callable[[Any], Any]:
    return lambda d: d.get(key, MISSING)


class ValidationTypes:
    """Builds validation types (rule 1); one builder per declared type.

    Args:
        forbid_unknown_fields: The app's `forbid_unknown_fields`: every class gets a twin, with
            every field, that refuses fields the class does not have; the one case where a twin
            is stricter than its class (rule 3).
    """

    def __init__(self, *, forbid_unknown_fields: bool = False) -> None:
        self.strict = forbid_unknown_fields
        self.dry = True  # a first walk only finds whether any twin is needed: most types need none
        self.twins: dict[Hashable, Any] = {}  # class or alias: its twin, None while building it
        self.refs: list[Any] = []  # twins named by a ForwardRef, shared by every twin (rule 3)
        self.index: dict[Hashable, int] = {}  # class or alias: its place in refs
        self.constrained = False  # whether a class's field had a constraint to translate

    def build(self, tp: Any) -> Any | None:
        """The validation type of `tp`, or None when no class in it carries a constraint.

        Args:
            tp: A declared type.
        """
        self.walk(tp, in_class=False)
        if not self.constrained:
            return None
        self.dry, self.twins = False, {}
        return self.walk(tp, in_class=False)

    def walk(self, tp: Any, *, in_class: bool) -> Any:
        """`tp` with its constraints translated and its classes replaced by their twins."""
        origin = get_origin(tp)
        if origin is Annotated:
            spread = distribute(tp)
            if spread is not None:
                return self.walk(spread, in_class=in_class)
            base = self.walk(tp.__origin__, in_class=in_class)
            extras, _ = translate(base, tp.__metadata__)
            self.constrained |= in_class and any(_added(extra, tp.__metadata__) for extra in extras)
            return _ANNOTATED[(base, *extras)]
        if origin in (typing.Union, types.UnionType):
            return _UNION[tuple(self.walk(arg, in_class=in_class) for arg in get_args(tp))]
        if isinstance(tp, typing.NewType):
            return self.walk(tp.__supertype__, in_class=in_class)
        if structured(origin or tp):
            return self._twin(tp, origin or tp)
        if origin is None or origin is typing.Literal:
            return tp
        args = tuple(arg if arg is Ellipsis else self.walk(arg, in_class=in_class) for arg in get_args(tp))
        if origin in _WRAPPERS:
            return args[0]  # a TypedDict's Required/NotRequired: its twin says it with a default
        return origin[args if len(args) > 1 else args[0]]

    def _twin(self, tp: Any, cls: type) -> Any:
        self.constrained |= self.strict  # refusing unknown fields is a check of every class
        if tp in self.twins:
            twin = self.twins[tp]
            if twin is None:  # a class inside itself: named until it exists (rule 3)
                if tp not in self.index:
                    self.index[tp] = len(self.refs)
                    self.refs.append(None)
                twin = ForwardRef(f"{_REFS}[{self.index[tp]}]")
                self.constrained |= not self.dry  # not known yet: kept as if it were (rule 4)
            return twin
        self.twins[tp] = None
        fields = wire_fields(tp, cls)
        if self.dry:
            for field in fields:
                self.walk(field.type, in_class=True)
            self.twins[tp] = tp
            return tp
        config = _config(cls)
        if self.strict:
            config["forbid_unknown_fields"] = True
        every = config["array_like"] or config.get("forbid_unknown_fields", False)  # rule 4
        names = {f.name: _attribute(f.name, i) for i, f in enumerate(fields)}
        specs = {names[f.name]: spec for f in fields if (spec := self._field(f, every)) is not None}
        twin = msgspec.defstruct(
            cls.__name__,
            [(name, *spec) for name, spec in specs.items()],
            kw_only=True,  # the declared order, required or not
            rename={names[f.name]: f.wire for f in fields if names[f.name] in specs},
            namespace={_REFS: self.refs},
            gc=False,  # thrown away at once, never in a cycle
            **config,
        )
        self.twins[tp] = twin
        if tp in self.index:
            self.refs[self.index[tp]] = twin
        return twin

    def _field(self, field: Field, every: bool) -> tuple[Any, ...] | None:
        """A twin's field: its type and default, `Raw` when nothing in it is checked, or None to skip it."""
        outer, self.constrained = self.constrained, False
        try:
            tp = self.walk(field.type, in_class=True)
            checked = self.constrained
        finally:
            self.constrained = outer or self.constrained
        if not checked:
            return (msgspec.Raw, msgspec.UNSET) if every else None
        return (tp,) if field.required else (tp, msgspec.UNSET)


def _attribute(name: str, index: int) -> str:
    """A twin's name for a field: the class's own, so that an object converts by its attributes,
    or a made-up one for a TypedDict key that can't be a Struct's field (its name on the wire
    stays the key)."""
    return name if name.isidentifier() and not keyword.iskeyword(name) and not name.startswith("_") else f"f{index}_"


def _added(extra: Any, written: tuple[Any, ...]) -> bool:
    """Whether `extra` is a constraint's `Meta` that translation added (a description is not one)."""
    return isinstance(extra, msgspec.Meta) and extra.description is None and all(extra is not w for w in written)


def _config(cls: type) -> dict[str, Any]:
    """The options of a twin that make msgspec read the same data as it does for `cls`."""
    if issubclass(cls, msgspec.Struct):
        config = cls.__struct_config__
        options: dict[str, Any] = {"array_like": config.array_like}
        options["forbid_unknown_fields"] = config.forbid_unknown_fields
        if config.tag is not None:
            options |= {"tag": config.tag, "tag_field": config.tag_field}
        return options
    return {"array_like": issubclass(cls, tuple)}  # a NamedTuple is an array
