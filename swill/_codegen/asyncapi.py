"""`swill codegen asyncapi`: an AsyncAPI 3.0 document of a Swill server.

Rules:

1. The document describes the server: one channel (the WebSocket endpoint) and, per rpc, a pair of
   operations: `<rpc>.request` (`receive`: the frames a client sends for a call: REQUEST, and
   DATA / END_OF_STREAM for a streamed request, CLOSE, CREDIT for a streamed response) and
   `<rpc>.response` (`send`: METADATA, RESPONSE or DATA / END_OF_STREAM, ERROR and the rpc's
   declared errors, CREDIT for a streamed request). Connection frames (HELLO, PING, PONG, GOAWAY,
   AUTH, ERROR on id 0) get the pair `connection.receive` / `connection.send`.
2. Every message is one frame (docs/protocol.md, "Frames"), `application/msgpack`: its payload is the
   frame's array, with the rpc's request or response schema in the `data` slot. The envelope's
   parts (ids, metadata, options, codes) are schemas described once, under `components.schemas`.
3. Payload schemas are AsyncAPI's default format (JSON Schema draft 07), converted from the
   document's 2020-12 ones: `prefixItems` become `items` arrays, `$ref`s point into
   `components.schemas`, `discriminator` is the property's name, and formats draft 07 does not
   define travel as `x-format`. `x-msgpack` stays: it says what MessagePack carries (bytes,
   timestamps, 64-bit integers).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, Final
from urllib.parse import urlsplit

from .document import Document, Rpc, ref_name

__all__ = ["generate_asyncapi"]

_CONTENT_TYPE: Final = "application/msgpack"
_DRAFT7_FORMATS: Final = frozenset(
    {
        "date-time", "date", "time", "email", "idn-email", "hostname", "idn-hostname", "ipv4",
        "ipv6", "uri", "uri-reference", "iri", "iri-reference", "uri-template", "json-pointer",
        "relative-json-pointer", "regex",
    }
)  # fmt: skip
_KEY: Final = re.compile(r"[^A-Za-z0-9._-]+")
_SCHEMAS: Final = "#/components/schemas/"
_CODES: Final = [
    "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND", "ALREADY_EXISTS",
    "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE",
    "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED",
]  # fmt: skip

# The envelope, described once (docs/protocol.md, "Frames").
_ENVELOPE: Final[dict[str, Any]] = {
    "swill.CallId": {
        "type": "integer",
        "minimum": 1,
        "maximum": 2**53 - 1,
        "description": "The call's id, chosen by the client; strictly increasing on a connection.",
    },
    "swill.Metadata": {
        "type": ["object", "null"],
        "additionalProperties": True,
        "description": "Metadata: string keys, any values; keys beginning with `swill-` are reserved. "
        "`traceparent` and `tracestate` carry W3C trace context.",
    },
    "swill.Options": {
        "type": ["object", "null"],
        "properties": {
            "timeout": {"type": "integer", "minimum": 0, "description": "The call's deadline, in milliseconds."},
            "window": {"type": "integer", "minimum": 1, "description": "Flow-control window of the response."},
        },
        "description": "Call options; unknown keys are ignored.",
    },
    "swill.Code": {"type": "string", "enum": _CODES, "description": "The canonical gRPC status names."},
    "swill.Reason": {"type": ["string", "null"]},
    "swill.Credit": {"type": "integer", "minimum": 1, "description": "2^31 - 1 or more means unlimited."},
}


def generate_asyncapi(
    document: Mapping[str, Any] | Document, *, title: str | None = None, url: str | None = None
) -> dict[str, Any]:
    """An AsyncAPI 3.0 document (as plain data) for the rpcs of an introspection document.

    Args:
        document: The document, as `swill.introspect` returns it.
        title: The API's title (default "Swill API").
        url: The server's WebSocket URL, for `servers` and the channel's address (default: a
            channel at `/ws` and no servers).
    """
    return _AsyncApi(Document.parse(document), url).build(title or "Swill API")


class _AsyncApi:
    def __init__(self, document: Document, url: str | None) -> None:
        self.document = document
        self.url = urlsplit(url) if url else None
        self.channel: dict[str, Any] = {}  # message key: reference to components.messages
        self.messages: dict[str, Any] = {}
        self.operations: dict[str, Any] = {}

    def build(self, title: str) -> dict[str, Any]:
        self.connection_operations()
        for rpc in self.document.user_rpcs:
            self.rpc_operations(rpc)
        schemas = {_key(name): _draft7(schema) for name, schema in self.document.schemas.items()}
        out: dict[str, Any] = {
            "asyncapi": "3.0.0",
            "info": {
                "title": title,
                "version": (self.document.schema_hash or "0")[:16],
                "description": "Swill RPC over one WebSocket: every message is one MessagePack frame "
                "(see the Swill protocol). Operations come in pairs per rpc: what the server "
                "receives for a call, and what it sends back.",
            },
            "defaultContentType": _CONTENT_TYPE,
        }
        if self.url is not None:
            protocol = "wss" if self.url.scheme in ("wss", "https") else "ws"
            out["servers"] = {"swill": {"host": self.url.netloc, "protocol": protocol}}
        path = self.url.path if self.url is not None and self.url.path else "/ws"
        out["channels"] = {
            "swill": {
                "address": path,
                "title": "Swill endpoint",
                "description": "One WebSocket (subprotocol `swill.v1`) that multiplexes every call.",
                "messages": self.channel,
                "bindings": {"ws": {"method": "GET", "bindingVersion": "0.1.0"}},
            }
        }
        out["operations"] = self.operations
        out["components"] = {"schemas": {**_ENVELOPE, **schemas}, "messages": self.messages}
        return out

    # Messages and operations.

    def message(self, key: str, title: str, summary: str, items: list[Any], required: int) -> dict[str, str]:
        """Add a frame message; returns the reference an operation uses."""
        key = _key(key)
        payload = {
            "type": "array",
            "items": items,
            "minItems": required,
            "maxItems": len(items),
            "additionalItems": False,
        }
        self.messages[key] = {
            "name": key,
            "title": title,
            "summary": summary,
            "contentType": _CONTENT_TYPE,
            "payload": payload,
        }
        self.channel[key] = {"$ref": f"#/components/messages/{key}"}
        return {"$ref": f"#/channels/swill/messages/{key}"}

    def operation(self, key: str, action: str, summary: str, messages: list[dict[str, str]], doc: str | None) -> None:
        operation: dict[str, Any] = {
            "action": action,
            "channel": {"$ref": "#/channels/swill"},
            "summary": summary,
            "messages": messages,
        }
        if doc:
            operation["description"] = doc
        self.operations[_key(key)] = operation

    def connection_operations(self) -> None:
        hello = self.message(
            "swill.HELLO",
            "HELLO",
            "First frame of a connection: the server's settings.",
            [_const(8), _const(0), {"type": "object", "additionalProperties": True}],
            3,
        )
        pong = self.message("swill.PONG", "PONG", "Answers a PING.", [_const(10), _nonce()], 2)
        goaway = self.message(
            "swill.GOAWAY", "GOAWAY", "The server is shutting down.", [_const(11), _const(0), _ref("swill.Reason")], 2
        )
        error = self.message(
            "swill.ERROR.connection",
            "ERROR (connection)",
            "A frame that could not be tied to a call.",
            [_const(5), _const(0), _ref("swill.Code"), {"type": "string"}],
            4,
        )
        ping = self.message("swill.PING", "PING", "Asks for a PONG.", [_const(9), _nonce()], 2)
        auth = self.message(
            "swill.AUTH", "AUTH", "The client's credentials.", [_const(12), _const(0), {"description": "Any value."}], 3
        )
        self.operation("connection.receive", "receive", "Frames about the connection.", [ping, auth], None)
        self.operation("connection.send", "send", "Frames about the connection.", [hello, pong, goaway, error], None)

    def rpc_operations(self, rpc: Rpc) -> None:
        name = rpc.name
        request, response = _draft7(rpc.request), _draft7(rpc.response)
        streamed_request = rpc.request_stream
        incoming = [
            self.message(
                f"{name}.REQUEST",
                f"REQUEST {name}",
                f"Opens a call of `{name}`" + (", with its first message." if streamed_request else "."),
                [_const(0), _ref("swill.CallId"), _const(name), _ref("swill.Metadata"), _ref("swill.Options"), request],
                3 if streamed_request else 6,
            )
        ]
        if streamed_request:
            incoming.append(self.data(name, "request", request))
            incoming.append(
                self.message(
                    f"{name}.END_OF_STREAM.request",
                    f"END_OF_STREAM {name} (request)",
                    "Ends the request stream.",
                    [_const(3), _ref("swill.CallId")],
                    2,
                )
            )
        incoming.append(self.shared("CLOSE", [_const(4), _ref("swill.CallId"), _ref("swill.Reason")], 2, "Cancels."))
        outgoing = [
            self.shared("METADATA", [_const(2), _ref("swill.CallId"), _ref("swill.Metadata")], 3, "Leading metadata.")
        ]
        if rpc.response_stream:
            outgoing.append(self.data(name, "response", response))
            end = [_const(3), _ref("swill.CallId"), _ref("swill.Metadata")]
            outgoing.append(self.shared("END_OF_STREAM", end, 2, "Ends the response stream, with trailing metadata."))
        else:
            outgoing.append(
                self.message(
                    f"{name}.RESPONSE",
                    f"RESPONSE {name}",
                    "The single response, with leading and trailing metadata.",
                    [_const(6), _ref("swill.CallId"), response, _ref("swill.Metadata"), _ref("swill.Metadata")],
                    3,
                )
            )
        error = [_const(5), _ref("swill.CallId"), _ref("swill.Code"), {"type": "string"}, {}, _ref("swill.Metadata")]
        outgoing.append(self.shared("ERROR", error, 4, "Ends the call with an error."))
        outgoing += [self.declared(rpc, e) for e in rpc.errors]
        credit = self.shared("CREDIT", [_const(7), _ref("swill.CallId"), _ref("swill.Credit")], 3, "Grants credit.")
        if rpc.response_stream:
            incoming.append(credit)
        if streamed_request:
            outgoing.append(credit)
        summary, doc = rpc.summary or f"The `{name}` rpc.", rpc.description
        self.operation(f"{name}.request", "receive", f"{summary} (what a client sends)", incoming, doc)
        self.operation(f"{name}.response", "send", f"{summary} (what the server sends back)", outgoing, doc)

    def data(self, name: str, side: str, schema: dict[str, Any]) -> dict[str, str]:
        what = "A message of the request stream." if side == "request" else "A message of the response stream."
        return self.message(
            f"{name}.DATA.{side}", f"DATA {name} ({side})", what, [_const(1), _ref("swill.CallId"), schema], 3
        )

    def shared(self, frame: str, items: list[Any], required: int, summary: str) -> dict[str, str]:
        """A frame whose shape is the same for every rpc, described once."""
        key = f"swill.{frame}"
        if key in self.messages:
            return {"$ref": f"#/channels/swill/messages/{key}"}
        return self.message(key, frame, summary, items, required)

    def declared(self, rpc: Rpc, error: Mapping[str, Any]) -> dict[str, str]:
        data = {
            "type": "object",
            "properties": {"error": _const(error["name"]), "detail": _draft7(error["schema"])},
            "required": ["error", "detail"],
        }
        items = [
            _const(5),
            _ref("swill.CallId"),
            _const(error["code"]),
            {"type": "string"},
            data,
            _ref("swill.Metadata"),
        ]
        doc = error.get("doc") or f"The declared error `{error['name']}`."
        return self.message(f"{rpc.name}.ERROR.{error['name']}", f"{error['name']} ({error['code']})", doc, items, 5)


def _const(value: Any) -> dict[str, Any]:
    return {"const": value}


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": _SCHEMAS + name}


def _nonce() -> dict[str, Any]:
    return {"type": "integer", "minimum": 0}


def _key(name: str) -> str:
    """A name as a key of `components` (letters, digits, `.`, `-`, `_`)."""
    return _KEY.sub("_", name)


def _draft7(schema: Any) -> Any:
    """A 2020-12 schema of the introspection document as AsyncAPI's draft-07 one (rule 3)."""
    if isinstance(schema, list):
        return [_draft7(item) for item in schema]
    if not isinstance(schema, Mapping):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "$ref" and isinstance(value, str):
            out["$ref"] = _SCHEMAS + _key(ref_name(value))
        elif key == "prefixItems":
            out["items"] = _draft7(value)
            if "items" in schema:
                out["additionalItems"] = _draft7(schema["items"])
        elif key == "items" and "prefixItems" in schema:
            continue
        elif key == "discriminator" and isinstance(value, Mapping):
            out["discriminator"] = value.get("propertyName")
        elif key == "format" and value not in _DRAFT7_FORMATS:
            out["x-format"] = value
        elif key in ("default", "examples", "enum", "const"):
            out[key] = value  # values, not schemas
        elif key in ("properties", "$defs", "definitions") and isinstance(value, Mapping):
            out[key] = {name: _draft7(sub) for name, sub in value.items()}
        else:
            out[key] = _draft7(value)
    return out


def dumps(document: dict[str, Any]) -> str:
    """The document as JSON text (AsyncAPI reads JSON and YAML alike)."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
