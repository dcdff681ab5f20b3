"""An app whose every hook records what it saw and does what the connection's query string asks.

Each test connects with `?t=<key>` and reads back only its own records, so one server serves the
whole module. The query string also steers the hooks and handlers:

- `refuse=<hook>`: that hook raises `swill.Error` with metadata `{"by": hook}`; its code is
  `code=` (default `PERMISSION_DENIED`), its message `message=` (default `refused by <hook>`).
- `crash=<hook>`: it raises `RuntimeError` (unmapped: `INTERNAL`).
- `lookup=<hook>`: it raises `KeyError`, which the app's exception handler maps to `NOT_FOUND`.
- `replace=<hook>` (repeatable, or `all`): it returns a replacement that shows who made it.
- `handler=error|crash|lookup|hang|close`: what a handler does after its normal work.
- `hold=1`: the last after_request hook waits until the test says it got the call's last frame.

A hook is named `<layer>.<chain>`, e.g. `outer.before_request`. The layers run in this order for
a handler of the innermost router: `app.sync`, `app.async` (the app's two hooks, one of each
kind), `outer` (a router), `inner` (a router inside `outer`). The routers' hooks are registered
first, and the routers included before any hook exists, to show that order does not matter.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio
import anyio.lowlevel
import msgspec

import swill
from swill._hooks import CONNECTION_HOOKS, REQUEST_HOOKS

__all__ = ["LAYERS", "Recorder", "app", "recorder"]

LAYERS = ("app.sync", "app.async", "outer", "inner")
_DIGITS = {layer: index + 1 for index, layer in enumerate(LAYERS)}
_LETTERS = {"app.sync": "s", "app.async": "a", "outer": "o", "inner": "i"}


class Recorder:
    """Records `(call id, chain, layer, detail)` per test key; tests wait on it from their loop."""

    def __init__(self) -> None:
        self._records: dict[str, list[tuple[int, str, str, Any]]] = {}
        self._changed = threading.Condition()
        self.received: dict[str, threading.Event] = {}

    def add(self, key: str, call: int, chain: str, layer: str, detail: Any = None) -> None:
        with self._changed:
            self._records.setdefault(key, []).append((call, chain, layer, detail))
            self._changed.notify_all()

    def records(self, key: str, call: int | None = None) -> list[tuple[int, str, str, Any]]:
        with self._changed:
            return [r for r in self._records.get(key, []) if call is None or r[0] == call]

    async def wait(self, key: str, predicate: Callable[[list[tuple[int, str, str, Any]]], bool]) -> None:
        def until() -> bool:
            with self._changed:
                return self._changed.wait_for(lambda: predicate(self._records.get(key, [])), timeout=5)

        if not await anyio.to_thread.run_sync(until):
            raise TimeoutError(f"records of {key} never matched: {self.records(key)}")

    async def wait_for(self, key: str, chain: str, layer: str, call: int | None = None) -> None:
        """Wait until hook `layer.chain` recorded (for call `call`, when given)."""
        await self.wait(key, lambda records: any(r[1:3] == (chain, layer) and call in (None, r[0]) for r in records))

    def hold(self, key: str) -> threading.Event:
        with self._changed:
            return self.received.setdefault(key, threading.Event())


recorder = Recorder()


def _key(connection: swill.Connection) -> str:
    return connection.query_params.get("t", "")


def _asks(connection: swill.Connection, what: str, name: str) -> bool:
    wanted = connection.query_params.getlist(what)
    return name in wanted or "all" in wanted


def _plain(value: Any) -> Any:
    if isinstance(value, (bytes, msgspec.Raw)):
        return msgspec.msgpack.decode(value)
    return value


def _replacement(chain: str, layer: str, value: Any) -> Any:
    """What a hook returns when asked to replace: it appends its layer's digit or letter."""
    if chain == "before_request_data":
        new = _plain(value) * 10 + _DIGITS[layer]
        # Each layer returns another of the forms the chain accepts.
        return {
            "app.sync": msgspec.msgpack.encode(new),
            "app.async": new,
            "outer": msgspec.Raw(msgspec.msgpack.encode(new)),
            "inner": new,
        }[layer]
    if chain in ("before_request_message", "before_response_message"):
        return value * 10 + _DIGITS[layer]
    return {**value, "order": value.get("order", "") + _LETTERS[layer]}


def _act(connection: swill.Connection, name: str) -> None:
    if _asks(connection, "refuse", name):
        code = swill.Code(connection.query_params.get("code", "PERMISSION_DENIED"))
        message = connection.query_params.get("message", f"refused by {name}")
        raise swill.Error(code, message, metadata={"by": name})
    if _asks(connection, "crash", name):
        raise RuntimeError(f"crash in {name}")
    if _asks(connection, "lookup", name):
        raise KeyError(name)


def _request_hook(chain: str, layer: str) -> Callable[..., Any]:
    name = f"{layer}.{chain}"

    def hook(request: swill.Request[Any], *args: Any) -> Any:
        connection = request.connection
        key = _key(connection)
        if chain == "before_request":
            detail: Any = request.rpc
        elif chain == "after_request":
            error: swill.Error | None = args[0]
            detail = (None if error is None else error.code.value, request.cancelled)
        else:
            detail = _plain(args[0])
        recorder.add(key, request.id, chain, layer, detail)
        _act(connection, name)
        if args and chain != "after_request" and _asks(connection, "replace", name):
            return _replacement(chain, layer, args[0])
        return None

    if layer != "app.async":
        return hook

    async def async_hook(request: swill.Request[Any], *args: Any) -> Any:
        await anyio.lowlevel.checkpoint()
        result = hook(request, *args)
        if chain == "after_request" and request.connection.query_params.get("hold"):
            held = recorder.hold(_key(request.connection))
            await anyio.to_thread.run_sync(held.wait, 5)
            recorder.add(_key(request.connection), request.id, "held", layer, held.is_set())
        return result

    return async_hook


def _connection_hook(chain: str, layer: str) -> Callable[..., Any]:
    name = f"{layer}.{chain}"

    def hook(connection: swill.Connection) -> None:
        recorder.add(_key(connection), 0, chain, layer, (connection.id, connection in app.connections))
        _act(connection, name)
        if chain == "before_accept":
            connection.state.accepted_by = layer

    if layer == "app.sync":
        return hook

    async def async_hook(connection: swill.Connection) -> None:
        await anyio.lowlevel.checkpoint()
        hook(connection)

    return async_hook


app = swill.Swill(__name__, client_window=4)
outer = swill.Router(prefix="outer")
inner = swill.Router(prefix="inner")
app.include_router(outer)
outer.include_router(inner)

for _chain in REQUEST_HOOKS:
    getattr(inner, _chain)(_request_hook(_chain, "inner"))
    getattr(outer, _chain)(_request_hook(_chain, "outer"))
    getattr(app, _chain)(_request_hook(_chain, "app.sync"))
    getattr(app, _chain)(_request_hook(_chain, "app.async"))
for _chain in CONNECTION_HOOKS:
    getattr(app, _chain)(_connection_hook(_chain, "app.sync"))
    getattr(app, _chain)(_connection_hook(_chain, "app.async"))


@app.exception_handler(LookupError)
def not_found(request: swill.Request[Any], exc: LookupError) -> swill.Error:
    return swill.Error(swill.Code.NOT_FOUND, f"not found: {exc}")


async def _started(request: swill.Request[Any] | swill.StreamingRequest[Any]) -> None:
    recorder.add(_key(request.connection), request.id, "handler", "", request.metadata)


async def _finish(request: swill.Request[Any] | swill.StreamingRequest[Any]) -> None:
    """What the handler does after its normal work, as the query string asks."""
    what = request.connection.query_params.get("handler")
    if what == "error":
        raise swill.Error(swill.Code.ABORTED, "handler error", metadata={"e": 1})
    if what == "crash":
        raise RuntimeError("handler crash")
    if what == "lookup":
        raise KeyError("thing")
    if what == "hang":
        await anyio.sleep_forever()
    if what == "close":
        await request.connection.close(4000, request.connection.query_params.get("reason", "closed by the handler"))
        await anyio.sleep_forever()


@inner.handle()
async def unary(request: swill.Request[int], response: swill.Response) -> int:
    await _started(request)
    response.leading_metadata["kind"] = "unary"
    response.trailing_metadata["done"] = True
    await _finish(request)
    return request.data + 1


@inner.handle()
async def server_stream(request: swill.Request[int], response: swill.Response) -> AsyncIterator[int]:
    await _started(request)
    response.leading_metadata["kind"] = "server_stream"
    yield request.data
    yield request.data + 1
    response.trailing_metadata["done"] = True
    await _finish(request)


@inner.handle()
async def client_stream(request: swill.StreamingRequest[int]) -> int:
    await _started(request)
    total = 0
    async for value in request:
        total += value
    await _finish(request)
    return total


@inner.handle()
async def bidi(request: swill.StreamingRequest[int]) -> AsyncIterator[int]:
    await _started(request)
    async for value in request:
        yield value + 1
    await _finish(request)


@outer.handle(name="only")
async def outer_only(request: swill.Request[int]) -> int:
    await _started(request)
    return request.data


@app.handle()
async def plain(request: swill.Request[int]) -> int:
    await _started(request)
    return request.data


@app.handle()
async def connection_info(request: swill.Request[None]) -> dict[str, Any]:
    connection = request.connection
    client = connection.client
    return {
        "id": connection.id,
        "key": connection.query_params.get("t"),
        "header": connection.headers.get("x-test"),
        "cookies": connection.cookies,
        "client": None if client is None else [client.host, client.port],
        "scope_type": connection.scope["type"],
        "accepted_by": connection.state.accepted_by,
        "open": connection in app.connections,
    }
