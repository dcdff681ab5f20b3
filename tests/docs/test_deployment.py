"""examples/deployment.py: the draining uvicorn server, and the two message size limits."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import websockets

import swill
from examples import deployment
from tests.conftest import LiveServer, decode, encode

from .conftest import LogWatch, open_raw


@pytest.fixture
def draining() -> Iterator[LiveServer]:
    live = LiveServer(deployment.app)
    live.server = deployment.DrainingServer(live.config)
    live.start()
    yield live
    live.stop()


async def test_shutdown_drains(draining: LiveServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(deployment.app, "drain_grace", 0.5)
    async with open_raw(draining.url) as client:
        await client.send([0, 1, "ticks", None, None, 0.01])  # finishes within the grace
        await client.send([0, 2, "ticks", None, None, 3600.0])  # does not
        assert await client.recv_for(2, credit=False) == [1, 2, 0]
        draining.server.should_exit = True  # what SIGTERM does

        assert await client.recv_for(0) == [11, 0, "server shutting down"]
        await client.send([0, 3, "ticks", None, None, 0.01])
        assert (await client.until_end(3))[0][:3] == [5, 3, "UNAVAILABLE"]
        assert await client.until_end(1) == [[1, 1, i] for i in range(10)] + [[3, 1, None]]
        assert (await client.until_end(2))[-1][:3] == [5, 2, "UNAVAILABLE"]
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await client.ws.recv()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001
    draining.thread.join(10)
    assert not draining.thread.is_alive()


async def test_plain_uvicorn_closes_with_1012(live_server: Callable[..., LiveServer]) -> None:
    server = live_server(deployment.app)
    async with open_raw(server.url) as client:
        await client.send([0, 1, "ticks", None, None, 3600.0])
        assert await client.recv_for(1, credit=False) == [1, 1, 0]
        server.server.should_exit = True
        with pytest.raises(websockets.ConnectionClosed) as closed:
            while True:
                await client.ws.recv()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1012


async def test_max_message_size_fails_a_call_ws_max_size_closes_the_connection(
    live_server: Callable[..., LiveServer],
) -> None:
    app = swill.Swill(max_message_size=1000)

    @app.handle()
    async def size(request: swill.Request[bytes]) -> int:
        return len(request.data)

    server = live_server(app, ws_max_size=2000)
    async with open_raw(server.url) as client:
        await client.send([0, 1, "size", None, None, b"x" * 900])
        assert await client.until_end(1) == [[6, 1, 900, None, None]]
        await client.send([0, 2, "size", None, None, b"x" * 1500])
        [error] = await client.until_end(2)
        assert error[:3] == [5, 2, "RESOURCE_EXHAUSTED"]
        await client.ws.send(encode([0, 3, "size", None, None, b"x" * 3000]))
        with pytest.raises(websockets.ConnectionClosed) as closed:
            while True:
                decode(await client.ws.recv())
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009


async def test_access_and_connection_records(serve: Callable[..., str], watch_log: Callable[[str], LogWatch]) -> None:
    access_log, connection_log = watch_log("swill.access"), watch_log("swill.connection")
    async with open_raw(serve(deployment.app)) as client:
        await client.send([0, 1, "ticks", None, {"window": 16}, 0.0])
        assert len(await client.until_end(1)) == 11
        connection_id = next(iter(deployment.app.connections)).id
    await connection_log.wait_for(lambda records: len(records) == 2)
    [access] = access_log.records
    assert access.getMessage().startswith(f'{connection_id} "ticks" OK ')
    expected = {"rpc": "ticks", "call_id": 1, "connection_id": connection_id, "code": "OK"}
    expected |= {"messages_in": 1, "messages_out": 10}
    assert {key: access.__dict__[key] for key in expected} == expected
    for key in ("duration", "bytes_in", "bytes_out", "credit_wait"):
        assert access.__dict__[key] >= 0
    events = [r.__dict__["event"] for r in connection_log.records]
    assert events == ["open", "close"]
