"""The authentication recipes of examples/hooks_auth.py (docs/security.md) at the edges the docs
tests leave out: which subprotocol the server selects, and state kept per connection."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import websockets

from examples import hooks_auth
from tests.conformance.conftest import RawClient
from tests.conftest import LiveServer


@pytest.fixture(scope="module")
def server() -> Iterator[LiveServer]:
    live = LiveServer(hooks_auth.app)
    live.start()
    yield live
    live.stop()


def offer(*names: str) -> list[websockets.Subprotocol]:
    return [websockets.Subprotocol(name) for name in names]


async def call(ws: websockets.ClientConnection, rpc: str) -> Any:
    client = RawClient(ws)
    assert (await client.recv())[0] == 8
    await client.send([0, 1, rpc, None, None, None])
    return await client.recv()


@pytest.mark.parametrize("offered", [("swill.v1", "bearer.t0k3n-ada"), ("bearer.t0k3n-ada", "swill.v1")])
async def test_a_token_in_a_subprotocol_is_never_selected(server: LiveServer, offered: tuple[str, ...]) -> None:
    # A browser can't set headers on a WebSocket but can offer subprotocols; the server answers
    # with exactly one of them, whatever the order, and never echoes the token.
    async with websockets.connect(server.url, subprotocols=offer(*offered)) as ws:
        assert ws.response is not None
        assert ws.response.headers.get_all("Sec-WebSocket-Protocol") == ["swill.v1"]
        assert await call(ws, "whoami") == [6, 1, "ada", None, None]


async def test_a_token_without_swill_v1_is_refused_before_accept(server: LiveServer) -> None:
    with pytest.raises(websockets.InvalidStatus) as info:
        async with websockets.connect(server.url, subprotocols=offer("bearer.t0k3n-ada")):
            pass
    assert info.value.response.status_code == 403


async def test_state_belongs_to_each_connection(server: LiveServer) -> None:
    async with (
        websockets.connect(f"{server.url}?token=t0k3n-ada", subprotocols=offer("swill.v1")) as ada,
        websockets.connect(f"{server.url}?token=t0k3n-bob", subprotocols=offer("swill.v1")) as bob,
    ):
        assert await call(ada, "admin.users") == [6, 1, ["ada", "bob"], None, None]
        assert (await call(bob, "admin.users"))[:4] == [5, 1, "PERMISSION_DENIED", "admins only"]
