"""examples/connections.py: state set in hooks, the set of connections, closing one."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import websockets

from examples import connections

from .conftest import open_raw


@pytest.fixture
def url(serve: Callable[..., str]) -> str:
    return serve(connections.app)


async def test_state_lives_as_long_as_the_connection(url: str) -> None:
    async with open_raw(url + "?name=ada", additional_headers={"User-Agent": "docs-test"}) as client:
        for id in (1, 2):
            await client.send([0, id, "me", None, None, None])
            [[kind, _, me, *_]] = await client.until_end(id)
            assert kind == 6
            assert (me["name"], me["calls"], me["user_agent"]) == ("ada", id, "docs-test")
            assert me["id"] in {c.id for c in connections.app.connections}


async def test_a_connection_without_a_name_is_refused_with_4400(url: str) -> None:
    async with websockets.connect(url) as ws:
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await ws.recv()
    assert closed.value.rcvd is not None
    assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (4400, "add ?name=... to the URL")


async def test_online_and_kick(url: str) -> None:
    async with open_raw(url + "?name=ada") as ada, open_raw(url + "?name=bob") as bob:
        await ada.send([0, 1, "online", None, None, None])
        assert await ada.until_end(1) == [[6, 1, ["ada", "bob"], None, None]]

        await ada.send([0, 2, "kick", None, None, "bob"])
        assert await ada.until_end(2) == [[6, 2, 1, None, None]]
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await bob.recv()
        assert closed.value.rcvd is not None
        assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (4403, "kicked by ada")

        await ada.send([0, 3, "online", None, None, None])
        assert await ada.until_end(3) == [[6, 3, ["ada"], None, None]]
