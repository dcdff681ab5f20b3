"""Remake the screenshots of docs/playground.md: `.venv/bin/python -m tests.browser.screenshots`.

Serves the demo app (examples/playground.py) on 127.0.0.1 and runs the `docs` scenario of
playground.mjs in headless Chromium, writing into docs/images/. The test suite runs the same
scenario into test-artifacts/ (test_playground.py::test_docs_screenshots).
"""

from __future__ import annotations

from ..conftest import LiveServer
from .apps import demo
from .test_playground import REPO, run_scenario

__all__ = ["main"]


def main() -> None:
    app, _ = demo()
    server = LiveServer(app)
    server.start()
    try:
        run_scenario("docs", f"http://127.0.0.1:{server.port}", artifacts=str(REPO / "docs" / "images"))
    finally:
        server.stop()
    print("wrote docs/images/playground-*.png")


if __name__ == "__main__":
    main()
