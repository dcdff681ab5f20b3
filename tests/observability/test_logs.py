"""One access record per call on `swill.access`, connection records on `swill.connection`, and no
log call at all on a call's path when those loggers are disabled."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any

import anyio
import pytest

from swill import _asgi, _call
from tests.conftest import LiveServer, decode, encode

from .conftest import Collector, about_to_send, connect

Collect = Callable[[str], Collector]


def extra(record: logging.LogRecord) -> dict[str, Any]:
    """The record's attributes, those given in `extra=` included."""
    return vars(record)


def access(record: logging.LogRecord) -> dict[str, Any]:
    keys = ("rpc", "call_id", "connection_id", "code", "messages_in", "messages_out", "bytes_in", "bytes_out")
    return {key: getattr(record, key) for key in keys}


async def test_a_unary_call(server: LiveServer, collect: Collect) -> None:
    logs = collect("swill.access")
    async with connect(server) as client:
        await client.send([0, 1, "add", None, None, [1, 2]])
        response = await client.ws.recv()
        assert decode(response) == [6, 1, 3, None, None]
        await client.send([0, 2, "me", None, None, None])
        connection_id = (await client.recv())[2]
    record = await logs.wait(lambda r: extra(r)["call_id"] == 1 and extra(r)["connection_id"] == connection_id)
    assert access(record) == {
        "rpc": "add",
        "call_id": 1,
        "connection_id": connection_id,
        "code": "OK",
        "messages_in": 1,
        "messages_out": 1,
        "bytes_in": len(encode([1, 2])),
        "bytes_out": len(response),
    }
    assert record.levelno == logging.INFO
    assert 0 < extra(record)["duration"] < 5 and extra(record)["credit_wait"] == 0
    assert record.getMessage().startswith(f'{connection_id} "add" OK ')


async def test_a_server_stream_that_waited_for_credit(server: LiveServer, collect: Collect) -> None:
    logs = collect("swill.access")
    key = 7001
    async with connect(server) as client:
        await client.send([0, 1, "count", None, {"window": 1}, key], [0, 2, "me", None, None, None])
        first = await client.ws.recv()
        assert decode(first) == [1, 1, 0]
        connection_id = (await client.recv_for(2))[2]
        waiting = about_to_send.setdefault(key, threading.Event())
        assert await anyio.to_thread.run_sync(waiting.wait, 5)
        await client.send([7, 1, 10])
        rest = [await client.ws.recv() for _ in range(3)]
        assert [decode(m) for m in rest] == [[1, 1, 1], [1, 1, 2], [3, 1, None]]
    record = await logs.wait(lambda r: extra(r)["rpc"] == "count" and extra(r)["connection_id"] == connection_id)
    assert access(record)["messages_out"] == 3
    assert extra(record)["bytes_out"] == len(first) + len(rest[0]) + len(rest[1])  # DATA frames, not END_OF_STREAM
    assert extra(record)["credit_wait"] > 0


async def test_a_client_stream(server: LiveServer, collect: Collect) -> None:
    logs = collect("swill.access")
    async with connect(server) as client:
        await client.send([0, 1, "total", None, None, 1], [1, 1, 200], [1, 1, 70000], [3, 1])
        assert await client.recv_for(1, credit=False) == [6, 1, 70201, None, None]
        await client.send([0, 2, "me", None, None, None])
        connection_id = (await client.recv_for(2))[2]
    record = await logs.wait(lambda r: extra(r)["rpc"] == "total" and extra(r)["connection_id"] == connection_id)
    assert (extra(record)["messages_in"], extra(record)["messages_out"], extra(record)["code"]) == (3, 1, "OK")
    assert extra(record)["bytes_in"] == len(encode(1)) + len(encode(200)) + len(encode(70000))


@pytest.mark.parametrize(("rpc", "code"), [("fail", "PERMISSION_DENIED"), ("hang", "CANCELLED")])
async def test_failed_and_cancelled_calls(server: LiveServer, collect: Collect, rpc: str, code: str) -> None:
    logs = collect("swill.access")
    async with connect(server) as client:
        await client.send([0, 1, "me", None, None, None], [0, 2, rpc, None, None, None])
        connection_id = (await client.recv_for(1))[2]
        if rpc == "hang":
            await client.send([4, 2])
        else:
            assert (await client.recv_for(2))[2] == code
    record = await logs.wait(lambda r: extra(r)["call_id"] == 2 and extra(r)["connection_id"] == connection_id)
    assert (extra(record)["rpc"], extra(record)["code"], extra(record)["messages_out"]) == (rpc, code, 0)


async def test_refused_requests_open_no_call_and_get_no_record(server: LiveServer, collect: Collect) -> None:
    logs = collect("swill.access")
    async with connect(server) as client:
        await client.send([0, 1, "nope", None, None, None], [0, 2, "me", None, None, None])
        assert (await client.recv_for(1))[2] == "UNIMPLEMENTED"
        connection_id = (await client.recv_for(2))[2]
    await logs.wait(lambda r: extra(r)["call_id"] == 2 and extra(r)["connection_id"] == connection_id)
    assert not [r for r in logs.records if extra(r)["connection_id"] == connection_id and extra(r)["call_id"] == 1]


async def test_connection_records(server: LiveServer, collect: Collect) -> None:
    logs = collect("swill.connection")
    async with connect(server) as client:
        await client.send([0, 1, "me", None, None, None])
        connection_id = (await client.recv())[2]
        opened = await logs.wait(lambda r: extra(r)["connection_id"] == connection_id)
        assert (extra(opened)["event"], opened.levelno) == ("open", logging.INFO)
        assert extra(opened)["client"][0] == "127.0.0.1"
    closed = await logs.wait(lambda r: extra(r)["connection_id"] == connection_id and extra(r)["event"] == "close")
    assert extra(closed)["client"] == extra(opened)["client"]
    assert [extra(r)["event"] for r in logs.records if extra(r)["connection_id"] == connection_id] == [
        "open",
        "close",
    ]


class Spy:
    """Stands in for a logger's method and counts the calls, from any thread."""

    def __init__(self) -> None:
        self.calls = 0
        self._changed = threading.Condition()

    def __call__(self, *args: Any, **kwargs: Any) -> None:
        with self._changed:
            self.calls += 1
            self._changed.notify_all()

    async def reach(self, count: int) -> None:
        def until() -> bool:
            with self._changed:
                return self._changed.wait_for(lambda: self.calls >= count, timeout=5)

        assert await anyio.to_thread.run_sync(until), f"{self.calls} calls, expected {count}"


@pytest.fixture
def restore_levels() -> Iterator[None]:
    loggers = [logging.getLogger(), _call.access_logger, _asgi.connection_logger]
    levels = [logger.level for logger in loggers]
    yield
    for logger, level in zip(loggers, levels, strict=True):
        logger.setLevel(level)


@pytest.mark.parametrize("enabled", [False, True])
async def test_no_log_call_on_the_call_path_when_the_loggers_are_disabled(
    server: LiveServer, monkeypatch: pytest.MonkeyPatch, restore_levels: None, enabled: bool
) -> None:
    # Disabled is how they start: no level of their own, and the root logger at WARNING.
    logging.getLogger().setLevel(logging.WARNING)
    spies: dict[str, Spy] = {}
    for logger in (_call.access_logger, _asgi.connection_logger):
        logger.setLevel(logging.INFO if enabled else logging.NOTSET)
        for method in ("debug", "info", "warning", "log", "_log"):
            spies[f"{logger.name}.{method}"] = spy = Spy()
            monkeypatch.setattr(logger, method, spy)
    async with connect(server) as client:
        for id in range(1, 11):
            await client.send([0, id, "add", None, None, [id, id]])
            assert (await client.recv())[:3] == [6, id, 2 * id]
    if enabled:
        await spies["swill.access.info"].reach(10)
        await spies["swill.connection.info"].reach(2)
        return
    # Past the access record of the last call and the close record of the connection: another
    # connection's call (the server handles a connection's end before a new one's calls finish).
    async with connect(server) as client:
        await client.send([0, 1, "add", None, None, [1, 1]])
        await client.recv()
    assert {name: spy.calls for name, spy in spies.items() if spy.calls} == {}
