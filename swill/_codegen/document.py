"""The introspection document as the generators read it, and where it comes from."""

from __future__ import annotations

import importlib
import keyword
import re
import sys
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from .._app import Swill
from .._introspect import REF_PREFIX, describe, rpc_kind, split_doc

__all__ = [
    "KINDS",
    "Document",
    "Generator",
    "Namespace",
    "Rpc",
    "constraints",
    "describe_kind",
    "is_url",
    "load_document",
    "ref_name",
    "unique_identifier",
]


@dataclass(frozen=True, slots=True)
class Rpc:
    """One rpc of the document."""

    name: str
    kind: str
    summary: str | None
    description: str | None
    builtin: bool
    request_stream: bool
    response_stream: bool
    request: dict[str, Any]
    response: dict[str, Any]
    errors: list[dict[str, Any]] = field(default_factory=list)
    """Declared errors: `{"name", "code", "doc", "schema"}` each (docs/errors.md)."""
    resumable: bool = False
    """A resumable stream (docs/protocol.md, "Resumable streams"): clients may `subscribe` to it."""

    @property
    def doc(self) -> str | None:
        """The whole docstring: summary, blank line, description."""
        parts = [part for part in (self.summary, self.description) if part]
        return "\n\n".join(parts) or None


@dataclass(frozen=True, slots=True)
class Document:
    """A parsed `swill.introspect` document (docs/protocol.md, "Built-in rpcs")."""

    version: int
    schema_hash: str | None
    rpcs: list[Rpc]
    schemas: dict[str, dict[str, Any]]

    @classmethod
    def parse(cls, raw: Mapping[str, Any] | Document) -> Document:
        """Read a document as `swill.introspect` returns it.

        Keys a minimal server may leave out (`kind`, `summary`, `builtin`, `schema_hash`) are
        worked out or defaulted.

        Raises:
            ValueError: `raw` is not a version 1 introspection document.
        """
        if isinstance(raw, Document):
            return raw
        if not isinstance(raw, Mapping) or raw.get("version") != 1 or not isinstance(raw.get("rpcs"), list):
            raise ValueError("not a swill.introspect document of version 1")
        rpcs = [_parse_rpc(item) for item in raw["rpcs"]]
        return cls(
            version=1,
            schema_hash=raw.get("schema_hash"),
            rpcs=rpcs,
            schemas=dict(raw.get("schemas") or {}),
        )

    @property
    def user_rpcs(self) -> list[Rpc]:
        """The application's rpcs: every rpc but the built-in `swill.*` ones."""
        return [rpc for rpc in self.rpcs if not rpc.builtin]

    def resolve(self, schema: Mapping[str, Any]) -> Mapping[str, Any]:
        """Follow `$ref`s to the schema they name (unknown names resolve to `{}`)."""
        seen: set[str] = set()
        while "$ref" in schema and schema["$ref"] not in seen:
            seen.add(schema["$ref"])
            schema = self.schemas.get(ref_name(schema["$ref"]), {})
        return schema

    def tagged(self) -> dict[str, tuple[str, str]]:
        """Shared schemas that are tagged union members: name → (tag field, tag value)."""
        out: dict[str, tuple[str, str]] = {}
        for node in self.walk():
            discriminator = node.get("discriminator")
            if isinstance(discriminator, Mapping):
                for tag, ref in (discriminator.get("mapping") or {}).items():
                    out[ref_name(ref)] = (discriminator["propertyName"], tag)
        return out

    def walk(self) -> Iterator[Mapping[str, Any]]:
        """Every schema node of the document, nested ones included."""
        roots: list[Any] = list(self.schemas.values())
        for rpc in self.rpcs:
            roots += [rpc.request, rpc.response, *(error.get("schema") for error in rpc.errors)]
        stack = roots
        while stack:
            node = stack.pop()
            if isinstance(node, Mapping):
                yield node
                stack.extend(node.values())
            elif isinstance(node, list):
                stack.extend(node)


def _parse_rpc(item: Mapping[str, Any]) -> Rpc:
    request = item.get("request") or {}
    response = item.get("response") or {}
    request_stream = bool(request.get("stream"))
    response_stream = bool(response.get("stream"))
    summary, description = item.get("summary"), item.get("description")
    if summary is None and description is None:
        summary, description = split_doc(item.get("doc"))
    name = str(item["name"])
    return Rpc(
        name=name,
        kind=item.get("kind") or rpc_kind(request_stream, response_stream),
        summary=summary,
        description=description,
        builtin=bool(item.get("builtin", name.startswith("swill."))),
        request_stream=request_stream,
        response_stream=response_stream,
        request=dict(request.get("schema") or {}),
        response=dict(response.get("schema") or {}),
        errors=[_parse_error(error) for error in item.get("errors") or () if isinstance(error, Mapping)],
        resumable=item.get("resumable") is True and response_stream,
    )


def _parse_error(item: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "name": str(item.get("name")),
        "code": str(item.get("code") or "UNKNOWN"),
        "doc": item.get("doc"),
        "schema": dict(item.get("schema") or {}),
    }


def ref_name(ref: str) -> str:
    """`"#/schemas/User"` → `"User"`."""
    return ref.removeprefix(REF_PREFIX)


_HOST_PORT = re.compile(r"[\w.\-\[\]]+:\d+(/.*)?")
_IDENTIFIER_START = re.compile(r"^[^A-Za-z_]")
_NOT_IDENTIFIER = re.compile(r"[^A-Za-z0-9_]+")


def unique_identifier(name: str, taken: set[str], *, reserved: frozenset[str] = frozenset()) -> str:
    """A valid identifier (Python's and JavaScript's) made from `name`, not yet in `taken`.

    Adds it to `taken`. Characters that can't be in one become `_`; keywords and `reserved`
    names get a trailing `_`; a clash gets a number.
    """
    base = _NOT_IDENTIFIER.sub("_", name) or "_"
    if _IDENTIFIER_START.match(base):
        base = "_" + base
    if keyword.iskeyword(base) or keyword.issoftkeyword(base) or base in reserved:
        base += "_"
    candidate, n = base, 2
    while candidate in taken:
        candidate, n = f"{base}{n}", n + 1
    taken.add(candidate)
    return candidate


@dataclass
class Namespace:
    """Rpcs grouped by the dots in their names: `chat.echo` is `echo` in namespace `chat`."""

    rpcs: dict[str, Rpc] = field(default_factory=dict)
    children: dict[str, Namespace] = field(default_factory=dict)

    @classmethod
    def of(cls, rpcs: list[Rpc]) -> Namespace:
        """Group `rpcs`. A name that is both an rpc and a namespace keeps the rpc under its full
        name, with dots as `_`, in the outermost namespace."""
        root = cls()
        for rpc in rpcs:
            *path, leaf = rpc.name.split(".")
            node = root
            for part in path:
                node = node.children.setdefault(part, cls())
            node.rpcs[leaf] = rpc
        root._untangle(root, "")
        return root

    def _untangle(self, root: Namespace, prefix: str) -> None:
        for name in list(self.rpcs):
            if name in self.children:
                rpc = self.rpcs.pop(name)
                root.rpcs[rpc.name.replace(".", "_") + "_"] = rpc
        for name, child in self.children.items():
            child._untangle(root, f"{prefix}{name}.")


class Generator(ABC):
    """What the TypeScript and Python generators share: type names that shadow none of the
    module's own, and one API class per namespace of rpcs."""

    reserved: frozenset[str] = frozenset()

    def __init__(self, document: Document) -> None:
        self.document = document
        self.taken = set(self.reserved)
        self.names = {name: unique_identifier(name, self.taken) for name in document.schemas}
        self.class_names: dict[int, str] = {}

    def api_classes(self, root: Namespace, doc: str) -> list[str]:
        """The source of `Api` for `root` (last) and of a class for each namespace below it
        (before the class that holds it)."""
        return [*self._namespace_classes(root, []), self.api_class("Api", root, [], doc)]

    def _namespace_classes(self, node: Namespace, path: list[str]) -> list[str]:
        out = []
        for name, child in node.children.items():
            inner = [*path, name]
            out += self._namespace_classes(child, inner)
            camel = "".join(part[:1].upper() + part[1:] for part in inner)
            self.class_names[id(child)] = ident = unique_identifier(f"{camel}Api", self.taken)
            out.append(self.api_class(ident, child, inner, f"The `{'.'.join(inner)}.*` rpcs."))
        return out

    @abstractmethod
    def api_class(self, ident: str, node: Namespace, path: list[str], doc: str) -> str:
        """The source of one API class: a method per rpc of `node`, an attribute per namespace."""


def is_url(target: str) -> bool:
    """Whether a `swill codegen` target names a server rather than `module:app`."""
    return "://" in target or _HOST_PORT.fullmatch(target) is not None  # no attribute is named with digits


def load_document(target: str) -> dict[str, Any]:
    """The introspection document of a server or an app.

    Args:
        target: A server, as a URL (`ws://host:port/ws`, `http://...`) or `host:port`, asked
            with `swill.introspect`; or `module:attribute` naming a `swill.Swill` app, imported
            (from the current directory first, as uvicorn does) and described in-process, even
            when it was made with `introspection=False`.

    Raises:
        swill.Error: The server refused the call.
        ValueError: `target` is neither, or does not name a Swill app.
    """
    if is_url(target):
        from ..cli import normalize_url
        from ._fetch import fetch_document

        return fetch_document(normalize_url(target))
    module_name, _, attribute = target.partition(":")
    if not module_name or not attribute:
        raise ValueError(f"expected a server URL or module:app, got {target!r}")
    if str(Path.cwd()) not in sys.path:
        sys.path.insert(0, str(Path.cwd()))
    app: Any = importlib.import_module(module_name)
    for part in attribute.split("."):
        app = getattr(app, part, None)
    if not isinstance(app, Swill):
        raise ValueError(f"{target!r} is not a swill.Swill app")
    return describe(app)


_CONSTRAINTS = (
    ("minimum", "≥ {}"),
    ("exclusiveMinimum", "> {}"),
    ("maximum", "≤ {}"),
    ("exclusiveMaximum", "< {}"),
    ("multipleOf", "multiple of {}"),
    ("minLength", "length ≥ {}"),
    ("maxLength", "length ≤ {}"),
    ("pattern", "matches `{}`"),
    ("minItems", "items ≥ {}"),
    ("maxItems", "items ≤ {}"),
    ("minProperties", "entries ≥ {}"),
    ("maxProperties", "entries ≤ {}"),
)


def constraints(schema: Mapping[str, Any]) -> list[str]:
    """A schema's constraints in words: `["≥ 0", "length ≤ 40"]`. A tuple's fixed length and
    an array-like class's item counts are its shape, not constraints, and are left out."""
    if "prefixItems" in schema:
        return []
    out = [text.format(schema[key]) for key, text in _CONSTRAINTS if key in schema]
    if schema.get("uniqueItems"):
        out.append("unique items")
    return out


KINDS: Final = {
    "unary": "unary",
    "server_stream": "server streaming",
    "client_stream": "client streaming",
    "bidi": "bidirectional streaming",
}


def describe_kind(rpc: Rpc) -> str:
    """`"Unary rpc `add`."`, `"Bidirectional streaming rpc `chat.echo`."`"""
    return f"{KINDS.get(rpc.kind, rpc.kind).capitalize()} rpc `{rpc.name}`."
