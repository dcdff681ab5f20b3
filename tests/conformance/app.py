"""Handlers that exercise every rule of PROTOCOL.md the server core covers."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Iterator
from typing import Annotated, Any

import annotated_types as at
import anyio
import msgspec

import swill

app = swill.Swill(__name__, max_message_size=4096, max_concurrent_calls=20, client_window=4)

# Set when a handler's cleanup ran: tests wait on these instead of sleeping. The server runs in
# another thread, hence threading events.
events: dict[str, threading.Event] = {}
_lock = threading.Lock()


def event(name: str) -> threading.Event:
    with _lock:
        return events.setdefault(name, threading.Event())


async def happened(name: str, wait: float = 5.0) -> bool:
    return await anyio.to_thread.run_sync(event(name).wait, wait)


class Item(msgspec.Struct):
    sku: str
    qty: Annotated[int, at.Gt(0)]


class Order(msgspec.Struct):
    items: list[Item]


class Missing(LookupError):
    pass


@app.exception_handler(LookupError)
def lookup_error(request: swill.Request[Any], exc: LookupError) -> swill.Error:
    return swill.Error(swill.Code.NOT_FOUND, f"not found: {exc}")


@app.handle()
async def add(request: swill.Request[tuple[int, int]]) -> int:
    return request.data[0] + request.data[1]


@app.handle()
async def echo(request: swill.Request[Any], response: swill.Response) -> Any:
    response.leading_metadata.update(request.metadata)
    response.trailing_metadata["trailing"] = True
    return request.data


@app.handle()
async def order(request: swill.Request[Order]) -> int:
    return sum(item.qty for item in request.data.items)


@app.handle()
async def count(request: swill.Request[int], response: swill.Response) -> AsyncIterator[int]:
    response.trailing_metadata["counted"] = request.data
    for i in range(request.data):
        yield i


@app.handle()
async def count_with_leading(request: swill.Request[int], response: swill.Response) -> AsyncIterator[int]:
    response.leading_metadata["first"] = True
    await response.send_leading_metadata()
    for i in range(request.data):
        yield i


@app.handle()
async def leading_twice(request: swill.Request[None], response: swill.Response) -> AsyncIterator[int]:
    await response.send_leading_metadata()
    yield 1
    await response.send_leading_metadata()
    yield 2


@app.handle()
async def leading_after_data(request: swill.Request[None], response: swill.Response) -> AsyncIterator[int]:
    yield 1
    response.leading_metadata["late"] = True
    yield 2


@app.handle()
async def total(request: swill.StreamingRequest[int]) -> int:
    return sum([x async for x in request])


@app.handle()
async def chat(request: swill.StreamingRequest[str]) -> AsyncIterator[str]:
    async for line in request:
        yield line.upper()


@app.handle()
async def sleepy(request: swill.Request[str]) -> str:
    event(f"sleepy-started-{request.data}").set()
    try:
        await anyio.sleep_forever()
    finally:
        event(f"sleepy-{request.data}").set()
    return "never"


@app.handle()
async def forever(request: swill.Request[str]) -> AsyncIterator[int]:
    i = 0
    try:
        while True:
            yield i
            i += 1
    finally:
        event(f"forever-{request.data}").set()


@app.handle()
async def fail(request: swill.Request[str]) -> None:
    if request.data == "error":
        raise swill.Error(swill.Code.PERMISSION_DENIED, "no", data={"why": "because"}, metadata={"m": 1})
    if request.data == "lookup":
        raise Missing("thing")
    raise ValueError("secret detail")


@app.handle()
async def fail_streaming(request: swill.Request[None]) -> AsyncIterator[int]:
    yield 1
    raise swill.Error(swill.Code.ABORTED, "stopped")


@app.handle()
def blocking_sum(request: swill.Request[list[float]]) -> float:
    return sum(request.data)


@app.handle()
def blocking_count(request: swill.Request[int]) -> Iterator[int]:
    yield from range(request.data)


@app.handle()
async def deadline(request: swill.Request[None]) -> float | None:
    return request.deadline


@app.handle()
async def unencodable(request: swill.Request[None]) -> Any:
    return object()


@app.handle()
async def stuck(request: swill.StreamingRequest[int]) -> int:
    await anyio.sleep_forever()
    return 0
