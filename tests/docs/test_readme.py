"""The README's quickstart: the serving command, and the `swill call` lines run as written."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from examples import quickstart

ROOT = Path(__file__).parents[2]
SWILL = str(Path(sys.executable).with_name("swill"))
README = (ROOT / "README.md").read_text()


def test_one_serving_command_everywhere() -> None:
    serve = "swill run examples.quickstart:app"
    assert serve in (ROOT / "scripts" / "serve").read_text()
    assert f".venv/bin/{serve}" in README
    assert f"$ .venv/bin/{serve}\n" in (ROOT / "docs" / "getting-started.md").read_text()
    assert "uvicorn examples.quickstart:app\n```" not in (ROOT / "docs" / "getting-started.md").read_text()


def test_the_swill_call_lines_print_what_they_say(serve: Callable[..., str]) -> None:
    address = serve(quickstart.app).removeprefix("ws://").removesuffix("/ws")
    lines = re.findall(r"^\.venv/bin/swill call (.*?)(?:  +# prints (.*))?$", README, re.MULTILINE)
    assert len(lines) == 3
    for arguments, printed in lines:
        argv = shlex.split(arguments.replace("localhost:8000", address))
        done = subprocess.run([SWILL, "call", *argv], capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        if printed:
            expected = re.findall(r"\d+", printed.split(", one per line")[0])
            assert done.stdout.split() == expected
