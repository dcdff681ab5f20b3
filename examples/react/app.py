"""The Swill app behind the React example (`examples/react/`): a form, a live chart, an upload.

Build the page once, then serve both from one origin:

    (cd clients/typescript && npm ci && npm run build)
    (cd examples/react && npm ci && npm run build)
    swill run examples.react.app:app

and open http://127.0.0.1:8000/. During development, `npm run dev` in `examples/react` serves the
page with Vite on :5173 and proxies `/ws` here (see `vite.config.ts`).

- `signup` takes a `Signup` whose fields are checked by constraints and a validator: the form
  shows each `{path, message}` of an `INVALID_ARGUMENT` at its field.
- `temperature` is a topic with a history, exposed as a resumable stream: the chart subscribes
  with `liveOptions`, and keeps drawing across a restart of this process.
- `upload` is a client stream of byte chunks; it answers with the size and a SHA-256.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import os
import threading
import time
from pathlib import Path
from typing import Annotated

import annotated_types as at
import msgspec
from starlette.responses import FileResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

import swill
from swill._topics import Topic

HERE = Path(__file__).resolve().parent
DIST = HERE / "dist"


class Signup(swill.ValidatedStruct, forbid_unknown_fields=True):
    """A new account."""

    name: Annotated[str, at.MinLen(1), at.MaxLen(40)]
    """Shown to other users."""
    email: str
    age: Annotated[int, at.Ge(13)]
    """At least 13."""

    @swill.validator("email")
    def _email(self, value: str) -> None:
        if "@" not in value.strip("@"):
            raise ValueError("not an email address")


class Account(msgspec.Struct):
    id: int
    name: str


class Stored(msgspec.Struct):
    size: int
    sha256: str


def page(request: object) -> Response:
    index = DIST / "index.html"
    if not index.exists():
        return Response("build the page first: cd examples/react && npm ci && npm run build", 503)
    return FileResponse(index)


def create_app(*, interval: float = 0.2, upload_delay: float = 0.0, drain_grace: float = 10.0) -> swill.Swill:
    """The app; the topic gets a value every `interval` seconds, and `upload` takes
    `upload_delay` seconds per chunk (a slow disk, to watch the progress bar and cancel). On
    shutdown, open calls (the chart's subscription among them) get `drain_grace` seconds."""
    routes = [
        Route("/", page),
        Mount("/assets", StaticFiles(directory=DIST / "assets", check_dir=False)),
    ]
    app = swill.Swill(__name__, routes=routes, max_message_size=256 * 1024, drain_grace=drain_grace)
    temperature: Topic[float] = app.topic("temperature", float, replay=True, policy="latest", history=100)
    app.expose(temperature)
    accounts: dict[str, Account] = {}

    @app.handle()
    async def signup(request: swill.Request[Signup]) -> Account:
        """Create an account; `ALREADY_EXISTS` for an email that has one."""
        email = request.data.email.lower()
        if email in accounts:
            raise swill.Error(
                swill.Code.ALREADY_EXISTS,
                "an account exists for this email",
                data=[{"path": "$.email", "message": "already registered"}],
            )
        accounts[email] = Account(len(accounts) + 1, request.data.name)
        return accounts[email]

    @app.handle()
    async def upload(request: swill.StreamingRequest[bytes]) -> Stored:
        """Store a file sent in chunks; answers with its size and SHA-256."""
        digest = hashlib.sha256()
        size = 0
        async for chunk in request:
            digest.update(chunk)
            size += len(chunk)
            if upload_delay > 0:
                await asyncio.sleep(upload_delay)
        return Stored(size, digest.hexdigest())

    def publish(stop: threading.Event) -> None:
        """A sensor: a slow sine wave around 20 °C."""
        start = time.monotonic()
        while not stop.wait(interval):
            value = 20 + 5 * math.sin((time.monotonic() - start) / 2)
            try:
                temperature.publish_threadsafe(round(value, 2))
            except RuntimeError:  # the app stopped
                return

    stop = threading.Event()
    thread = threading.Thread(target=publish, args=(stop,), name="temperature sensor", daemon=True)
    app.on_startup(thread.start)

    @app.on_shutdown
    def stop_sensor() -> None:
        stop.set()
        thread.join(5)

    return app


app = create_app(
    interval=float(os.environ.get("SWILL_REACT_INTERVAL", "0.2")),
    upload_delay=float(os.environ.get("SWILL_REACT_UPLOAD_DELAY", "0")),
    drain_grace=float(os.environ.get("SWILL_REACT_DRAIN_GRACE", "10")),
)
