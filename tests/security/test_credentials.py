"""Credentials in AUTH frames (PROTOCOL.md section 1b) against a live server, with raw frames."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anyio
import pytest
import websockets

import swill
from tests.conformance.conftest import RawClient
from tests.conftest import LiveServer

app = swill.Swill(__name__, auth_timeout=0.5)
checked: list[tuple[str, Any]] = []
TOKENS = {"t-ada": "ada", "t-ada-2": "ada", "t-bob": "bob", "t-slow-bob": "bob"}
slow = threading.Event()  # what checking "t-slow-bob" waits for (set from the test's thread)


@app.authenticate
def shape(connection: swill.Connection, credentials: Any) -> None:
    checked.append(("shape", credentials))
    if not isinstance(credentials, dict) or not isinstance(credentials.get("token"), str):
        raise swill.Error(swill.Code.UNAUTHENTICATED, "credentials must be {'token': str}")


@app.authenticate
async def token(connection: swill.Connection, credentials: Any) -> None:
    await asyncio.sleep(0)
    if credentials["token"] == "t-slow-bob":
        await asyncio.get_running_loop().run_in_executor(None, slow.wait, 10)
    if credentials["token"] == "t-hang":
        await asyncio.Event().wait()  # a check that never ends (a hung identity provider)
    checked.append(("token", credentials))
    user = TOKENS.get(credentials["token"])
    if user is None:
        raise swill.Error(swill.Code.UNAUTHENTICATED, "unknown token")
    connection.state.user = user


@app.handle()
async def whoami(request: swill.Request[None]) -> list[Any]:
    connection = request.connection
    return [connection.state.user, connection.credentials]


@app.handle()
async def ticks(request: swill.Request[int]) -> AsyncIterator[str]:
    for i in range(request.data):
        await asyncio.sleep(0.01)
        yield f"{i}:{request.connection.credentials['token']}"


plain = swill.Swill(__name__)


@plain.handle()
async def echo(request: swill.Request[Any]) -> Any:
    return request.data


@pytest.fixture(scope="module")
def server() -> Iterator[LiveServer]:
    live = LiveServer(app)
    live.start()
    yield live
    live.stop()


async def connect(url: str) -> AsyncIterator[RawClient]:
    async with websockets.connect(url, subprotocols=[websockets.Subprotocol("swill.v1")]) as ws:
        raw = RawClient(ws)
        assert (await raw.recv())[0] == 8  # HELLO comes at once, credentials or not
        yield raw


@pytest.fixture
async def client(server: LiveServer) -> AsyncIterator[RawClient]:
    async for raw in connect(server.url):
        yield raw


async def closed_with(client: RawClient) -> tuple[int, str]:
    with anyio.fail_after(5):
        with pytest.raises(websockets.ConnectionClosed) as info:
            while True:
                await client.ws.recv()
    close = info.value.rcvd
    assert close is not None
    return close.code, close.reason


async def test_requests_before_auth_wait_for_it_and_run_in_order(client: RawClient) -> None:
    await client.send([0, 1, "whoami", None, None, None], [0, 2, "whoami", None, None, None])
    await client.nothing_for(1)
    await client.send([12, 0, {"token": "t-ada"}])
    assert await client.recv_for(1) == [6, 1, ["ada", {"token": "t-ada"}], None, None]
    assert await client.recv_for(2) == [6, 2, ["ada", {"token": "t-ada"}], None, None]


async def test_auth_first_then_requests_at_once(client: RawClient) -> None:
    await client.send([12, 0, {"token": "t-bob"}], [0, 1, "whoami", None, None, None])
    assert await client.recv_for(1) == [6, 1, ["bob", {"token": "t-bob"}], None, None]


async def test_chain_runs_in_order_and_a_refusal_stops_it(client: RawClient) -> None:
    checked.clear()
    await client.send([12, 0, "not a map"])
    assert await closed_with(client) == (4401, "credentials must be {'token': str}")
    assert checked == [("shape", "not a map")]


async def test_unknown_token_closes_with_4401_and_the_reason(client: RawClient) -> None:
    await client.send([0, 1, "whoami", None, None, None], [12, 0, {"token": "stolen"}])
    assert await closed_with(client) == (4401, "unknown token")


async def test_no_auth_within_auth_timeout_closes_with_4401(client: RawClient) -> None:
    await client.send([0, 1, "whoami", None, None, None])
    assert await closed_with(client) == (4401, "no valid credentials within 0.5 s")


async def test_a_later_auth_replaces_credentials_without_disturbing_calls(client: RawClient) -> None:
    await client.send([12, 0, {"token": "t-ada"}], [0, 1, "ticks", None, None, 6])
    first = await client.recv_for(1)
    assert first == [1, 1, "0:t-ada"]
    await client.send([12, 0, {"token": "t-ada-2"}])
    frames = await client.until_end(1)
    tokens = [frame[2].split(":")[1] for frame in frames if frame[0] == 1]
    assert len(tokens) == 5 and tokens[-1] == "t-ada-2"  # the stream went on, with the new ones
    assert frames[-1][0] == 3
    await client.send([0, 2, "whoami", None, None, None])
    assert await client.recv_for(2) == [6, 2, ["ada", {"token": "t-ada-2"}], None, None]


async def test_calls_after_a_later_auth_wait_for_its_check_while_open_calls_go_on(client: RawClient) -> None:
    await client.send([12, 0, {"token": "t-ada"}], [0, 1, "ticks", None, None, 30])
    assert await client.recv_for(1) == [1, 1, "0:t-ada"]
    slow.clear()
    await client.send([12, 0, {"token": "t-slow-bob"}], [0, 2, "whoami", None, None, None])
    # The check waits on `slow`: the stream goes on meanwhile, the new call waits for the check.
    for _ in range(3):
        frame = await client.recv()
        assert frame[:2] == [1, 1]
    slow.set()
    frames = await client.until_end(2)
    assert frames[-1] == [6, 2, ["bob", {"token": "t-slow-bob"}], None, None]


async def test_a_later_auth_that_fails_closes_with_4401(client: RawClient) -> None:
    await client.send([12, 0, {"token": "t-ada"}], [0, 1, "whoami", None, None, None])
    assert (await client.recv_for(1))[0] == 6
    await client.send([12, 0, {"token": "expired"}])
    assert await closed_with(client) == (4401, "unknown token")


async def test_a_later_auth_whose_check_outlasts_auth_timeout_closes_with_4401(client: RawClient) -> None:
    await client.send([12, 0, {"token": "t-ada"}], [0, 1, "whoami", None, None, None])
    assert (await client.recv_for(1))[0] == 6
    await client.send([12, 0, {"token": "t-hang"}], [0, 2, "whoami", None, None, None])
    frames = []
    with anyio.fail_after(5), pytest.raises(websockets.ConnectionClosed) as info:
        while True:
            frames.append(await client.recv())
    assert frames == []  # the call that waited for the check was never served
    assert info.value.rcvd is not None
    assert (info.value.rcvd.code, info.value.rcvd.reason) == (4401, "no valid credentials within 0.5 s")


async def test_pings_are_answered_while_waiting_for_auth(client: RawClient) -> None:
    await client.send([9, 77])
    assert await client.recv() == [10, 77]


async def test_a_server_without_authenticate_ignores_auth(live_server: Any) -> None:
    server = live_server(plain)
    async for raw in connect(server.url):
        await raw.send([12, 0, {"token": "whatever"}], [0, 1, "echo", None, None, "hi"])
        assert await raw.recv() == [6, 1, "hi", None, None]


async def test_the_python_client_sends_credentials_and_reauthenticates(server: LiveServer) -> None:
    tokens = iter(["t-ada", "t-ada-2"])
    async with swill.Client(server.url, auth=lambda: {"token": next(tokens)}) as client:
        assert await client.call("whoami") == ["ada", {"token": "t-ada"}]
        await client.reauthenticate()
        # The server starts the calls that follow an AUTH once that AUTH passed.
        assert await client.call("whoami") == ["ada", {"token": "t-ada-2"}]


async def test_testclient_takes_auth_too() -> None:
    from swill.testing import TestClient

    async with TestClient(app, auth=lambda: {"token": "t-bob"}) as client:
        assert await client.call("whoami") == ["bob", {"token": "t-bob"}]
    async with TestClient(app, auth=lambda: {"token": "nope"}) as client:
        with pytest.raises(swill.Error) as info:
            await client.call("whoami")
        assert info.value.code is swill.Code.UNAUTHENTICATED and "unknown token" in info.value.message
