"""A live machine dashboard: telemetry and alerts pushed to every browser through topics.

Serve it with `uvicorn examples.dashboard.app:app` and open http://127.0.0.1:8000/. The page
(`index.html`) uses the TypeScript client, served from `clients/typescript/dist`, so build that
first: `cd clients/typescript && npm ci && npm run build`.

- A driver thread stands for the machine's hardware: it samples the machine and publishes each
  sample with `telemetry.publish_threadsafe(...)`, and raises alerts when it runs hot.
- `telemetry` replays its last value and keeps a history of 120 samples, so a page that opens
  draws its chart at once and a page that reconnects fills the gap (`after=<last id>`).
- `alerts` is `fifo`: every browser gets every alert, in order.
- `set_speed` is an ordinary rpc the page calls to drive the machine.

With `SWILL_BROKER=redis://...` several workers share the topics; let one of them run the
driver (`DASHBOARD_DRIVER=1`, the default) and the others not (`DASHBOARD_DRIVER=0`).
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Annotated, Literal

import annotated_types as at
import msgspec
from starlette.responses import FileResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

import swill
from swill._topics import Topic

HERE = Path(__file__).resolve().parent
CLIENT = HERE.parents[1] / "clients" / "typescript"
MSGPACK = CLIENT / "node_modules" / "@msgpack" / "msgpack" / "dist.esm"


class Telemetry(msgspec.Struct):
    """One sample of the machine."""

    at: float
    """When it was taken, in Unix seconds."""
    temperature: float
    """Spindle temperature, °C."""
    rpm: int
    """Spindle speed."""
    target_rpm: int
    """The speed the machine is driving towards."""


class Alert(msgspec.Struct):
    at: float
    level: Literal["warning", "critical", "ok"]
    message: str


class Machine:
    """A spindle that heats up with its speed. `step()` advances it by `dt` seconds."""

    AMBIENT = 20.0
    WARNING = 70.0
    CRITICAL = 90.0

    def __init__(self) -> None:
        self.rpm = 0.0
        self.target_rpm = 0
        self.temperature = self.AMBIENT
        self.lock = threading.Lock()

    def step(self, dt: float) -> Telemetry:
        with self.lock:
            self.rpm += (self.target_rpm - self.rpm) * min(1.0, 2.0 * dt)
            hot = self.AMBIENT + self.rpm / 60  # the temperature it settles at, at this speed
            self.temperature += (hot - self.temperature) * min(1.0, 0.4 * dt)
            return Telemetry(time.time(), round(self.temperature, 2), round(self.rpm), self.target_rpm)


def level(temperature: float) -> Literal["warning", "critical", "ok"]:
    if temperature >= Machine.CRITICAL:
        return "critical"
    return "warning" if temperature >= Machine.WARNING else "ok"


def create_app(
    *, interval: float = 0.25, time_scale: float = 1.0, driver: bool = True, broker: str | None = None
) -> swill.Swill:
    """The dashboard app: a sample every `interval` seconds; the machine runs `time_scale` times
    faster than real time (tests make it quick)."""
    routes = [
        Route("/", lambda request: FileResponse(HERE / "index.html")),
        # The TS client's ESM build and its one dependency, for the page's import map.
        Mount("/client/msgpack", StaticFiles(directory=MSGPACK, check_dir=False)),
        Mount("/client", StaticFiles(directory=CLIENT / "dist", check_dir=False)),
    ]
    app = swill.Swill(__name__, routes=routes, broker=broker)
    telemetry: Topic[Telemetry] = app.topic(
        "telemetry", Telemetry, replay=True, policy="latest", queue_size=1, history=120
    )
    alerts: Topic[Alert] = app.topic("alerts", Alert, policy="fifo", queue_size=16, history=50)
    app.expose(telemetry)
    app.expose(alerts)
    machine = Machine()

    @app.handle()
    async def set_speed(request: swill.Request[Annotated[int, at.Ge(0), at.Le(6000)]]) -> int:
        """Set the spindle's target speed (rpm, 0 to 6000); returns the previous target."""
        with machine.lock:
            previous, machine.target_rpm = machine.target_rpm, request.data
        return previous

    def drive(stop: threading.Event) -> None:
        """The driver thread: sample, publish, alert on a change of level."""
        last_level = "ok"
        while not stop.wait(interval):
            sample = machine.step(interval * time_scale)
            try:
                telemetry.publish_threadsafe(sample)
                now = level(sample.temperature)
                if now != last_level:
                    message = f"spindle at {sample.temperature:.1f} °C ({sample.rpm} rpm)"
                    alerts.publish_threadsafe(Alert(sample.at, now, message))
                    last_level = now
            except RuntimeError:  # the app stopped
                return

    if driver:
        stop = threading.Event()
        thread = threading.Thread(target=drive, args=(stop,), name="dashboard driver", daemon=True)
        app.on_startup(thread.start)

        @app.on_shutdown
        def stop_driver() -> None:
            stop.set()
            thread.join(5)

    return app


app = create_app(
    broker=os.environ.get("SWILL_BROKER") or None,
    driver=os.environ.get("DASHBOARD_DRIVER", "1") != "0",
)
