"""Handlers of every kind, blocking ones, deadlines and cancellation (docs/handlers.md).

Serve it with `swill run examples.handlers:app`.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import AsyncIterator, Iterator

import anyio
from anyio.streams.memory import MemoryObjectSendStream

import swill

app = swill.Swill(__name__)
log = logging.getLogger(__name__)


# --8<-- [start:kinds]
@app.handle()
async def add(request: swill.Request[tuple[int, int]]) -> int:
    """Unary: one message in, one out."""
    a, b = request.data
    return a + b


@app.handle()
async def countdown(request: swill.Request[int]) -> AsyncIterator[int]:
    """Server streaming: one message in, a stream out."""
    for i in range(request.data, 0, -1):
        yield i


@app.handle()
async def average(request: swill.StreamingRequest[float]) -> float:
    """Client streaming: a stream in, one message out."""
    total = count = 0.0
    async for value in request:
        total += value
        count += 1
    return total / count if count else 0.0


@app.handle(name="text.upper")
async def upper(request: swill.StreamingRequest[str]) -> AsyncIterator[str]:
    """Bidirectional: each line back in capitals as soon as it arrives."""
    async for line in request:
        yield line.upper()


# --8<-- [end:kinds]


# --8<-- [start:threads]
@app.handle()
def sha256(request: swill.Request[bytes]) -> str:
    """Hash bytes in a worker thread."""
    return hashlib.sha256(request.data).hexdigest()


@app.handle()
def words(request: swill.Request[str]) -> Iterator[str]:
    """A `def` generator streams; each step runs in a worker thread."""
    yield from request.data.split()


@app.handle()
def crunch(request: swill.Request[int]) -> int:
    """Long CPU work that stops when the call is cancelled or its deadline passes."""
    total = 0
    for i in range(request.data):
        if i % 10_000 == 0 and request.cancelled:
            log.info("crunch stopped after %d steps", i)
            break
        total += i * i
    return total


# --8<-- [end:threads]


# --8<-- [start:cancel]
@app.handle()
async def wait(request: swill.Request[float]) -> str:
    """Sleep for the given seconds; a client deadline cancels the sleep."""
    await anyio.sleep(request.data)
    return "done"


watchers: set[MemoryObjectSendStream[str]] = set()


@app.handle()
async def watch(request: swill.Request[None]) -> AsyncIterator[str]:
    """Stream every note posted with `post` until the client cancels the call."""
    send, receive = anyio.create_memory_object_stream[str](16)
    watchers.add(send)
    try:
        async with receive:
            async for note in receive:
                yield note
    finally:
        # Runs however the call ends: CLOSE, a lost connection, a deadline, server shutdown.
        watchers.discard(send)
        send.close()


@app.handle()
async def post(request: swill.Request[str]) -> int:
    """Send a note to every watcher; returns how many got it."""
    delivered = 0
    for send in list(watchers):
        try:
            send.send_nowait(request.data)
            delivered += 1
        except (anyio.WouldBlock, anyio.BrokenResourceError, anyio.ClosedResourceError):
            pass  # a watcher that is behind, or leaving, misses this note
    return delivered


# --8<-- [end:cancel]
