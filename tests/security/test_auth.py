"""Authentication recipes in `before_accept` (docs/security.md): a bearer token in a cookie, in
the query string, or in a second offered subprotocol, and the user kept on `connection.state`."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import websockets
from websockets.exceptions import ConnectionClosedError

import swill
from tests.conformance.conftest import RawClient
from tests.conftest import LiveServer


@dataclass(frozen=True)
class User:
    name: str
    admin: bool = False


TOKENS = {"t0k3n-ada": User("ada", admin=True), "t0k3n-bob": User("bob")}

app = swill.Swill(__name__, introspection=False, playground=False)


def bearer_token(connection: swill.Connection) -> str | None:
    if token := connection.cookies.get("session"):
        return token
    if token := connection.query_params.get("token"):
        return token
    for offered in connection.subprotocols:
        if offered.startswith("bearer."):
            return offered.removeprefix("bearer.")
    return None


@app.before_accept
async def authenticate(connection: swill.Connection) -> None:
    token = bearer_token(connection)
    if token is None:
        raise swill.Error(swill.Code.UNAUTHENTICATED, "log in first")
    user = TOKENS.get(token)
    if user is None:
        raise swill.Error(swill.Code.UNAUTHENTICATED, "invalid or expired token")
    connection.state.user = user


@app.before_request
def admins_only(request: swill.Request[Any]) -> None:
    if request.rpc.startswith("admin.") and not request.connection.state.user.admin:
        raise swill.Error(swill.Code.PERMISSION_DENIED, "admins only")


@app.handle()
async def whoami(request: swill.Request[None]) -> str:
    user: User = request.connection.state.user
    return user.name


admin = swill.Router(prefix="admin")


@admin.handle()
async def users(request: swill.Request[None]) -> list[str]:
    return sorted(user.name for user in TOKENS.values())


app.include_router(admin)


@pytest.fixture(scope="module")
def server() -> Iterator[LiveServer]:
    live = LiveServer(app)
    live.start()
    yield live
    live.stop()


V1 = websockets.Subprotocol("swill.v1")


async def call(ws: websockets.ClientConnection, rpc: str) -> Any:
    client = RawClient(ws)
    assert (await client.recv())[0] == 8
    await client.send([0, 1, rpc, None, None, None])
    return await client.recv()


async def test_token_in_a_cookie(server: LiveServer) -> None:
    async with websockets.connect(
        server.url, subprotocols=[V1], additional_headers={"Cookie": "session=t0k3n-ada"}
    ) as ws:
        assert await call(ws, "whoami") == [6, 1, "ada", None, None]


async def test_token_in_the_query_string(server: LiveServer) -> None:
    async with websockets.connect(f"{server.url}?token=t0k3n-bob", subprotocols=[V1]) as ws:
        assert await call(ws, "whoami") == [6, 1, "bob", None, None]


@pytest.mark.parametrize("offered", [["swill.v1", "bearer.t0k3n-ada"], ["bearer.t0k3n-ada", "swill.v1"]])
async def test_token_in_a_second_subprotocol_and_only_swill_v1_is_selected(
    server: LiveServer, offered: list[str]
) -> None:
    # A browser can't set headers on a WebSocket, but it can offer subprotocols; the server must
    # select one it was offered, and never the token.
    async with websockets.connect(server.url, subprotocols=[websockets.Subprotocol(p) for p in offered]) as ws:
        assert ws.subprotocol == "swill.v1"
        assert ws.response is not None
        assert ws.response.headers.get_all("Sec-WebSocket-Protocol") == ["swill.v1"]
        assert await call(ws, "whoami") == [6, 1, "ada", None, None]


async def test_a_token_without_swill_v1_is_refused_before_accept(server: LiveServer) -> None:
    with pytest.raises(websockets.InvalidStatus) as info:
        async with websockets.connect(server.url, subprotocols=[websockets.Subprotocol("bearer.t0k3n-ada")]):
            pass
    assert info.value.response.status_code == 403


@pytest.mark.parametrize(("query", "reason"), [("", "log in first"), ("?token=nope", "invalid or expired token")])
async def test_no_or_a_bad_token_closes_with_4401(server: LiveServer, query: str, reason: str) -> None:
    async with websockets.connect(f"{server.url}{query}", subprotocols=[V1]) as ws:
        with pytest.raises(ConnectionClosedError) as info:
            await ws.recv()
    assert info.value.rcvd is not None
    assert (info.value.rcvd.code, info.value.rcvd.reason) == (4401, reason)


async def test_state_is_per_connection_and_authorizes_calls(server: LiveServer) -> None:
    async with (
        websockets.connect(f"{server.url}?token=t0k3n-ada", subprotocols=[V1]) as ada,
        websockets.connect(f"{server.url}?token=t0k3n-bob", subprotocols=[V1]) as bob,
    ):
        assert await call(ada, "admin.users") == [6, 1, ["ada", "bob"], None, None]
        assert (await call(bob, "admin.users"))[:4] == [5, 1, "PERMISSION_DENIED", "admins only"]
