"""The Origin check that protects against cross-site WebSocket hijacking (PROTOCOL.md section 6):
on by default; a refused origin is accepted and at once closed with 4403 and a reason naming it."""

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
    (["https://app.example.com"], SAME, True),  # same-origin is always accepted: the playground
    ([], None, True),
    ([], SAME, True),
    ([], "http://localhost:{port}", False),
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
        assert origin is not None
        await assert_refused(connect, origin.format(port=server.port))


async def assert_refused(connect: Any, origin: str) -> None:
    """The handshake is accepted (a browser is shown no HTTP status), then closed with 4403 and a
    reason naming the origin and the setting; nothing else comes."""
    async with connect as ws:
        assert ws.subprotocol == "swill.v1"
        with anyio.fail_after(5), pytest.raises(websockets.ConnectionClosed) as info:
            await ws.recv()
    assert info.value.rcvd is not None
    assert info.value.rcvd.code == 4403
    assert origin in info.value.rcvd.reason
    assert "allowed_origins" in info.value.rcvd.reason


def handshake(headers: dict[str, str], subprotocols: list[str] | None = None) -> Connection:
    scope: dict[str, Any] = {
        "type": "websocket",
        "path": "/ws",
        "query_string": b"",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "subprotocols": subprotocols or [],
    }
    return Connection(scope, None)  # type: ignore[arg-type]


def test_the_app_checks_the_handshake_headers() -> None:
    app = swill.Swill(allowed_origins=["https://app.example.com"], introspection=False, playground=False)
    assert app._check_origin(handshake({"host": "api.example.com", "origin": "https://app.example.com"})) is None
    assert app._check_origin(handshake({"host": "api.example.com", "origin": "https://api.example.com"})) is None
    refusal = app._check_origin(handshake({"host": "api.example.com", "origin": "https://evil.example"}))
    assert refusal == "origin https://evil.example is not allowed: add it to Swill(allowed_origins=[...])"
    assert app._check_handshake(handshake({}, ["graphql-ws"])) == "subprotocol swill.v1 not offered"
    assert app._check_handshake(handshake({"origin": "https://evil.example"}, ["swill.v1"])) is None


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
            await assert_refused(
                websockets.connect(
                    live.url,
                    origin=websockets.Origin("https://evil.example"),
                    subprotocols=[websockets.Subprotocol("swill.v1")],
                ),
                "https://evil.example",
            )
            async with websockets.connect(live.url) as ws:
                await RawClient(ws).recv()

        anyio.run(attempt)
    finally:
        live.stop()
    assert ran == ["before_connection", "after_connection"]


def test_local_origins_let_a_dev_server_page_connect_to_localhost() -> None:
    # `swill run --dev`: a page on another port of this machine connects to a loopback Host.
    app = make_app(None)
    app.local_origins = True
    live = LiveServer(app)
    live.start()
    try:

        async def attempt() -> None:
            for origin in ("http://localhost:5173", "http://127.0.0.1:3000", "http://[::1]:8080"):
                async with websockets.connect(live.url, origin=websockets.Origin(origin)) as ws:
                    assert (await RawClient(ws).recv())[0] == 8
            await assert_refused(
                websockets.connect(
                    live.url,
                    origin=websockets.Origin("https://evil.example"),
                    subprotocols=[websockets.Subprotocol("swill.v1")],
                ),
                "https://evil.example",
            )

        anyio.run(attempt)
    finally:
        live.stop()
