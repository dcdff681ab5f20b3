"""The apps the browser tests serve: the playground demo (alone, mounted under `/api`, behind a
token) and one that streams as fast as it can."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.routing import Mount

import swill
from examples.playground import make_app

__all__ = ["TOKEN", "Ended", "demo", "flooding", "guarded", "live", "mounted"]

TOKEN = "s3cret"


class Ended:
    """The calls that ended on the server, as `(rpc, code)`, with `None` for success."""

    def __init__(self) -> None:
        self.condition = threading.Condition()
        self.calls: list[tuple[str, str | None]] = []

    def record(self, request: swill.Request[object], error: swill.Error | None) -> None:
        with self.condition:
            self.calls.append((request.rpc, None if error is None else str(error.code)))
            self.condition.notify_all()

    def wait_for(self, rpc: str, code: str | None, timeout: float = 10.0) -> bool:
        """Wait until a call to `rpc` ended with `code`; False when none did in time."""
        with self.condition:
            return self.condition.wait_for(lambda: (rpc, code) in self.calls, timeout)


def demo() -> tuple[swill.Swill, Ended]:
    """A fresh demo app that records how its calls ended."""
    app = make_app()
    ended = Ended()
    app.after_request(ended.record)
    return app, ended


def mounted() -> Starlette:
    """A Starlette app serving a fresh demo app under `/api`: the playground is at `/api/swill`."""
    rpc = make_app()
    return Starlette(routes=[Mount("/api", app=rpc)], lifespan=rpc.lifespan)


def guarded() -> swill.Swill:
    """A demo app that accepts only connections with `?token=s3cret` in their URL."""
    app = make_app()

    @app.before_accept
    def authenticate(connection: swill.Connection) -> None:
        if connection.query_params.get("token") != TOKEN:
            raise swill.Error(swill.Code.UNAUTHENTICATED, "log in first")

    return app


def flooding() -> swill.Swill:
    """An app with one rpc, `flood`, that streams `n` small messages as fast as it can."""
    app = swill.Swill(__name__)

    @app.handle()
    async def flood(request: swill.Request[int]) -> AsyncIterator[dict[str, int]]:
        """Stream `n` messages as fast as the client takes them."""
        for i in range(request.data):
            yield {"i": i, "square": i * i}

    return app


def live() -> tuple[swill.Swill, swill.Topic[int]]:
    """An app exposing one topic, `ticks`: a resumable stream (fifo, the last 100 values kept)."""
    app = swill.Swill(__name__)
    ticks = app.topic("ticks", int, policy="fifo", history=100)
    app.expose(ticks)
    return app, ticks
