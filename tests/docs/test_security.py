"""examples/hooks_auth.py: the three ways to pass a token, the refusals, and the Origin check."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable
from typing import Any

import anyio
import pytest
import websockets

import swill
from examples import hooks_auth
from swill.client import Client
from tests.conftest import decode

from .conftest import open_raw, run_python_block


@pytest.fixture
def url(serve: Callable[..., str]) -> str:
    return serve(hooks_auth.app)


async def whoami(url: str, **kwargs: Any) -> str:
    async with open_raw(url, **kwargs) as client:
        await client.send([0, 1, "whoami", None, None, None])
        [[kind, _, name, *_]] = await client.until_end(1)
        assert kind == 6
        assert client.ws.subprotocol == "swill.v1"
        return str(name)


async def test_token_in_a_cookie(url: str) -> None:
    assert await whoami(url, additional_headers={"Cookie": "session=t0k3n-ada"}) == "ada"


async def test_token_in_the_query_string(url: str) -> None:
    assert await whoami(url + "?token=t0k3n-bob") == "bob"


async def test_token_in_a_second_subprotocol_which_is_not_selected(url: str) -> None:
    assert await whoami(url, subprotocols=["swill.v1", "bearer.t0k3n-ada"]) == "ada"


@pytest.mark.parametrize(
    ("suffix", "reason"),
    [("", "log in first"), ("?token=nope", "invalid or expired token")],
)
async def test_no_or_bad_token_closes_with_4401(url: str, suffix: str, reason: str) -> None:
    async with websockets.connect(url + suffix, subprotocols=[websockets.Subprotocol("swill.v1")]) as ws:
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await ws.recv()
    assert closed.value.rcvd is not None
    assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (4401, reason)


async def test_before_request_checks_the_user_on_connection_state(url: str) -> None:
    async with open_raw(url + "?token=t0k3n-bob") as client:
        await client.send([0, 1, "admin.users", None, None, None])
        assert await client.until_end(1) == [[5, 1, "PERMISSION_DENIED", "admins only", None, None]]
    async with open_raw(url + "?token=t0k3n-ada") as client:
        await client.send([0, 1, "admin.users", None, None, None])
        assert await client.until_end(1) == [[6, 1, ["ada", "bob"], None, None]]


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [
        (None, True),
        ("https://app.example.com", True),
        ("https://evil.example.com", False),
        ("http://app.example.com", False),
        ("https://app.example.com:8443", False),
    ],
)
async def test_origin(url: str, origin: str | None, allowed: bool) -> None:
    connect = websockets.connect(
        url + "?token=t0k3n-ada",
        subprotocols=[websockets.Subprotocol("swill.v1")],
        origin=None if origin is None else websockets.Origin(origin),
    )
    if allowed:
        async with connect as ws:
            assert decode(await ws.recv())[0] == 8
    else:
        assert origin is not None
        await assert_refused(connect, origin)


async def assert_refused(connect: Any, origin: str) -> None:
    """Accepted, then closed with 4403 and a reason naming the origin (docs/security.md)."""
    async with connect as ws:
        with anyio.fail_after(5), pytest.raises(websockets.ConnectionClosed) as info:
            await ws.recv()
    assert info.value.rcvd is not None
    assert info.value.rcvd.code == 4403
    assert f"origin {origin} is not allowed" in info.value.rcvd.reason


async def test_default_allows_same_origin_only(serve: Callable[..., str]) -> None:
    url = serve(swill.Swill())
    host = url.removeprefix("ws://").split("/")[0]
    async with websockets.connect(url, origin=websockets.Origin(f"http://{host}")) as ws:
        assert decode(await ws.recv())[0] == 8
    await assert_refused(
        websockets.connect(url, origin=websockets.Origin("http://other.example.com")), "http://other.example.com"
    )


async def test_a_client_offering_other_subprotocols_only_is_refused(url: str) -> None:
    with pytest.raises(websockets.InvalidStatus) as refused:
        offered = [websockets.Subprotocol("bearer.t0k3n-ada")]
        async with websockets.connect(url + "?token=t0k3n-ada", subprotocols=offered):
            pass
    assert refused.value.response.status_code == 403


async def test_token_in_a_header_with_the_python_client(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(swill, "Client", Client, raising=False)  # until swill exports it
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        replace = {"wss://api.example.com/ws": url}
        names = {"swill": swill, "token": "t0k3n-bob"}
        await run_python_block("security.md", 'headers={"Authorization"', replace=replace, **names)
    assert printed.getvalue() == "bob\n"
