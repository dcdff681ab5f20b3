"""The quickstart app: one handler of each kind. Serve it with `scripts/serve`.

Then open http://127.0.0.1:8000/swill for the playground, or call it from Python:

    async with swill.Client("ws://127.0.0.1:8000/ws") as client:
        await client.call("add", (1, 2))
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

import annotated_types as at
import msgspec

import swill

app = swill.Swill(__name__)


@app.handle()
async def add(request: swill.Request[tuple[int, int]]) -> int:
    """Add two integers."""
    return request.data[0] + request.data[1]


@app.handle()
async def count(request: swill.Request[Annotated[int, at.Ge(0), at.Le(10_000)]]) -> AsyncIterator[int]:
    """Count from 0 up to (not including) the given number."""
    for i in range(request.data):
        yield i


@app.handle()
async def total(request: swill.StreamingRequest[float]) -> float:
    """Sum every number the client streams."""
    return sum([x async for x in request])


@app.handle(name="chat.echo")
async def echo(request: swill.StreamingRequest[str]) -> AsyncIterator[str]:
    """Echo each line back as it arrives."""
    async for line in request:
        yield line


class Greeting(msgspec.Struct):
    name: Annotated[str, at.MinLen(1), at.MaxLen(40)]
    excited: bool = False


@app.handle()
async def greet(request: swill.Request[Greeting], response: swill.Response) -> str:
    """Greet someone, with leading and trailing metadata."""
    response.leading_metadata["greeter"] = "swill"
    response.trailing_metadata["length"] = len(request.data.name)
    return f"Hello, {request.data.name}{'!' if request.data.excited else '.'}"


@app.handle()
def slow_sum(request: swill.Request[list[float]]) -> float:
    """Sum numbers in a worker thread (a plain `def` handler)."""
    return sum(request.data)
