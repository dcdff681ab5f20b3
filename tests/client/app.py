"""The app the client tests call: every kind of rpc, and rpcs that let a test observe the server.

Calls tagged with `{"tag": ...}` metadata have their outcome recorded by an `after_request` hook;
`outcome(tag)` waits for it, so a test can check what the server saw without sleeping.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import anyio
import msgspec

import swill
from swill.client import Client

__all__ = ["Point", "app", "make_app", "secure_app"]


class Point(msgspec.Struct):
    x: int
    y: int


class _Observed:
    """What the server saw, by tag. Events are made lazily, on the server's event loop."""

    def __init__(self) -> None:
        self.outcomes: dict[str, str] = {}
        self.events: dict[str, anyio.Event] = {}
        self.produced: dict[str, int] = {}

    def event(self, tag: str) -> anyio.Event:
        if tag not in self.events:
            self.events[tag] = anyio.Event()
        return self.events[tag]


def make_app(**options: Any) -> swill.Swill:
    """A fresh app (its own observations); `options` go to `swill.Swill`."""
    app = swill.Swill(__name__, playground=False, **options)
    seen = _Observed()

    @app.after_request
    def record(request: swill.Request[Any], error: swill.Error | None) -> None:
        tag = request.metadata.get("tag")
        if isinstance(tag, str):
            seen.outcomes[tag] = error.code.value if error else "OK"
            seen.event(tag).set()

    @app.handle()
    async def add(request: swill.Request[tuple[int, int]]) -> int:
        """Add two integers."""
        return request.data[0] + request.data[1]

    @app.handle()
    async def count(request: swill.Request[int]) -> AsyncIterator[int]:
        for i in range(request.data):
            yield i

    @app.handle()
    async def total(request: swill.StreamingRequest[int]) -> int:
        return sum([x async for x in request])

    @app.handle(name="chat.echo")
    async def echo(request: swill.StreamingRequest[str]) -> AsyncIterator[str]:
        async for line in request:
            yield line

    @app.handle()
    async def point(request: swill.Request[Point]) -> Point:
        return Point(request.data.y, request.data.x)

    @app.handle()
    async def fail(request: swill.Request[dict[str, Any]]) -> None:
        spec = request.data
        raise swill.Error(spec["code"], spec.get("message", ""), spec.get("data"), spec.get("metadata"))

    @app.handle()
    async def fail_after(request: swill.Request[int]) -> AsyncIterator[int]:
        for i in range(request.data):
            yield i
        raise swill.Error(swill.Code.ABORTED, "stopped", {"after": request.data})

    @app.handle()
    async def meta(request: swill.Request[None], response: swill.Response) -> dict[str, Any]:
        response.leading_metadata["lead"] = "L"
        response.trailing_metadata["trail"] = "T"
        return dict(request.metadata)

    @app.handle()
    async def meta_stream(request: swill.Request[int], response: swill.Response) -> AsyncIterator[int]:
        response.leading_metadata["lead"] = "L"
        await response.send_leading_metadata()
        for i in range(request.data):
            yield i
        response.trailing_metadata["trail"] = "T"

    @app.handle()
    async def remaining(request: swill.Request[None]) -> float | None:
        if request.deadline is None:
            return None
        return request.deadline - time.monotonic()

    @app.handle()
    async def relay(request: swill.Request[str]) -> float | None:
        """Call `remaining` on the server at URL `data`, from inside this handler."""
        async with Client(request.data) as client:
            result: float | None = await client.call("remaining")
            return result

    @app.handle()
    async def sleep(request: swill.Request[float]) -> str:
        await anyio.sleep(request.data)
        return "slept"

    @app.handle()
    async def forever(request: swill.Request[str]) -> AsyncIterator[int]:
        """Stream 0, 1, 2, ... until cancelled; `produced(tag)` tells how far it got."""
        i = 0
        while True:
            seen.produced[request.data] = i + 1
            yield i
            i += 1

    @app.handle()
    async def produced(request: swill.Request[str]) -> int:
        return seen.produced.get(request.data, 0)

    @app.handle()
    async def outcome(request: swill.Request[str]) -> str:
        with anyio.fail_after(10):
            await seen.event(request.data).wait()
        return seen.outcomes[request.data]

    @app.handle()
    async def connection_id(request: swill.Request[None]) -> str:
        return request.connection.id

    @app.handle()
    async def close_connection(request: swill.Request[int]) -> None:
        await request.connection.close(request.data, "closed by request")

    @app.handle()
    async def size(request: swill.Request[bytes]) -> int:
        return len(request.data)

    @app.handle()
    async def blob(request: swill.Request[int]) -> bytes:
        return b"x" * request.data

    return app


def secure_app() -> swill.Swill:
    """An app that refuses connections without `Authorization: Bearer good` (close code 4401)."""
    app = make_app()
    attempts: list[str] = []

    @app.before_accept
    def authenticate(connection: swill.Connection) -> None:
        attempts.append(connection.headers.get("authorization", ""))
        if connection.headers.get("authorization") != "Bearer good":
            raise swill.Error(swill.Code.UNAUTHENTICATED, "bad token")

    @app.handle()
    async def attempts_seen(request: swill.Request[None]) -> int:
        return len(attempts)

    return app


app = make_app()
