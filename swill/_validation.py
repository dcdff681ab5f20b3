"""Typed decoding of call data (`TypeCodec`), and `ValidatedStruct` with its validators.

`TypeCodec(T)` decodes with msgspec into the decode-time types that swill/_decoding.py builds
once for `T` (first the validation type, if `T` has one), then runs the checks msgspec left
over, if any (swill/_decoding.py says which).

A `ValidatedStruct` checks itself in `__post_init__`, which msgspec calls as it builds each
object, at any depth, and which runs when the struct is built in Python too. The rules:

1. Its metaclass gives every class in the hierarchy its own `__post_init__`, wrapping the one
   the class body defines, if any. Only the wrapper of the object's own class validates; a
   base's wrapper, reached through `super().__post_init__()`, runs just the base's function.
2. Validating is: the constraints of the fields msgspec has no `Meta` for (msgspec checked the
   others in the validation type), then the user's `__post_init__`, then the field
   validators (bases' first; after a field's first refusal its others are skipped), then, if
   no field was refused, the object validators.
3. A refusal is an `InvalidData` with paths relative to the object; msgspec adds the object's
   path (`- at $.lines[2]`), and `InvalidData` being a ValueError, its errors travel through.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, Generic, TypeVar

import msgspec

from ._classes import wire_fields
from ._constraints import Errors, InvalidData, invalid, rebase
from ._decoding import Checker, class_checker, decoding

__all__ = ["InvalidData", "TypeCodec", "ValidatedStruct", "validator"]

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])

_MARK = "__swill_validator__"


class TypeCodec(Generic[T]):
    """Decodes call data into `T`, checking every constraint; built once per handler.

    Args:
        tp: The declared type: anything msgspec handles, with annotated-types constraints or
            `msgspec.Meta` anywhere inside, and `ValidatedStruct` classes.
        forbid_unknown_fields: Refuse fields a class does not have, in every class of `tp`.

    Attributes:
        type: `T` as msgspec decodes it: the annotated-types constraints of its type expression
            with their `msgspec.Meta` next to them (classes are left as written).
    """

    __slots__ = ("_check", "_decoder", "_validation", "_validator", "type")

    type: Any
    _check: Checker | None
    _decoder: msgspec.msgpack.Decoder[T]
    _validation: Any
    _validator: msgspec.msgpack.Decoder[Any] | None

    def __new__(cls, tp: Any, *, forbid_unknown_fields: bool = False) -> TypeCodec[Any]:
        found = decoding(tp, forbid_unknown_fields=forbid_unknown_fields)
        # A type with more to check than msgspec's decoding gets the subclass that checks it, so
        # that the plain `decode` stays the msgspec decoder call and nothing else.
        checked = found.validation is not None or found.check is not None
        self: TypeCodec[Any] = object.__new__(_CheckedTypeCodec if checked else TypeCodec)
        self.type, self._validation, self._check = found.type, found.validation, found.check
        self._decoder = msgspec.msgpack.Decoder(found.type)
        self._validator = None if found.validation is None else msgspec.msgpack.Decoder(found.validation)
        return self

    def __repr__(self) -> str:
        return f"TypeCodec({self.type!r})"

    @property
    def checks(self) -> bool:
        """Whether anything is checked beyond msgspec's decoding of `type`."""
        return False

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
            raise invalid(exc) from exc

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
            raise invalid(exc) from exc
        return value


class _CheckedTypeCodec(TypeCodec[T]):
    """A `TypeCodec` whose type has a validation type, checks after decoding, or both."""

    __slots__ = ()

    @property
    def checks(self) -> bool:
        return True

    def decode(self, data: bytes | msgspec.Raw) -> T:
        try:
            if self._validator is not None:
                self._validator.decode(data)
            value = self._decoder.decode(data)
        except msgspec.DecodeError as exc:
            raise invalid(exc) from exc
        if self._check is not None:
            self._check(value)
        return value

    def convert(self, obj: Any) -> T:
        try:
            if self._validation is not None:  # an object the hook built is read by its attributes
                msgspec.convert(obj, self._validation, from_attributes=True)
            value: T = msgspec.convert(obj, self.type)
        except msgspec.ValidationError as exc:
            raise invalid(exc) from exc
        if self._check is not None:
            self._check(value)
        return value


# ValidatedStruct


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


@dataclasses.dataclass(frozen=True, slots=True)
class _Plan:
    """What a ValidatedStruct class checks in `__post_init__`."""

    fields: Checker | None  # the constraints of its fields that msgspec can't check
    by_field: tuple[tuple[str, str, Callable[[Any, Any], Any]], ...]  # name, path segment, validator
    whole: tuple[Callable[[Any], Any], ...]


class _Class:
    """One ValidatedStruct class, as its `__post_init__` sees it."""

    __slots__ = ("building", "cls", "plan", "user")

    def __init__(self, user: Callable[[Any], Any] | None) -> None:
        self.user = user  # the __post_init__ the class defines or inherits, not a wrapper
        self.cls: type = object
        self.plan: _Plan | None = None
        self.building = False

    def prepare(self) -> _Plan | None:
        """Build the plan once; None while it is being built (a class may contain itself)."""
        if self.plan is None and not self.building:
            self.building = True
            try:
                self.plan = _plan(self.cls)
            finally:
                self.building = False
        return self.plan


_KNOWN = "__swill_class__"  # each class's own _Class, in its namespace


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


def _plan(cls: type) -> _Plan:
    by_field, whole = _validators(cls)
    segments = {field.name: field.segment for field in wire_fields(cls, cls)}
    return _Plan(class_checker(cls), tuple((name, segments[name], fn) for name, fn in by_field), tuple(whole))


def _refusal(exc: ValueError, path: str) -> Errors:
    return rebase(exc.errors, path) if isinstance(exc, InvalidData) else [{"path": path, "message": str(exc)}]


def _run_validators(obj: Any, plan: _Plan) -> None:
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


def _post_init(known: _Class) -> Callable[[Any], None]:
    """The `__post_init__` of one class: it validates objects of that very class (rule 1)."""

    def __post_init__(self: Any) -> None:
        user = known.user
        if type(self) is not known.cls:  # reached by super() from a subclass's own __post_init__
            if user is not None:
                user(self)
            return
        plan = known.plan or known.prepare()
        if plan is not None and plan.fields is not None:
            plan.fields(self)
        if user is not None:
            user(self)
        if plan is not None and (plan.by_field or plan.whole):
            _run_validators(self, plan)

    return __post_init__


class _ValidatedMeta(msgspec.StructMeta):
    """Gives each new class its validating `__post_init__` and finds its validators."""

    def __new__(
        mcls, name: str, bases: tuple[type, ...], namespace: dict[str, Any], /, **kwargs: Any
    ) -> _ValidatedMeta:
        user = namespace.get("__post_init__")
        if user is None:  # inherited: a base's own function, not its wrapper
            user = next((getattr(b, _KNOWN).user for b in bases if hasattr(b, _KNOWN)), None)
        known = _Class(user)
        namespace = {**namespace, "__post_init__": _post_init(known), _KNOWN: known}
        cls = super().__new__(mcls, name, bases, namespace, **kwargs)
        known.cls = cls
        _validators(cls)  # a validator of a field that does not exist fails here
        try:
            known.prepare()
        except NameError:  # an annotation names something defined later: planned on first use
            pass
        return cls

    def swill_prepare(cls) -> None:
        """Plan this class's checks now, so that a type that can't be checked fails at registration."""
        known: _Class = cls.__dict__[_KNOWN]
        known.prepare()


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
