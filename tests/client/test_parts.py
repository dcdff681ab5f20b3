"""The client's parts on their own: backoff, close codes, decoders, options, the ASGI transport."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import msgspec
import pytest

import swill
from swill.client import ASGITransport, Client, TransportError, retry_delay
from swill.client._call import decoder_for
from swill.client._connection import close_error

from .app import Point, make_app


def test_retry_delay_grows_with_jitter_up_to_a_maximum() -> None:
    assert retry_delay(0) == 0
    for attempt, base in [(1, 0.1), (2, 0.2), (3, 0.4)]:
        assert base / 2 <= retry_delay(attempt) <= base
    assert 2.5 <= retry_delay(50, 0.1, 5.0) <= 5.0


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (4401, swill.Code.UNAUTHENTICATED),
        (4403, swill.Code.PERMISSION_DENIED),
        (4429, swill.Code.RESOURCE_EXHAUSTED),
        (4404, swill.Code.FAILED_PRECONDITION),
        (4400, swill.Code.FAILED_PRECONDITION),
        (4499, swill.Code.FAILED_PRECONDITION),
        (1006, swill.Code.UNAVAILABLE),
        (1001, swill.Code.UNAVAILABLE),
        (1012, swill.Code.UNAVAILABLE),
    ],
)
def test_close_codes(code: int, expected: swill.Code) -> None:
    error = close_error(code, "why")
    assert error.code is expected
    assert error.data == {"close_code": code}


def test_close_messages() -> None:
    assert close_error(1006, "").message == "the connection was lost"
    assert close_error(1001, "bye").message == "the connection closed (code 1001, bye)"
    assert close_error(4401, "").message == "the server refused the connection (close code 4401)"
    assert close_error(4403, "origin refused").message == "origin refused"  # the reason as the server sent it


def test_decoders_are_built_once_per_type() -> None:
    assert decoder_for(Point) is decoder_for(Point)
    unhashable = Annotated[int, {"note": "a dict makes the alias unhashable"}]
    assert decoder_for(unhashable)(msgspec.Raw(msgspec.msgpack.encode(3))) == 3
    assert decoder_for(Point)(msgspec.Raw(msgspec.msgpack.encode({"x": 1, "y": 2}))) == Point(1, 2)
    assert decoder_for(None)(msgspec.Raw(msgspec.msgpack.encode([1, "a"]))) == [1, "a"]


@pytest.mark.parametrize("window", [0, -1, True, 1.5])
def test_window_must_be_a_positive_int(window: Any) -> None:
    with pytest.raises(ValueError, match="window"):
        Client("ws://127.0.0.1:1/ws", window=window)


def test_a_client_belongs_to_one_event_loop() -> None:
    client = Client("ws://127.0.0.1:1/ws", connect_timeout=1)

    async def call() -> None:
        await client.call("add", (1, 2))

    with pytest.raises(swill.Error):
        asyncio.run(call())
    with pytest.raises(RuntimeError, match="event loop"):
        asyncio.run(call())


async def test_asgi_transport_scope() -> None:
    seen: list[dict[str, Any]] = []
    app = make_app()

    async def recording(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "websocket":
            seen.append(scope)
        await app(scope, receive, send)

    transport = ASGITransport(recording, client=("10.0.0.1", 1234))
    async with Client("wss://api.example:8443/ws?token=t", transport=transport, headers={"X-A": "b"}) as client:
        assert await client.call("add", (1, 2)) == 3
    [scope] = seen
    assert scope["scheme"] == "wss"
    assert scope["server"] == ("api.example", 8443)
    assert scope["client"] == ("10.0.0.1", 1234)
    assert scope["path"] == "/ws"
    assert scope["query_string"] == b"token=t"
    assert (b"x-a", b"b") in scope["headers"]
    assert (b"host", b"api.example:8443") in scope["headers"]
    assert scope["subprotocols"] == ["swill.v1"]


async def test_asgi_transport_refuses_other_schemes() -> None:
    with pytest.raises(TransportError):
        await ASGITransport(make_app()).connect("http://x/ws", subprotocols=[], headers={}, max_size=None)
