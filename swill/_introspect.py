"""The built-in `swill.introspect` rpc (PROTOCOL.md section 7)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec

from ._request import Request

if TYPE_CHECKING:
    from ._app import Route, Swill

__all__ = ["build_document", "install"]

INTROSPECT = "swill.introspect"


def install(app: Swill) -> None:
    """Register `swill.introspect` on `app`; the document is built once per route table."""
    cache: dict[int, dict[str, Any]] = {}

    async def introspect(request: Request[None]) -> dict[str, Any]:
        """Describe every rpc this server serves, with JSON Schemas of their messages."""
        routes = app.routes
        document = cache.get(id(routes))
        if document is None:
            cache.clear()
            document = cache[id(routes)] = build_document(routes)
        return document

    app.add_handler(introspect, name=INTROSPECT, builtin=True)


def build_document(routes: Any) -> dict[str, Any]:
    """The introspection document for a route table."""
    items: list[Route] = list(routes.values())
    types: list[Any] = []
    for route in items:
        types.append(route.spec.request_codec.type)
        types.append(route.spec.response_type if route.spec.response_type is not None else None)
    schemas, components = msgspec.json.schema_components(types, ref_template="#/schemas/{name}")
    rpcs = []
    for index, (name, route) in enumerate(routes.items()):
        spec = route.spec
        rpcs.append(
            {
                "name": name,
                "doc": spec.doc,
                "builtin": spec.builtin,
                "request": {"stream": spec.request_stream, "schema": schemas[2 * index]},
                "response": {"stream": spec.response_stream, "schema": schemas[2 * index + 1]},
            }
        )
    return {"version": 1, "rpcs": rpcs, "schemas": components}

