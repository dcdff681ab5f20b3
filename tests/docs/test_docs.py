"""The docs site builds with `mkdocs build --strict`, and its code is real: Python blocks parse,
and every example a page includes is a module that a test in this folder runs."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import DOCS, PYTHON_BLOCK

ROOT = Path(__file__).parents[2]
EXAMPLES = ROOT / "examples"
PAGES = sorted(DOCS.glob("*.md"))
TS_TESTS = ("clients/typescript/test/", "examples/react/src/")
"""Folders whose `*.test.ts(x)` files vitest runs: the client's suite (scripts/test) and the React
example's (tests/browser/test_react_example.py)."""
SNIPPET = re.compile(r'^--8<-- "([^":]+)(?::[\w-]+)?"$', re.MULTILINE)


def test_mkdocs_build_strict(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "site" / "index.html").is_file()


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_python_blocks_parse(page: Path) -> None:
    for block in PYTHON_BLOCK.findall(page.read_text(encoding="utf-8")):
        if not block.startswith("--8<--"):
            ast.parse(block, filename=str(page))


def included_examples() -> set[str]:
    found = set()
    for page in PAGES:
        for path in SNIPPET.findall(page.read_text(encoding="utf-8")):
            found.add(path)
    return found


def test_included_examples_exist_and_are_tested() -> None:
    included = included_examples()
    assert included, "no page includes an example"
    tests = "\n".join(path.read_text(encoding="utf-8") for path in Path(__file__).parent.glob("test_*.py"))
    for path in included:
        assert (ROOT / path).is_file(), path
        if path.startswith(TS_TESTS) and path.endswith((".test.ts", ".test.tsx")):
            continue  # itself a test, which vitest runs
        module = Path(path).stem
        assert re.search(rf"^from examples import .*\b{module}\b", tests, re.MULTILINE), f"no test runs {path}"


def test_vitest_runs_the_typescript_files_pages_include() -> None:
    config = (ROOT / "clients/typescript/vitest.config.ts").read_text(encoding="utf-8")
    assert 'include: ["test/**/*.test.ts"]' in config
    assert '"test": "vitest run"' in (ROOT / "examples/react/package.json").read_text(encoding="utf-8")
    runner = (ROOT / "tests/browser/test_react_example.py").read_text(encoding="utf-8")
    assert '["npm", "test"], cwd=EXAMPLE' in runner


def test_every_example_module_is_on_a_page() -> None:
    included = included_examples()
    modules = {f"examples/{path.name}" for path in EXAMPLES.glob("*.py") if path.name != "__init__.py"}
    assert modules <= included, f"examples no page shows: {sorted(modules - included)}"
