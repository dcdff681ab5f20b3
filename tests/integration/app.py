"""An app for integration tests: every call kind, plus probes of the server's own state."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator

import anyio

import swill

app = swill.Swill(__name__, drain_grace=0.5, max_concurrent_calls=1024)
cleaned = threading.Event()
started = threading.Event()


@app.handle()
async def add(request: swill.Request[tuple[int, int]]) -> int:
    return request.data[0] + request.data[1]


@app.handle()
async def count(request: swill.Request[int]) -> AsyncIterator[int]:
    for i in range(request.data):
        yield i
        if i % 7 == 0:
            await anyio.lowlevel.checkpoint()


@app.handle()
async def total(request: swill.StreamingRequest[int]) -> int:
    return sum([x async for x in request])


@app.handle()
async def echo(request: swill.StreamingRequest[int]) -> AsyncIterator[int]:
    async for x in request:
        yield x


@app.handle()
async def endless(request: swill.Request[None]) -> AsyncIterator[int]:
    started.set()
    i = 0
    try:
        while True:
            yield i
            i += 1
    finally:
        cleaned.set()


@app.handle()
async def wait(request: swill.Request[float]) -> str:
    await anyio.sleep(request.data)
    return "done"


@app.handle()
async def tasks(request: swill.Request[None]) -> int:
    """How many tasks the server's event loop has, this call's included."""
    return len(asyncio.all_tasks())


@app.handle()
async def connections(request: swill.Request[None]) -> int:
    return len(app.connections)
