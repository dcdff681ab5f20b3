"""docs/hooks.md: the timelines it draws are the order a real server runs the hooks in, and
examples/hooks.py does what the page says."""

from __future__ import annotations

import re
import threading
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import anyio
import pytest

import swill
from examples import hooks, quickstart
from swill._hooks import CONNECTION_HOOKS, REQUEST_HOOKS

from .conftest import LogWatch, RawClient, open_raw

PAGE = Path(__file__).parents[2] / "docs" / "hooks.md"
HOOK = re.compile(r"\b((?:before|after)_[a-z_]+)\b")


def timelines() -> dict[str, list[str]]:
    """The hook names of each ```text timeline on the page, in order, by the block's title."""
    blocks = re.findall(r"```text\n(.*?)```", PAGE.read_text(encoding="utf-8"), re.DOTALL)
    found = {}
    for block in blocks:
        title, _, body = block.partition("\n")
        found[title.strip()] = HOOK.findall(body)
    return found


class Recorder:
    """An app whose every hook records its name; `after_request` and `after_connection` signal."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self.call_ended = threading.Event()
        self.connection_ended = threading.Event()
        self.waiting = threading.Event()
        self.app = app = swill.Swill()
        for name in (*REQUEST_HOOKS, *CONNECTION_HOOKS):
            getattr(app, name)(self._hook(name))

        # The quickstart's handlers, under the names the page uses.
        for handler in (quickstart.add, quickstart.count, quickstart.total):
            app.handle()(handler)
        app.handle(name="chat.echo")(quickstart.echo)

        @app.handle()
        async def missing(request: swill.Request[int]) -> int:
            raise swill.Error(swill.Code.NOT_FOUND, "nothing here")

        @app.handle()
        async def guarded(request: swill.Request[int]) -> int:
            raise AssertionError("the before_request hook refuses this call")

        @app.handle()
        async def wait(request: swill.Request[None]) -> None:
            self.waiting.set()
            await anyio.sleep_forever()

    def _hook(self, name: str) -> Callable[..., None]:
        def hook(*args: Any) -> None:
            self.names.append(name)
            if name == "before_request" and args[0].rpc == "guarded":
                raise swill.Error(swill.Code.PERMISSION_DENIED, "no")
            if name == "after_request":
                self.call_ended.set()
            elif name == "after_connection":
                self.connection_ended.set()

        return hook

    def request_hooks(self) -> list[str]:
        return [name for name in self.names if name in REQUEST_HOOKS]

    async def wait_for(self, event: threading.Event) -> None:
        assert await anyio.to_thread.run_sync(event.wait, 5)


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
async def client(recorder: Recorder, serve: Callable[..., str]) -> AsyncIterator[RawClient]:
    async with open_raw(serve(recorder.app)) as raw:
        yield raw


async def test_unary(recorder: Recorder, client: RawClient) -> None:
    await client.send([0, 1, "add", None, None, [1, 2]])
    assert await client.until_end(1) == [[6, 1, 3, None, None]]
    await recorder.wait_for(recorder.call_ended)
    assert recorder.request_hooks() == timelines()["unary"]


async def test_server_streaming(recorder: Recorder, client: RawClient) -> None:
    await client.send([0, 1, "count", None, None, 2])
    assert await client.until_end(1) == [[1, 1, 0], [1, 1, 1], [3, 1, None]]
    await recorder.wait_for(recorder.call_ended)
    assert recorder.request_hooks() == timelines()["server streaming"]


async def test_client_streaming(recorder: Recorder, client: RawClient) -> None:
    await client.send([0, 1, "total"], [1, 1, 1], [1, 1, 2], [3, 1])
    assert (await client.until_end(1))[-1] == [6, 1, 3, None, None]
    await recorder.wait_for(recorder.call_ended)
    assert recorder.request_hooks() == timelines()["client streaming"]


async def test_bidirectional(recorder: Recorder, client: RawClient) -> None:
    await client.send([0, 1, "chat.echo"], [1, 1, "a"])
    assert await client.recv_for(1, credit=False) == [1, 1, "a"]
    await client.send([1, 1, "b"])
    assert await client.recv_for(1, credit=False) == [1, 1, "b"]
    await client.send([3, 1])
    assert await client.recv_for(1, credit=False) == [3, 1, None]
    await recorder.wait_for(recorder.call_ended)
    assert recorder.request_hooks() == timelines()["bidirectional"]


async def test_failure(recorder: Recorder, client: RawClient) -> None:
    await client.send([0, 1, "missing", None, None, 1])
    assert await client.until_end(1) == [[5, 1, "NOT_FOUND", "nothing here", None, None]]
    await recorder.wait_for(recorder.call_ended)
    assert recorder.request_hooks() == timelines()["failure"]


async def test_refused_by_before_request(recorder: Recorder, client: RawClient) -> None:
    await client.send([0, 1, "guarded", None, None, 1])
    assert await client.until_end(1) == [[5, 1, "PERMISSION_DENIED", "no", None, None]]
    await recorder.wait_for(recorder.call_ended)
    assert recorder.request_hooks() == timelines()["refused by before_request"]


async def test_cancelled(recorder: Recorder, client: RawClient) -> None:
    await client.send([0, 1, "wait", None, None, None])
    await recorder.wait_for(recorder.waiting)
    await client.send([4, 1])
    await recorder.wait_for(recorder.call_ended)
    await client.nothing_for(1)
    assert recorder.request_hooks() == timelines()["cancelled"]


async def test_connection(recorder: Recorder, serve: Callable[..., str]) -> None:
    async with open_raw(serve(recorder.app)) as client:
        await client.send([0, 1, "wait", None, None, None])
        await recorder.wait_for(recorder.waiting)
    await recorder.wait_for(recorder.connection_ended)
    outer = [name for name in recorder.names if name in CONNECTION_HOOKS or name == "after_request"]
    assert outer == timelines()["connection"]


def test_every_timeline_is_tested() -> None:
    tested = {"unary", "server streaming", "client streaming", "bidirectional", "failure"}
    tested |= {"refused by before_request", "cancelled", "connection"}
    assert set(timelines()) == tested


# examples/hooks.py


async def test_example_times_logs_and_rewrites(serve: Callable[..., str], watch_log: Callable[[str], LogWatch]) -> None:
    log = watch_log(hooks.log.name)
    async with open_raw(serve(hooks.app)) as client:
        await client.send([0, 1, "metadata", {"Client-Version": 2, "X-Trace": "t"}, None, None])
        [[kind, _, data, leading, trailing]] = await client.until_end(1)
        assert (kind, data, leading) == (6, {"client-version": 2, "x-trace": "t"}, None)
        assert set(trailing) == {"server-ms"} and trailing["server-ms"] >= 0

        await client.send([0, 2, "repeat", None, None, ["hi", 2]])
        *data, [end, _, trailing] = await client.until_end(2)
        assert data == [[1, 2, "hi"], [1, 2, "hi"]]
        assert end == 3 and set(trailing) == {"server-ms"}

        await client.send([0, 3, "metadata", {"client-version": 0}, None, None])
        [error] = await client.until_end(3)
        assert error[:4] == [5, 3, "FAILED_PRECONDITION", "please upgrade your client"]
        assert set(error[5]) == {"server-ms"}
    await log.wait_for(lambda records: len(records) == 3)
    assert [message.split()[:2] for message in log.messages()] == [
        ["metadata", "OK"],
        ["repeat", "OK"],
        ["metadata", "FAILED_PRECONDITION"],
    ]
    assert hooks.started == {}
