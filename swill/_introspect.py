"""The built-in `swill.introspect` rpc (docs/protocol.md, "Built-in rpcs") and the schemas it serves.

Rules this module keeps:

1. Schemas describe MessagePack, not JSON. `msgspec.json.schema` describes msgspec's JSON wire
   (bytes as base64 with base64 lengths, datetimes as strings, every int a JSON number), so the
   schemas here come from a walk of `msgspec.inspect` type trees, shaped like msgspec's own.
   Where MessagePack differs from JSON a schema says so with `x-msgpack`: `"bin"` (bytes; their
   `minLength`/`maxLength` count bytes), `"timestamp"` (a datetime that may carry a timezone: the
   timestamp extension), `"int64"` (an integer whose bounds don't keep it within ±(2^53 - 1)).
2. Constraints from annotated-types count everywhere, Struct fields included. msgspec.inspect
   reads only `msgspec.Meta`, so types are inspected as swill/_decoding.py gives them to msgspec
   (`decoding(T).type`: a `Meta` next to each constraint of the type expression), and a class's
   fields that carry constraints are inspected again from `field_types(cls)`, which translates
   them the same way; the classes themselves are never changed.
3. Field docs come from `Meta(description=..., examples=...)` or from an attribute docstring
   (a string right below the field in the class body).
4. Shared types (Structs, dataclasses, TypedDicts, NamedTuples, Enums) live once under
   `schemas`, and everything else points at them with `{"$ref": "#/schemas/<name>"}`.
5. The document is built once per route table and carries a `schema_hash`, a SHA-256 of what
   generated code depends on (every non-builtin rpc and every schema).
"""

from __future__ import annotations

import ast
import hashlib
import inspect
import itertools
import logging
import re
import sys
import typing
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Final

import msgspec
import msgspec.inspect as mi

from ._decoding import decoding, field_types
from ._integers import MAX_SAFE_INTEGER, is_int64, typed_as_number
from ._request import Request

if TYPE_CHECKING:
    from ._app import Route, Swill
    from ._registry import HandlerSpec

__all__ = ["INTROSPECT", "REF_PREFIX", "build_document", "describe", "install", "schema_components"]

logger = logging.getLogger("swill")

INTROSPECT: Final = "swill.introspect"
REF_PREFIX: Final = "#/schemas/"

_CLASS_TYPES: Final = (mi.StructType, mi.DataclassType, mi.TypedDictType, mi.NamedTupleType)
_BYTES_TYPES: Final = (mi.BytesType, mi.ByteArrayType, mi.MemoryViewType)
_STRING_FORMATS: Final[dict[type[mi.Type], str]] = {
    mi.DateType: "date",
    mi.TimeDeltaType: "duration",
    mi.UUIDType: "uuid",
    mi.DecimalType: "decimal",
}


def install(app: Swill) -> None:
    """Register `swill.introspect` on `app`; the document is built once per route table."""
    built: list[Any] = [None, None, None]  # the route table and topics it was built from, the document

    async def introspect(request: Request[None]) -> dict[str, Any]:
        """Describe every rpc this server serves, with MessagePack-true JSON Schemas."""
        routes, topics = app.rpcs, list(_topics(app))
        if built[0] is not routes or built[1] != topics:
            built[:] = [routes, topics, describe(app)]
        document: dict[str, Any] = built[2]
        return document

    app._add_handler(introspect, name=INTROSPECT, builtin=True)


def describe(app: Swill) -> dict[str, Any]:
    """The introspection document of `app`, whether it serves `swill.introspect` or not."""
    topics = [topic.describe() for topic in _topics(app).values()]
    return build_document(
        app.rpcs,
        topics=topics,
        safe_integers=getattr(app, "safe_integers", False),
        forbid_unknown_fields=getattr(app, "forbid_unknown_fields", False),
    )


def _topics(app: Swill) -> dict[str, Any]:
    topics: dict[str, Any] = getattr(app, "_topics", {})
    return topics


def build_document(
    routes: Mapping[str, Route],
    *,
    topics: Iterable[Mapping[str, Any]] = (),
    safe_integers: bool = False,
    forbid_unknown_fields: bool = False,
) -> dict[str, Any]:
    """The introspection document (docs/protocol.md, "Built-in rpcs") for a route table.

    Args:
        routes: Full rpc names to routes, as `Swill.rpcs` has them.
        topics: The app's topics, as `Topic.describe()` gives them.
        safe_integers: The app's `safe_integers`: plain ints are JavaScript numbers (swill/_integers.py).
        forbid_unknown_fields: The app's `forbid_unknown_fields`: no object takes other fields.

    Returns:
        `{"version", "schema_hash", "rpcs", "schemas", "topics"}`; plain data that encodes to
        MessagePack and to JSON.
    """
    specs = [route.spec for route in routes.values()]
    types: list[Any] = []
    for spec in specs:
        types += [spec.request_codec.type, spec.response_type]
    declared = [error for spec in specs for error in spec.errors]
    types += [error.detail_type for error in declared]
    schemas, components = schema_components(
        types, safe_integers=safe_integers, forbid_unknown_fields=forbid_unknown_fields
    )
    error_schemas = iter(schemas[2 * len(specs) :])
    rpcs = []
    for index, (name, spec) in enumerate(zip(routes, specs, strict=True)):
        summary, description = split_doc(spec.doc)
        rpc: dict[str, Any] = {
            "name": name,
            "kind": rpc_kind(spec.request_stream, spec.response_stream),
            "doc": spec.doc,
            "summary": summary,
            "description": description,
            "builtin": spec.builtin,
            "request": {"stream": spec.request_stream, "schema": schemas[2 * index]},
            "response": {"stream": spec.response_stream, "schema": schemas[2 * index + 1]},
        }
        if is_resumable(spec):  # docs/protocol.md, "Resumable streams": clients may subscribe to it
            rpc["resumable"] = True
        if spec.errors:  # declared errors (swill/_declared.py): name, code, doc, the detail's schema
            rpc["errors"] = [{**error.describe(), "schema": next(error_schemas)} for error in spec.errors]
        rpcs.append(rpc)
    hashed = {"rpcs": [rpc for rpc in rpcs if not rpc["builtin"]], "schemas": components}
    schema_hash = hashlib.sha256(msgspec.json.encode(hashed, order="sorted")).hexdigest()
    document = {"version": 1, "schema_hash": schema_hash, "rpcs": rpcs, "schemas": components}
    document["topics"] = [dict(topic) for topic in topics]
    return document


def is_resumable(spec: HandlerSpec) -> bool:
    """Whether an rpc is a resumable stream (docs/protocol.md, "Resumable streams"): it takes the last event id
    seen (or `nil`) and streams `TopicEvent`s, as `app.expose` topics do."""
    from ._topics import TopicEvent

    if spec.request_stream or not spec.response_stream:
        return False
    event = typing.get_origin(spec.response_type) or spec.response_type
    if not (isinstance(event, type) and issubclass(event, TopicEvent)):
        return False
    return {_bare(member) for member in typing.get_args(spec.request_type)} == {int, type(None)}


def _bare(tp: Any) -> Any:
    """`int` for `Annotated[int, ...]`."""
    return typing.get_args(tp)[0] if typing.get_origin(tp) is typing.Annotated else tp


def rpc_kind(request_stream: bool, response_stream: bool) -> str:
    """`"unary"`, `"server_stream"`, `"client_stream"` or `"bidi"`."""
    if request_stream:
        return "bidi" if response_stream else "client_stream"
    return "server_stream" if response_stream else "unary"


def split_doc(doc: str | None) -> tuple[str | None, str | None]:
    """A docstring's summary (its first paragraph, on one line) and the rest."""
    if not doc:
        return None, None
    first, _, rest = inspect.cleandoc(doc).partition("\n\n")
    return " ".join(first.split()), rest.strip() or None


def schema_components(
    types: Iterable[Any], *, safe_integers: bool = False, forbid_unknown_fields: bool = False
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """MessagePack-true JSON Schemas for `types`, and the shared schemas they `$ref`.

    Like `msgspec.json.schema_components(types, ref_template="#/schemas/{name}")`, with the
    differences the module docstring lists. A type no schema can describe gets `{}`.
    """
    builder = _SchemaBuilder(safe_integers, forbid_unknown_fields)
    infos = [builder.type_info(tp) for tp in types]
    for info in infos:
        builder.collect(info)
    builder.name_components()
    schemas = [builder.schema(info) for info in infos]
    return schemas, builder.components()


def _literal_orders(tp: Any, orders: dict[frozenset[Any], tuple[Any, ...]], seen: set[int]) -> None:
    """Record the declared order of every `Literal` in `tp`, through the fields of its classes."""
    if id(tp) in seen:
        return
    seen.add(id(tp))
    if typing.get_origin(tp) is typing.Literal:
        values = tuple(value for value in typing.get_args(tp) if value is not None)  # None: a union
        orders.setdefault(frozenset(values), values)
        return
    for arg in typing.get_args(tp):
        _literal_orders(arg, orders, seen)
    if isinstance(tp, type) and tp.__module__ != "builtins":
        try:
            hints = typing.get_type_hints(tp, include_extras=True)
        except Exception:  # unresolvable annotations: msgspec says so when it reads them
            return
        for hint in hints.values():
            _literal_orders(hint, orders, seen)


class _SchemaBuilder:
    """Collects shared types, names them, then writes schemas (msgspec's `_SchemaGenerator`)."""

    def __init__(self, safe_integers: bool = False, forbid_unknown_fields: bool = False) -> None:
        self.safe_integers = safe_integers
        self.forbid_unknown_fields = forbid_unknown_fields
        self.classes: dict[Any, mi.Type] = {}
        self.names: dict[Any, str] = {}
        self.sources: dict[str, dict[str, dict[str, str]]] = {}  # module: class: field: doc
        # msgspec sorts a Literal's values; the schema lists them as declared: values -> order.
        self.literal_orders: dict[frozenset[Any], tuple[Any, ...]] = {}
        self.fields: dict[Any, dict[str, mi.Type]] = {}  # class: its constrained fields (rule 2)

    def type_info(self, tp: Any) -> mi.Type:
        """msgspec's view of `tp` once annotated-types constraints are `Meta` (rule 2)."""
        _literal_orders(tp, self.literal_orders, set())
        try:
            tp = decoding(tp).type
        except Exception:  # a type msgspec can't decode, such as a response-only custom class
            pass
        try:
            return mi.type_info(tp)
        except Exception as exc:  # an unresolvable annotation must not break introspection
            logger.warning("swill.introspect: no schema for %r: %s", tp, exc)
            return mi.AnyType()

    def collect(self, t: mi.Type) -> None:
        """Find the shared types below `t`, reading annotated-types constraints back in."""
        for child in _children(t):
            self.collect(child)
        if isinstance(t, mi.EnumType):
            self.classes.setdefault(t.cls, t)
        elif isinstance(t, _CLASS_TYPES) and t.cls not in self.classes:
            self.classes[t.cls] = t
            for field in t.fields:
                self.collect(self.field_type(t, field))

    def field_type(self, t: Any, field: mi.Field) -> mi.Type:
        """A class field's type, with the annotated-types constraints msgspec.inspect skipped."""
        if t.cls not in self.fields:
            try:
                self.fields[t.cls] = {name: self.type_info(tp) for name, tp in field_types(t.cls).items()}
            except Exception:  # the class's annotations can't be read again: show what msgspec saw
                self.fields[t.cls] = {}
        return self.fields[t.cls].get(field.name, field.type)

    def name_components(self) -> None:
        """Names as msgspec gives them: the class name, or its full path where names clash."""
        taken: dict[str, Any] = {}
        clashes: set[str] = set()
        for cls in self.classes:
            name = _normalize(_class_name(cls))
            if name in taken:
                clashes.add(name)
                old = taken.pop(name)
                taken[_full_name(old)] = old
            taken[_full_name(cls) if name in clashes else name] = cls
        self.names = {cls: name for name, cls in taken.items()}

    def components(self) -> dict[str, Any]:
        out = {self.names[cls]: self.schema(t, ref=False) for cls, t in self.classes.items()}
        return dict(sorted(out.items()))

    def schema(self, t: mi.Type, *, ref: bool = True) -> dict[str, Any]:
        schema: dict[str, Any] = {}
        int64 = is_int64(t)
        while isinstance(t, mi.Metadata):
            schema = _merge(schema, t.extra_json_schema or {})
            t = t.type
        name = self.names.get(getattr(t, "cls", None)) if ref else None
        if name is not None:
            return {"$ref": REF_PREFIX + name, **schema}
        if isinstance(t, mi.UnionType):
            return {**schema, **self.union(t)}
        if isinstance(t, _CLASS_TYPES):
            return self.class_schema(t, schema)
        if isinstance(t, mi.IntType):
            return _merge(_int_schema(t, typed_as_number(t, int64=int64, safe_integers=self.safe_integers)), schema)
        return _merge(self.plain(t), schema)

    def plain(self, t: mi.Type) -> dict[str, Any]:
        """The schema of a type that is neither shared nor a union."""
        if isinstance(t, mi.NoneType):
            return {"type": "null"}
        if isinstance(t, mi.BoolType):
            return {"type": "boolean"}
        if isinstance(t, mi.FloatType):
            return _bounds({"type": "number"}, t)
        if isinstance(t, mi.StrType):
            return _lengths({"type": "string", "pattern": t.pattern}, t, "Length")
        if isinstance(t, _BYTES_TYPES):
            bin_schema = {"type": "string", "contentEncoding": "base64", "x-msgpack": "bin"}
            return _lengths(bin_schema, t, "Length")
        if isinstance(t, mi.DateTimeType):
            if t.tz is False:  # a naive datetime travels as an RFC 3339 string without offset
                return {"type": "string"}
            return {"type": "string", "format": "date-time", "x-msgpack": "timestamp"}
        if isinstance(t, mi.TimeType):
            return {"type": "string", **({} if t.tz is None else {"format": "time" if t.tz else "partial-time"})}
        if type(t) in _STRING_FORMATS:
            return {"type": "string", "format": _STRING_FORMATS[type(t)]}
        if isinstance(t, mi.CollectionType):
            return self.collection(t)
        if isinstance(t, mi.TupleType):
            items = [self.schema(item) for item in t.item_types]
            tuple_schema: dict[str, Any] = {"type": "array", "minItems": len(items), "maxItems": len(items)}
            return {**tuple_schema, "prefixItems": items, "items": False} if items else tuple_schema
        if isinstance(t, (mi.DictType, mi.FrozenDictType)):
            return self.mapping(t)
        if isinstance(t, mi.LiteralType):
            return {"enum": list(self.literal_orders.get(frozenset(t.values), t.values))}
        if isinstance(t, mi.EnumType):
            return self.enum(t)
        if isinstance(t, mi.ExtType):
            return {"x-msgpack": "ext"}
        return {}  # Any, Raw, and custom types: anything goes

    def collection(self, t: mi.CollectionType) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": "array"}
        if not isinstance(t.item_type, mi.AnyType):
            schema["items"] = self.schema(t.item_type)
        if isinstance(t, (mi.SetType, mi.FrozenSetType)):
            schema["uniqueItems"] = True
        return _lengths(schema, t, "Items")

    def mapping(self, t: mi.DictType | mi.FrozenDictType) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": "object"}
        keys = self.schema(t.key_type)
        if keys.get("type") == "string":
            del keys["type"]  # MessagePack keys may be any type; only string ones go unsaid
        if keys:
            schema["propertyNames"] = keys
        if not isinstance(t.value_type, mi.AnyType):
            schema["additionalProperties"] = self.schema(t.value_type)
        return _lengths(schema, t, "Properties")

    def enum(self, t: mi.EnumType) -> dict[str, Any]:
        schema: dict[str, Any] = {"title": t.cls.__name__}
        doc = _class_doc(t.cls)
        if doc and doc != "An enumeration.":
            schema["description"] = doc
        schema["enum"] = [member.value for member in t.cls]  # in declaration order
        return schema

    def union(self, t: mi.UnionType) -> dict[str, Any]:
        """As msgspec writes unions: tagged Structs share a `discriminator`, `null` comes last."""
        structs: dict[Any, mi.StructType] = {}
        other: list[mi.Type] = []
        none: mi.Type | None = None
        tag_field = None
        for member in t.types:
            real = member
            while isinstance(real, mi.Metadata):
                real = real.type
            if isinstance(real, mi.StructType) and not real.array_like:
                tag_field = real.tag_field
                structs[real.tag] = real
            elif isinstance(real, mi.NoneType):
                none = member
            else:
                other.append(member)
        options = [self.schema(member) for member in other]
        if len(structs) >= 2:
            mapping = {tag: REF_PREFIX + self.names[s.cls] for tag, s in structs.items()}
            options.append(
                {
                    "anyOf": [self.schema(s) for s in structs.values()],
                    "discriminator": {"propertyName": tag_field, "mapping": mapping},
                }
            )
        else:
            options += [self.schema(s) for s in structs.values()]
        if none is not None:
            options.append(self.schema(none))
        return options[0] if len(options) == 1 and "discriminator" in options[0] else {"anyOf": options}

    def class_schema(self, t: Any, schema: dict[str, Any]) -> dict[str, Any]:
        """Structs, dataclasses, TypedDicts and NamedTuples: objects, or arrays when array-like."""
        cls = getattr(t.cls, "__origin__", t.cls)
        schema.setdefault("title", _class_name(t.cls))
        doc = _class_doc(cls)
        if doc and not (isinstance(t, (mi.DataclassType, mi.NamedTupleType)) and doc.startswith(f"{cls.__name__}(")):
            schema.setdefault("description", doc)
        docs = _attribute_docs(cls, self.sources)
        names: list[str] = []
        fields: list[dict[str, Any]] = []
        required: list[str] = []
        tag_field = getattr(t, "tag_field", None)
        if tag_field is not None:
            names.append(tag_field)
            fields.append({"enum": [t.tag]})
            required.append(tag_field)
        array_like = getattr(t, "array_like", False) or isinstance(t, mi.NamedTupleType)
        for field in t.fields:
            field_schema = self.schema(self.field_type(t, field))
            if field.name in docs:
                field_schema.setdefault("description", docs[field.name])
            if field.required:
                required.append(field.encode_name)
            else:
                default = _default(field)
                if default is not msgspec.UNSET:
                    field_schema["default"] = default
            if array_like:
                field_schema["x-name"] = field.encode_name
            names.append(field.encode_name)
            fields.append(field_schema)
        if array_like:
            schema.update(type="array", prefixItems=fields, minItems=len(required), maxItems=len(fields))
            if isinstance(t, mi.StructType) and not t.forbid_unknown_fields:
                del schema["maxItems"]
            return schema
        schema.update(type="object", properties=dict(zip(names, fields, strict=True)), required=required)
        if getattr(t, "forbid_unknown_fields", False) or self.forbid_unknown_fields:
            schema["additionalProperties"] = False
        return schema


# Type trees.


def _children(t: mi.Type) -> list[mi.Type]:
    """The types directly below `t`, class fields excepted."""
    if isinstance(t, mi.Metadata):
        return [t.type]
    if isinstance(t, mi.CollectionType):
        return [t.item_type]
    if isinstance(t, mi.TupleType):
        return list(t.item_types)
    if isinstance(t, (mi.DictType, mi.FrozenDictType)):
        return [t.key_type, t.value_type]
    if isinstance(t, mi.UnionType):
        return list(t.types)
    return []


# Names and docs.


def _class_name(cls: Any) -> str:
    origin = getattr(cls, "__origin__", None)
    if origin is None:
        return str(cls.__name__)
    args = ", ".join(a.__name__ if isinstance(a, type) else repr(a) for a in cls.__args__)
    return f"{origin.__name__}[{args}]"


def _normalize(name: str) -> str:
    return re.sub(r"[^a-zA-Z0-9.\-_]", "_", name)


def _full_name(cls: Any) -> str:
    origin = getattr(cls, "__origin__", cls)
    name = _class_name(cls).replace(origin.__name__, origin.__qualname__, 1)
    return _normalize(f"{origin.__module__}.{name}")


def _class_doc(cls: Any) -> str | None:
    doc = vars(cls).get("__doc__")  # not inspect.getdoc: a class without one inherits its base's
    return inspect.cleandoc(doc) or None if isinstance(doc, str) else None


def _attribute_docs(cls: Any, modules: dict[str, dict[str, dict[str, str]]]) -> dict[str, str]:
    """Docstrings written under fields in the class body (PEP 257 attribute docstrings), the
    class's own over its bases'. `modules` caches what each module's source holds."""
    docs: dict[str, str] = {}
    for klass in reversed(getattr(cls, "__mro__", ())):
        name = klass.__module__
        if name in ("builtins", "msgspec", "typing", "enum"):
            continue
        if name not in modules:
            modules[name] = _module_attribute_docs(name)
        docs.update(modules[name].get(klass.__qualname__, {}))
    return docs


def _module_attribute_docs(module: str) -> dict[str, dict[str, str]]:
    """Every class of a module by qualified name (`Outer.Inner`, `f.<locals>.C`), with the
    docstrings of its fields; parsed once, as `inspect.getsource(cls)` would for each class."""
    try:
        tree = ast.parse(inspect.getsource(sys.modules[module]))
    except (KeyError, OSError, TypeError, SyntaxError):
        return {}
    out: dict[str, dict[str, str]] = {}

    def visit(body: list[ast.stmt], prefix: str) -> None:
        for node in body:
            if isinstance(node, ast.ClassDef):
                out[prefix + node.name] = {
                    field.target.id: inspect.cleandoc(doc.value.value)
                    for field, doc in itertools.pairwise(node.body)
                    if isinstance(field, ast.AnnAssign)
                    and isinstance(field.target, ast.Name)
                    and isinstance(doc, ast.Expr)
                    and isinstance(doc.value, ast.Constant)
                    and isinstance(doc.value.value, str)
                }
                visit(node.body, f"{prefix}{node.name}.")
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                visit(node.body, f"{prefix}{node.name}.<locals>.")
            elif isinstance(node, (ast.If, ast.Try)):
                visit([*node.body, *node.orelse], prefix)

    visit(tree.body, "")
    return out


# Schema pieces.


def _merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """`a` updated with `b`, dicts merged key by key (msgspec's `extra_json_schema` rule)."""
    out = dict(a)
    for key, value in b.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _bounds(schema: dict[str, Any], t: mi.IntType | mi.FloatType) -> dict[str, Any]:
    keywords = {
        "minimum": t.ge,
        "exclusiveMinimum": t.gt,
        "maximum": t.le,
        "exclusiveMaximum": t.lt,
        "multipleOf": t.multiple_of,
    }
    schema.update((key, value) for key, value in keywords.items() if value is not None)
    return schema


def _int_schema(t: mi.IntType, number: bool) -> dict[str, Any]:
    """An int typed as a JavaScript number, or `int64` (swill/_integers.py, rule 1). A plain int that
    `safe_integers` makes a number shows the bounds it is held to."""
    schema = _bounds({"type": "integer"}, t)
    if not number:
        schema["x-msgpack"] = "int64"
        return schema
    if t.ge is None and t.gt is None:
        schema["minimum"] = -MAX_SAFE_INTEGER
    if t.le is None and t.lt is None:
        schema["maximum"] = MAX_SAFE_INTEGER
    return schema


def _lengths(schema: dict[str, Any], t: Any, noun: str) -> dict[str, Any]:
    if t.min_length is not None:
        schema[f"min{noun}"] = t.min_length
    if t.max_length is not None:
        schema[f"max{noun}"] = t.max_length
    return {key: value for key, value in schema.items() if value is not None}


def _default(field: mi.Field) -> Any:
    """A field's default as plain data, or `UNSET` when it has none to show."""
    if field.default is not msgspec.NODEFAULT:
        value = field.default
    elif field.default_factory in (list, dict, set, bytearray):
        value = field.default_factory()
    else:
        return msgspec.UNSET
    if value is msgspec.UNSET:
        return msgspec.UNSET
    return msgspec.to_builtins(value, str_keys=True)
