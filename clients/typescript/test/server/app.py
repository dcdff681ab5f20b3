"""The Swill app the TypeScript client's integration and browser tests call.

Every call kind, metadata, errors, slow calls whose cancellation the tests can observe, a
100,000-message stream that records how far its producer got (flow control), GOAWAY on demand,
a refusal (4401) for connections that carry `?token=bad`, and two exposed topics (resumable
streams) on the broker named by `SWILL_TEST_BROKER` (default: in memory).
"""

from __future__ import annotations

import asyncio
import datetime
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any

import annotated_types
import anyio
from starlette.applications import Starlette
from starlette.requests import Request as HttpRequest
from starlette.responses import FileResponse, HTMLResponse
from starlette.responses import Response as HttpResponse
from starlette.routing import Mount, Route

import swill

__all__ = ["app", "site"]

app = swill.Swill(
    __name__, drain_grace=2.0, max_message_size=64 * 1024, broker=os.environ.get("SWILL_TEST_BROKER")
)

# Resumable streams: every value kept (fifo, with history), and only the newest (latest, replayed).
ticks_fifo = app.topic("ticks.fifo", int, policy="fifo", history=1000)
ticks_latest = app.topic("ticks.latest", int, policy="latest", replay=True)
app.expose(ticks_fifo)
app.expose(ticks_latest)


class Probe:
    """What the tests ask the server about its own side of their calls."""

    def __init__(self) -> None:
        self.produced = 0
        self.ended: dict[str, anyio.Event] = {}
        self.outcomes: dict[str, str] = {}

    def event(self, key: str) -> anyio.Event:
        return self.ended.setdefault(key, anyio.Event())


probe = Probe()


@app.after_request
def record(request: swill.Request[Any], error: swill.Error | None) -> None:
    """Calls that carry metadata `key` leave how they ended: "ok" or the error's code."""
    key = request.metadata.get("key")
    if isinstance(key, str):
        probe.outcomes[key] = "ok" if error is None else error.code.value
        probe.event(key).set()


@app.before_accept
def refuse_bad_tokens(connection: swill.Connection) -> None:
    if connection.query_params.get("token") == "bad":
        raise swill.Error(swill.Code.UNAUTHENTICATED, "bad token")


@app.handle()
async def add(request: swill.Request[tuple[int, int]]) -> int:
    """Unary: the sum of two integers."""
    return request.data[0] + request.data[1]


@app.handle()
async def echo(request: swill.Request[Any]) -> Any:
    """Unary: the value as it came (bin, timestamps and 64-bit integers round-trip)."""
    return request.data


@app.handle()
async def kinds(request: swill.Request[list[Any]]) -> list[str]:
    """The Python type each value decoded to."""
    return [type(value).__name__ for value in request.data]


@app.handle()
async def now(request: swill.Request[None]) -> datetime.datetime:
    return datetime.datetime(2024, 1, 2, 3, 4, 5, 123000, tzinfo=datetime.UTC)


@app.handle()
async def positive(request: swill.Request[Annotated[int, annotated_types.Gt(0)]]) -> int:
    return request.data


@app.handle()
async def count(request: swill.Request[int]) -> AsyncIterator[int]:
    """Server streaming: 0 .. n - 1."""
    for i in range(request.data):
        yield i


@app.handle()
async def total(request: swill.StreamingRequest[int]) -> int:
    """Client streaming: the sum of the messages."""
    return sum([x async for x in request])


@app.handle(name="chat.echo")
async def chat_echo(request: swill.StreamingRequest[str]) -> AsyncIterator[str]:
    """Bidirectional: each line back, upper-cased."""
    async for line in request:
        yield line.upper()


@app.handle()
async def meta(request: swill.Request[None], response: swill.Response) -> dict[str, Any]:
    """Unary with leading and trailing metadata; returns the client metadata it got."""
    response.leading_metadata["server"] = "a"
    response.trailing_metadata["took_us"] = 41
    return dict(request.metadata)


@app.handle()
async def meta_stream(request: swill.Request[int], response: swill.Response) -> AsyncIterator[int]:
    response.leading_metadata["total"] = request.data
    await response.send_leading_metadata()
    for i in range(request.data):
        yield i
    response.trailing_metadata["done"] = True


@app.handle()
async def fail(request: swill.Request[None]) -> None:
    raise swill.Error(swill.Code.NOT_FOUND, "no such user", data={"id": 42}, metadata={"retry-after": 3})


@app.handle()
async def fail_midway(request: swill.Request[int]) -> AsyncIterator[int]:
    for i in range(request.data):
        yield i
    raise swill.Error(swill.Code.ABORTED, "stopped after a while")


@app.handle()
async def slow(request: swill.Request[None]) -> AsyncIterator[int]:
    """Streams one message every 10 ms until cancelled."""
    i = 0
    while True:
        yield i
        i += 1
        await anyio.sleep(0.01)


@app.handle()
async def wait(request: swill.Request[float]) -> str:
    """Sleeps for `data` seconds, then answers."""
    await anyio.sleep(request.data)
    return "done"


@app.handle()
async def ended(request: swill.Request[str]) -> str:
    """Waits (up to 5 s) until the call with metadata `key` = `data` ended, and says how."""
    with anyio.fail_after(5):
        await probe.event(request.data).wait()
    return probe.outcomes[request.data]


@app.handle()
async def firehose(request: swill.Request[int]) -> AsyncIterator[int]:
    """Streams 0 .. n - 1 as fast as credit allows, counting what it produced."""
    probe.produced = 0
    for i in range(request.data):
        probe.produced = i + 1
        yield i


@app.handle()
async def produced(request: swill.Request[None]) -> int:
    return probe.produced


@app.handle()
async def publish(request: swill.Request[tuple[str, int]]) -> int:
    """Publish `value` on topic `name` ("ticks.fifo" or "ticks.latest"); returns its event id."""
    name, value = request.data
    topic = ticks_fifo if name == "ticks.fifo" else ticks_latest
    return await topic.publish(value)


_draining: set[asyncio.Task[None]] = set()


@app.handle()
async def goaway(request: swill.Request[float]) -> None:
    """Drain the connections open now (GOAWAY, `data` seconds of grace), and take new connections
    again at once, as the server that replaces this one on the same address would: a draining
    app closes new connections with 1012."""
    drain = asyncio.get_running_loop().create_task(app.drain(request.data))
    _draining.add(drain)
    drain.add_done_callback(_draining.discard)
    for _ in range(100):  # until drain() has taken the connections open now (its first step)
        if app.draining:
            break
        await asyncio.sleep(0)
    assert app.draining, "drain() did not start"
    app.draining = False


async def _page(request: HttpRequest) -> HttpResponse:
    return HTMLResponse(
        '<!doctype html><meta charset="utf-8"><title>swill client</title>'
        '<script type="module">import * as swill from "/client.js"; window.swill = swill;'
        " window.ready = true;</script>"
    )


def site(bundle: Path) -> Starlette:
    """A Starlette site serving a page and the bundled client, with the app mounted at /rpc."""

    async def client_js(request: HttpRequest) -> HttpResponse:
        return FileResponse(bundle, media_type="text/javascript")

    return Starlette(routes=[Route("/", _page), Route("/client.js", client_js), Mount("/rpc", app=app)])
