"""The playground's page-free modules (json.js, schema.js, check.js) under `node --test`, live.

tests/browser/modules.test.mjs checks parsing, problems by path, examples and conversions, and
that what the page makes and says agrees with the server: its examples are accepted, and its
problems are the server's own (msgspec's) for the same values.
"""

from __future__ import annotations

import json
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


def test_modules_type_check(tmp_path: Path) -> None:
    """tsc checks the page's modules (`checkJs`) against the TypeScript client's own declarations.

    So a name that does not exist, or a use of `@swill/client` that its types don't allow, fails
    here rather than in a browser.
    """
    tsc = NODE_MODULES / "typescript" / "bin" / "tsc"
    client = tmp_path / "client"
    config = NODE_MODULES.parent / "tsconfig.build.json"
    declarations: list[str | Path] = ["node", tsc, "-p", config, "--emitDeclarationOnly", "--declarationMap", "false"]
    declarations += ["--outDir", client]
    subprocess.run(declarations, check=True, capture_output=True, timeout=120)
    page = tmp_path / "page"
    page.mkdir()
    for path in STATIC.glob("*.js"):
        if path.name != "client.js":  # the bundle: its types are the declarations above
            shutil.copy(path, page / path.name)
    (page / "client.d.ts").write_text('export * from "../client/index.js";\n')
    tsconfig = {
        "compilerOptions": {
            "allowJs": True,
            "checkJs": True,
            "noEmit": True,
            "target": "ES2022",
            "module": "ES2022",
            "moduleResolution": "bundler",
            "lib": ["ES2023", "DOM", "DOM.Iterable"],
            "noUnusedLocals": True,
            "skipLibCheck": True,
            "types": [],
        },
        "include": ["*.js", "client.d.ts"],
    }
    (page / "tsconfig.json").write_text(json.dumps(tsconfig))
    result = subprocess.run(["node", tsc, "-p", page], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
