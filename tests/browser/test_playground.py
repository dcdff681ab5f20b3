"""The playground in headless Chromium against a real uvicorn server, one scenario a test.

Each test starts the demo app (examples/playground.py) on 127.0.0.1, port 0, and runs
`node tests/browser/playground.mjs <scenario>`, which drives /usr/bin/chromium through
playwright-core and saves screenshots under test-artifacts/playground/. A scenario asks the test
to act on the server (stop it, start it again, check how a call ended) with a `@@ ...` line.
"""

from __future__ import annotations

import asyncio
import os
import queue
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

import swill

from ..conftest import LiveServer
from .apps import demo, flooding, guarded, live, mounted

HERE = Path(__file__).parent
REPO = HERE.parents[1]
SCRIPT = HERE / "playground.mjs"
ARTIFACTS = REPO / "test-artifacts" / "playground"
DEADLINE = 100.0  # seconds for one scenario, browser start included

Handler = Callable[[str], None]


def run_scenario(
    scenario: str,
    url: str,
    handle: Handler | None = None,
    *,
    script: Path = SCRIPT,
    deadline: float = DEADLINE,
    **env: str,
) -> str:
    """Run one scenario of `script` against the server at `url`, within `deadline` seconds;
    returns what it printed."""
    with subprocess.Popen(
        ["node", str(script), scenario],
        cwd=REPO,
        env={**os.environ, "SWILL_URL": url, "ARTIFACTS": str(env.pop("artifacts", ARTIFACTS)), **env},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        output, errors, returncode = _converse(process, scenario, handle, deadline)
    assert returncode == 0, f"scenario {scenario} failed:\n{''.join(output)}\n{''.join(errors)}"
    return "".join(output)


def _converse(
    process: subprocess.Popen[str], scenario: str, handle: Handler | None, limit: float
) -> tuple[list[str], list[str], int]:
    """Read the scenario's lines, answer its requests, and wait for it to end."""
    assert process.stdin is not None and process.stdout is not None and process.stderr is not None
    lines: queue.Queue[str | None] = queue.Queue()
    errors: list[str] = []
    stdin, stdout, stderr = process.stdin, process.stdout, process.stderr

    def read_stdout() -> None:
        for line in stdout:
            lines.put(line)
        lines.put(None)

    readers = [
        threading.Thread(target=read_stdout, daemon=True),
        threading.Thread(target=lambda: errors.extend(stderr), daemon=True),
    ]
    for reader in readers:
        reader.start()
    output: list[str] = []
    deadline = time.monotonic() + limit
    try:
        while (line := lines.get(timeout=max(0.0, deadline - time.monotonic()))) is not None:
            output.append(line)
            if line.startswith("@@ "):
                answer = "done"
                try:
                    assert handle is not None, "this test takes no requests"
                    handle(line[3:].strip())
                except Exception as exc:  # the scenario reports it and fails
                    answer = f"failed: {exc!r}"
                stdin.write(answer + "\n")
                stdin.flush()
        returncode = process.wait(timeout=max(1.0, deadline - time.monotonic()))
    except (queue.Empty, subprocess.TimeoutExpired):
        process.kill()
        process.wait()
        pytest.fail(f"scenario {scenario} took longer than {limit} s:\n{''.join(output)}")
    for reader in readers:
        reader.join(5)
    return output, errors, returncode


def origin(server: LiveServer) -> str:
    return f"http://127.0.0.1:{server.port}"


@pytest.mark.parametrize(
    "scenario", ["unary", "server_stream", "client_stream", "bidi", "validation", "metadata", "errors", "navigation"]
)
def test_scenario(scenario: str, live_server: Callable[..., LiveServer]) -> None:
    app, _ = demo()
    run_scenario(scenario, origin(live_server(app)))


def test_cancel_of_a_stream_cancels_the_handler(live_server: Callable[..., LiveServer]) -> None:
    app, ended = demo()

    def handle(request: str) -> None:
        assert request == "check that sensors.watch was cancelled"
        assert ended.wait_for("sensors.watch", "CANCELLED"), f"calls that ended: {ended.calls}"

    run_scenario("cancel", origin(live_server(app)), handle)


def test_page_under_a_mount_prefix(live_server: Callable[..., LiveServer]) -> None:
    run_scenario("mounted", origin(live_server(mounted())))


def test_a_long_stream_keeps_its_newest_messages(live_server: Callable[..., LiveServer]) -> None:
    run_scenario("long_stream", origin(live_server(flooding())))


def test_without_introspection_the_page_says_so(live_server: Callable[..., LiveServer]) -> None:
    app = swill.Swill(__name__, introspection=False)

    @app.handle()
    async def ping(request: swill.Request[None]) -> None:
        """Nothing."""

    run_scenario("no_introspection", origin(live_server(app)))


def test_query_string_goes_to_the_endpoint(live_server: Callable[..., LiveServer]) -> None:
    run_scenario("token", origin(live_server(guarded())))


def test_reconnect_after_the_server_restarts(live_server: Callable[..., LiveServer]) -> None:
    app, _ = demo()
    first = live_server(app)
    port = first.port
    restarted: list[LiveServer] = []

    def handle(request: str) -> None:
        if request == "stop the server":
            first.stop()
        elif request == "start the server again":
            again, _ = demo()
            server = LiveServer(again)
            server.config.port = port  # the page reconnects to the address it knows
            server.start()
            restarted.append(server)
        else:
            raise AssertionError(request)

    try:
        run_scenario("reconnect", origin(first), handle)
    finally:
        for server in restarted:
            server.stop()
    assert restarted, "the scenario never asked for the server to start again"


def test_a_live_stream_resumes_after_the_server_restarts(live_server: Callable[..., LiveServer]) -> None:
    app, topic = live()
    servers, topics = [live_server(app)], [topic]
    port = servers[0].port
    values = iter(range(1, 1000))

    def handle(request: str) -> None:
        if request == "publish":
            published = topics[-1].publish(next(values))
            asyncio.run_coroutine_threadsafe(published, servers[-1].server_loop).result(5)
        elif request == "restart the server":
            servers[-1].stop()
            again, ticks = live()  # in memory: the topic's ids begin again
            server = LiveServer(again)
            server.config.port = port  # the page reconnects to the address it knows
            server.start()
            servers.append(server)
            topics.append(ticks)
        else:
            raise AssertionError(request)

    try:
        run_scenario("live", origin(servers[0]), handle)
    finally:
        for server in servers[1:]:
            server.stop()
    assert len(servers) == 2, "the scenario never asked for a restart"


def test_docs_screenshots(live_server: Callable[..., LiveServer]) -> None:
    app, _ = demo()
    run_scenario("docs", origin(live_server(app)), artifacts=str(ARTIFACTS / "docs"))
    assert {path.name for path in (ARTIFACTS / "docs").glob("playground-*.png")} >= {
        "playground-unary.png",
        "playground-stream.png",
        "playground-validation-dark.png",
        "playground-bidi-dark.png",
    }
