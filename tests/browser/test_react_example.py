"""The React example (examples/react) built from its lockfile and driven in headless Chromium, and
its component tests (vitest, the in-memory test server, no Python) run.

The page is built with `npm run build` (tsc, then Vite) from what `npm ci` installed (scripts/setup
--all), and served by the example's app under `swill run`, a real process on 127.0.0.1. One
browser launch (`tests/browser/react.mjs`) fills the form, uploads and cancels a file, and
watches the live chart while the test stops the server (SIGTERM: GOAWAY and drain) and starts a
new one on the same port.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from swill._codegen import generate_typescript, load_document
from tests.processes import Output

from .test_playground import run_scenario

HERE = Path(__file__).parent
REPO = HERE.parents[1]
EXAMPLE = REPO / "examples" / "react"
SCRIPT = HERE / "react.mjs"
SWILL = REPO / ".venv" / "bin" / "swill"


@pytest.fixture(scope="module")
def built() -> Path:
    """The page, built now from the installed packages (a stale dist/ would prove nothing)."""
    if not (EXAMPLE / "node_modules").is_dir():
        pytest.fail("examples/react has no node_modules: run scripts/setup --all (npm ci there)")
    if not (REPO / "clients" / "typescript" / "dist" / "query.js").is_file():
        pytest.fail("the example uses the TypeScript client's build: cd clients/typescript && npm run build")
    result = subprocess.run(
        ["npm", "run", "build"], cwd=EXAMPLE, capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, f"npm run build failed:\n{result.stdout}\n{result.stderr}"
    return EXAMPLE / "dist"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Server:
    """`swill run examples.react.app:app` on a fixed port, which can be stopped and started again."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.process: subprocess.Popen[str] | None = None
        self.output: Output | None = None

    def start(self) -> None:
        env = {
            **os.environ,
            "SWILL_REACT_INTERVAL": "0.1",
            "SWILL_REACT_UPLOAD_DELAY": "0.01",
            "SWILL_REACT_DRAIN_GRACE": "1",  # the chart's subscription would hold the drain open
        }
        self.process = process = subprocess.Popen(
            [str(SWILL), "run", "examples.react.app:app", "--port", str(self.port)],
            cwd=REPO,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert process.stderr is not None
        self.output = Output(process.stderr, "Uvicorn running on")  # uvicorn says so on stderr
        if not self.output.wait(30):
            raise AssertionError(f"the example app did not listen within 30 s:\n{self.output}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.output is not None:
            self.output.join(10)  # it reads the log to its end
        if self.process is not None and self.process.stderr is not None:
            self.process.stderr.close()


@pytest.fixture
def server(built: Path) -> Iterator[Server]:
    server = Server(free_port())
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.timeout(300)  # the build (tsc, Vite) and a server restart, on a shared machine
def test_the_react_example_in_chromium(server: Server) -> None:
    def handle(request: str) -> None:
        assert request == "restart"
        server.stop()
        server.start()

    output = run_scenario("all", f"http://127.0.0.1:{server.port}/", handle, script=SCRIPT, deadline=240)
    assert output.rstrip().endswith("ok")


def test_the_examples_api_module_is_generated_from_its_app() -> None:
    expected = generate_typescript(load_document("examples.react.app:app"))
    assert (EXAMPLE / "src" / "api.ts").read_text() == expected, (
        "regenerate it: swill codegen typescript examples.react.app:app -o examples/react/src/api.ts"
    )


def test_the_examples_component_tests_need_no_python_server(built: Path) -> None:
    """`npm test` in the example: its components in vitest against @swill/client/testing."""
    result = subprocess.run(["npm", "test"], cwd=EXAMPLE, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, f"npm test failed:\n{result.stdout}\n{result.stderr}"
    assert "2 passed" in result.stdout
