"""Connection hooks, refusals as a browser-like client sees them, and the `Connection` object
(DESIGN.md "Lifecycle hook chains", PROTOCOL.md section 6)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import pytest
import websockets
from websockets.exceptions import ConnectionClosedError

from tests.conformance.conftest import RawClient
from tests.conftest import LiveServer

from .app import recorder
from .conftest import session

CONNECTION = ["before_connection", "before_accept"]


def chains(key: str) -> list[tuple[str, str]]:
    return [(chain, layer) for call, chain, layer, _ in recorder.records(key) if call == 0]


async def closed_connection(key: str) -> list[tuple[str, str]]:
    await recorder.wait_for(key, "after_connection", "app.async")
    return chains(key)


async def test_connection_hooks_run_in_order_and_after_connection_at_the_end(server: LiveServer) -> None:
    async with session(server) as s:
        await s.client.send([0, 1, "plain", None, None, 1])
        assert await s.client.recv() == [6, 1, 1, None, None]
        assert chains(s.key) == [(chain, layer) for chain in CONNECTION for layer in ("app.sync", "app.async")]
    assert (await closed_connection(s.key))[-2:] == [
        ("after_connection", "app.sync"),
        ("after_connection", "app.async"),
    ]
    details = {chain: detail for call, chain, _, detail in recorder.records(s.key) if call == 0}
    # One connection throughout, out of `app.connections` by the time after_connection runs.
    assert len({id for id, _ in details.values()}) == 1
    assert not details["after_connection"][1]


async def test_the_connection_object(server: LiveServer) -> None:
    query = urlencode({"t": "info", "x": "1"})
    headers = {"X-Test": "yes", "Cookie": "session=abc; theme=dark"}
    async with (
        websockets.connect(f"{server.url}?{query}", additional_headers=headers) as first,
        websockets.connect(f"{server.url}?t=info2") as second,
    ):
        infos = []
        for ws in (first, second):
            client = RawClient(ws)
            await client.recv()  # HELLO
            await client.send([0, 1, "connection_info", None, None, None])
            infos.append((await client.recv())[2])
    info, other = infos
    assert info["id"] != other["id"]
    assert info == {
        "id": info["id"],
        "key": "info",
        "header": "yes",
        "cookies": {"session": "abc", "theme": "dark"},
        "client": ["127.0.0.1", info["client"][1]],
        "scope_type": "websocket",
        "accepted_by": "app.async",  # state set by the last before_accept hook
        "open": True,
    }
    hooked_ids = {detail[0] for call, _, _, detail in recorder.records("info") if call == 0}
    assert hooked_ids == {info["id"]}  # request.connection is the connection the hooks got


REFUSALS = [
    ("UNAUTHENTICATED", 4401),
    ("PERMISSION_DENIED", 4403),
    ("RESOURCE_EXHAUSTED", 4429),
    ("INVALID_ARGUMENT", 4400),
    ("FAILED_PRECONDITION", 4400),
    ("INTERNAL", 4400),
]


async def refused(server: LiveServer, **query: Any) -> tuple[str, ConnectionClosedError, str | None]:
    """Connect as a browser would (offering swill.v1) and return the close that ends it."""
    key = f"refused-{id(query)}-{sorted(query.items())}"
    url = f"{server.url}?{urlencode({'t': key, **query})}"
    async with websockets.connect(url, subprotocols=[websockets.Subprotocol("swill.v1")]) as ws:
        subprotocol = ws.subprotocol
        with pytest.raises(ConnectionClosedError) as info:
            await ws.recv()  # no HELLO: the close comes first
    return key, info.value, subprotocol


@pytest.mark.parametrize(("code", "close_code"), REFUSALS)
@pytest.mark.parametrize("hook", ["app.sync.before_connection", "app.async.before_accept"])
async def test_a_refusing_hook_accepts_then_closes_with_4000_plus_status(
    server: LiveServer, hook: str, code: str, close_code: int
) -> None:
    key, closed, subprotocol = await refused(server, refuse=hook, code=code, message="go away")
    assert subprotocol == "swill.v1"
    assert closed.rcvd is not None
    assert (closed.rcvd.code, closed.rcvd.reason) == (close_code, "go away")
    ran = await closed_connection(key)
    # The refusing hook is the last of the before_* hooks to run; after_connection runs anyway.
    before = [f"{layer}.{chain}" for chain, layer in ran if chain != "after_connection"]
    assert before[-1] == hook
    assert ran[-2:] == [("after_connection", "app.sync"), ("after_connection", "app.async")]


async def test_a_crashing_connection_hook_closes_with_4400_and_is_logged(
    server: LiveServer, caplog: pytest.LogCaptureFixture
) -> None:
    key, closed, _ = await refused(server, crash="app.async.before_connection")
    assert closed.rcvd is not None
    assert (closed.rcvd.code, closed.rcvd.reason) == (4400, "internal error")
    assert "before_accept" not in [chain for chain, _ in await closed_connection(key)]
    assert any(r.exc_info and "crash in app.async.before_connection" in str(r.exc_info[1]) for r in caplog.records)


async def test_a_long_reason_is_cut_to_fit_a_close_frame(server: LiveServer) -> None:
    # A close frame's reason holds at most 123 bytes of UTF-8.
    message = "é" * 100 + " and more"
    key, closed, _ = await refused(server, refuse="app.sync.before_accept", code="UNAUTHENTICATED", message=message)
    assert closed.rcvd is not None
    assert closed.rcvd.code == 4401
    reason = closed.rcvd.reason
    assert len(reason.encode()) <= 123 and message.startswith(reason) and reason
    await closed_connection(key)


async def test_a_long_reason_given_to_close_is_cut_too(server: LiveServer) -> None:
    reason = "ü" * 80
    async with session(server, handler="close", reason=reason) as s:
        await s.client.send([0, 1, "outer.inner.unary", None, None, 1])
        with pytest.raises(ConnectionClosedError) as info:
            await s.client.recv()
    assert info.value.rcvd is not None
    assert (info.value.rcvd.code, info.value.rcvd.reason) == (4000, "ü" * 61)
    await closed_connection(s.key)


@pytest.mark.parametrize("failing", ["crash", "refuse"])
async def test_every_after_connection_hook_runs_even_if_one_fails(
    server: LiveServer, caplog: pytest.LogCaptureFixture, failing: str
) -> None:
    async with session(server, **{failing: "app.sync.after_connection"}) as s:
        pass
    assert (await closed_connection(s.key))[-2:] == [
        ("after_connection", "app.sync"),
        ("after_connection", "app.async"),
    ]
    assert any(r.name == "swill" and "after_connection hook" in r.getMessage() for r in caplog.records)
