"""The playground's page-free modules (json.js, schema.js) under `node --test`, against live servers.

tests/browser/modules.test.mjs checks parsing, problems by path, examples and conversions, and
that what the page makes and says agrees with the server: its examples are accepted, and its
problems are the server's own (msgspec's) for the same values.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

from ..conftest import LiveServer
from ..introspection import catalog
from .apps import demo

HERE = Path(__file__).parent
STATIC = HERE.parents[1] / "swill" / "playground" / "static"
NODE_MODULES = HERE.parents[1] / "clients" / "typescript" / "node_modules"


def test_modules(tmp_path: Path, live_server: Callable[..., LiveServer]) -> None:
    # The page's .js files are ES modules: give Node a folder that says so.
    modules = tmp_path / "modules"
    shutil.copytree(STATIC, modules)
    (modules / "package.json").write_text('{"type": "module"}\n')
    app, _ = demo()
    env = {
        **os.environ,
        "PLAYGROUND_MODULES": str(modules),
        "CLIENT_MODULES": str(NODE_MODULES.parent),
        "CATALOG_URL": live_server(catalog.app).url,
        "DEMO_URL": live_server(app).url,
    }
    result = subprocess.run(
        ["node", "--test", "--test-reporter=spec", str(HERE / "modules.test.mjs")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
