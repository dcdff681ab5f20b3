"""Test your Swill app in-process: `TestClient(app)` is a `swill.Client` without sockets.

```python
from swill.testing import TestClient

from myapp import app


async def test_add() -> None:
    async with TestClient(app) as client:
        assert await client.call("add", (1, 2)) == 3
```

The app runs on the test's own event loop: its lifespan (startup and shutdown functions) around
the `async with` block, and each connection as a task. Exceptions that escape the app fail the
test when the block exits.
"""

from __future__ import annotations

import asyncio
from collections.abc import MutableMapping
from typing import TYPE_CHECKING, Any, Final

from .client import DEFAULT_WINDOW, ASGITransport, Client

if TYPE_CHECKING:
    from types import TracebackType
    from typing import Self

__all__ = ["TestClient"]

LIFESPAN_TIMEOUT: Final = 30.0
"""Seconds the app's startup or shutdown may take."""


class TestClient(Client):
    """A `swill.Client` connected to `app` in-process, through an ASGI transport.

    Args:
        app: A `swill.Swill` app, or any ASGI app that serves Swill (a Starlette or FastAPI app
            mounting one).
        path: The WebSocket path (default: the app's `path`, else `"/ws"`).
        lifespan: Run the app's lifespan (startup on enter, shutdown on exit).
        raise_server_exceptions: Re-raise, on exit, an exception that escaped the app.
        client: The `(host, port)` the app sees as the client's address.
        base_url: The scheme and host of the URL the app sees.
        metadata: As for `swill.Client`.
        headers: As for `swill.Client`: the handshake headers (e.g. `Authorization`, `Origin`).
        timeout: As for `swill.Client`.
        window: As for `swill.Client`.
        **options: Other `swill.Client` options.
    """

    __test__ = False  # not a test class, whatever pytest thinks of its name

    def __init__(
        self,
        app: Any,
        *,
        path: str | None = None,
        lifespan: bool = True,
        raise_server_exceptions: bool = True,
        client: tuple[str, int] = ("testclient", 50000),
        base_url: str = "ws://testserver",
        metadata: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        timeout: float | None = None,
        window: int | None = DEFAULT_WINDOW,
        **options: Any,
    ) -> None:
        self.app = app
        self.state: dict[str, Any] = {}
        self.asgi = ASGITransport(app, client=client, state=self.state)
        path = path if path is not None else getattr(app, "path", "/ws")
        super().__init__(
            base_url.rstrip("/") + path,
            metadata=metadata,
            headers=headers,
            timeout=timeout,
            window=window,
            transport=self.asgi,
            **options,
        )
        self._run_lifespan = lifespan
        self._raise_server_exceptions = raise_server_exceptions
        self._lifespan: _Lifespan | None = None

    async def __aenter__(self) -> Self:
        if self._run_lifespan:
            self._lifespan = _Lifespan(self.app, self.state)
            await self._lifespan.startup()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            await self.aclose()
        finally:
            if self._lifespan is not None:
                lifespan, self._lifespan = self._lifespan, None
                await lifespan.shutdown()
        if self._raise_server_exceptions and self.asgi.errors and exc is None:
            raise self.asgi.errors[0]


class _Lifespan:
    """The ASGI lifespan protocol, from the server's side."""

    def __init__(self, app: Any, state: dict[str, Any]) -> None:
        self.app = app
        self.state = state
        self._to_app: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._from_app: asyncio.Queue[MutableMapping[str, Any] | BaseException] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    async def startup(self) -> None:
        scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}, "state": self.state}
        self._task = asyncio.get_running_loop().create_task(self._run(scope), name="swill test lifespan")
        await self._step("startup")

    async def shutdown(self) -> None:
        if self._task is None or self._task.done():
            return
        try:
            await self._step("shutdown")
        finally:
            await self._task

    async def _run(self, scope: dict[str, Any]) -> None:
        try:
            await self.app(scope, self._to_app.get, self._from_app.put)
        except BaseException as exc:
            await self._from_app.put(exc)
            if not isinstance(exc, Exception):
                raise
        else:
            await self._from_app.put(RuntimeError("the app's lifespan returned early"))

    async def _step(self, step: str) -> None:
        await self._to_app.put({"type": f"lifespan.{step}"})
        async with asyncio.timeout(LIFESPAN_TIMEOUT):
            message = await self._from_app.get()
        if isinstance(message, BaseException):
            raise message
        if message["type"] == f"lifespan.{step}.failed":
            raise RuntimeError(f"the app's lifespan {step} failed: {message.get('message', '')}")
