"""The Origin check that protects against cross-site WebSocket hijacking (PROTOCOL.md section 6):
refused before accept with HTTP 403, on by default."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anyio
import pytest
import websockets

import swill
from swill._connection import Connection
from tests.conformance.conftest import RawClient
from tests.conftest import LiveServer

SAME = "http://127.0.0.1:{port}"

# (allowed_origins, Origin header or None, accepted); "{port}" is the server's port.
MATRIX: list[tuple[list[str] | None, str | None, bool]] = [
    (None, None, True),
    (None, SAME, True),
    (None, "https://127.0.0.1:{port}", True),  # same host and port behind a TLS proxy
    (None, "http://127.0.0.1:1", False),  # another port is another origin
    (None, "http://localhost:{port}", False),  # the same machine, but not the Host it asked for
    (None, "https://evil.example", False),
    (None, "null", False),  # sandboxed frames and file:// pages
    (["https://app.example.com"], None, True),  # not a browser: no Origin to check
    (["https://app.example.com"], "https://app.example.com", True),
    (["https://app.example.com"], "http://app.example.com", False),
    (["https://app.example.com"], "https://app.example.com.evil.example", False),
    (["https://app.example.com"], SAME, False),  # a list replaces the same-origin rule
    ([], None, True),
    ([], SAME, False),
    (["*"], None, True),
    (["*"], "https://evil.example", True),
    (["*"], "null", True),
]


def make_app(allowed_origins: list[str] | None) -> swill.Swill:
    app = swill.Swill(allowed_origins=allowed_origins, introspection=False, playground=False)

    @app.handle()
    async def ping(request: swill.Request[None]) -> str:
        return "pong"

    return app


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[str, LiveServer]]:
    started: dict[str, LiveServer] = {}
    for allowed in (None, ["https://app.example.com"], [], ["*"]):
        live = LiveServer(make_app(allowed))
        live.start()
        started[repr(allowed)] = live
    yield started
    for live in started.values():
        live.stop()


@pytest.mark.parametrize(("allowed", "origin", "accepted"), MATRIX, ids=[f"{a}-{o}" for a, o, _ in MATRIX])
async def test_origin_matrix_as_a_browser_sees_it(
    servers: dict[str, LiveServer], allowed: list[str] | None, origin: str | None, accepted: bool
) -> None:
    server = servers[repr(allowed)]
    header = None if origin is None else websockets.Origin(origin.format(port=server.port))
    connect = websockets.connect(server.url, origin=header, subprotocols=[websockets.Subprotocol("swill.v1")])
    if accepted:
        async with connect as ws:
            client = RawClient(ws)
            assert (await client.recv())[0] == 8
            await client.send([0, 1, "ping", None, None, None])
            assert await client.recv() == [6, 1, "pong", None, None]
    else:
        with pytest.raises(websockets.InvalidStatus) as info:
            async with connect:
                pass
        assert info.value.response.status_code == 403


def handshake(headers: dict[str, str], subprotocols: list[str] | None = None) -> Connection:
    scope: dict[str, Any] = {
        "type": "websocket",
        "path": "/ws",
        "query_string": b"",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "subprotocols": subprotocols or [],
    }
    return Connection(scope, None)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("host", "origin", "accepted"),
    [
        ("app.example.com", "https://app.example.com", True),
        ("App.Example.com", "https://app.example.com", True),  # host names are case-insensitive
        ("app.example.com:8443", "https://app.example.com:8443", True),
        ("app.example.com", "https://app.example.com:8443", False),
        ("app.example.com", "ftp://app.example.com", False),
        ("app.example.com", "https://other.example.com", False),
        (None, "https://app.example.com", False),  # no Host: nothing to be the same as
    ],
)
def test_same_origin_is_decided_by_the_host_header(host: str | None, origin: str, accepted: bool) -> None:
    app = swill.Swill(introspection=False, playground=False)
    headers = {"origin": origin} if host is None else {"host": host, "origin": origin}
    refusal = app.check_handshake(handshake(headers))
    assert (refusal is None) == accepted
    if not accepted:
        assert refusal == f"origin {origin!r} is not allowed"


def test_a_refused_origin_runs_no_connection_hook() -> None:
    # Refused before the hooks: after_connection runs only for connections whose
    # before_connection chain started.
    app = make_app(None)
    ran: list[str] = []
    app.before_connection(lambda connection: ran.append("before_connection"))
    app.after_connection(lambda connection: ran.append("after_connection"))
    live = LiveServer(app)
    live.start()
    try:

        async def attempt() -> None:
            with pytest.raises(websockets.InvalidStatus):
                async with websockets.connect(live.url, origin=websockets.Origin("https://evil.example")):
                    pass
            async with websockets.connect(live.url) as ws:
                await RawClient(ws).recv()

        anyio.run(attempt)
    finally:
        live.stop()
    assert ran == ["before_connection", "after_connection"]
