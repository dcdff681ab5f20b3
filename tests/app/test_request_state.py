"""Per-call state, and which connections `app.connections` holds."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import swill
from swill.testing import TestClient


async def test_request_state_carries_data_from_hooks_to_the_handler() -> None:
    app = swill.Swill(__name__)
    seen: list[Any] = []

    @app.before_request
    def stamp(request: swill.Request[Any]) -> None:
        request.state.user = request.metadata.get("user")

    @app.handle()
    async def whoami(request: swill.Request[None]) -> str:
        return str(request.state.user)

    @app.after_request
    def record(request: swill.Request[Any], error: swill.Error | None) -> None:
        seen.append(request.state.user)

    async with TestClient(app) as client:
        assert await client.call("whoami", None, metadata={"user": "ann"}) == "ann"
        assert await client.call("whoami", None, metadata={"user": "bob"}) == "bob"
    assert seen == ["ann", "bob"]


async def test_connections_join_the_set_only_once_accepted() -> None:
    app = swill.Swill(__name__)
    during_hooks: list[bool] = []

    @app.before_accept
    def check(connection: swill.Connection) -> None:
        during_hooks.append(connection in app.connections)
        connection.state.name = "ann"

    @app.handle()
    async def names(request: swill.Request[None]) -> list[str]:
        return [c.state.name for c in app.connections]

    async with TestClient(app) as client:
        assert await client.call("names", None) == ["ann"]
    assert during_hooks == [False]
    assert app.connections == set()


async def test_a_unary_call_lets_go_of_its_encoded_request_once_decoded() -> None:
    """The bytes of a large request are freed as soon as they are decoded, not when the call
    ends: holding them kept a second megabyte alive per 1 MiB echo, and glibc then gave the
    memory back to the OS and faulted it in again on every call (bench/README.md)."""
    app = swill.Swill(__name__)
    held: list[object] = []

    @app.handle()
    async def echo(request: swill.Request[bytes]) -> bytes:
        held.append(request._call._data)
        return request.data

    async with TestClient(app) as client:
        assert await client.call("echo", b"x" * 1000) == b"x" * 1000
    assert held == [None]


async def test_reference_counting_frees_a_finished_call() -> None:
    """No cycle keeps a finished call alive until the cyclic collector runs: per unary call that
    was seven objects (the call, its responder, task, coroutine, context...) and the collector's
    passes over them, a tenth of the server's time per call (bench/README.md)."""
    import gc

    from swill._call import ServerCall

    app = swill.Swill(__name__)

    @app.handle()
    async def add(request: swill.Request[tuple[int, int]]) -> int:
        return request.data[0] + request.data[1]

    @app.handle()
    async def count(request: swill.Request[int]) -> AsyncIterator[int]:
        for i in range(request.data):
            yield i

    gc.collect()
    gc.disable()
    try:
        async with TestClient(app) as client:
            for i in range(20):
                assert await client.call("add", (i, 1)) == i + 1
            assert [value async for value in client.stream("count", 3)] == [0, 1, 2]
        assert not [o for o in gc.get_objects() if isinstance(o, ServerCall)]
    finally:
        gc.enable()
