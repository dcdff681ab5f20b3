"""The in-process ASGI driver of the benchmarks (bench/asgi_driver.py), run small so that it keeps
working: every scenario on both apps prints a CPU time per operation (no timing checks)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

DRIVER = Path(__file__).resolve().parents[2] / "bench" / "asgi_driver.py"


SIZES = [("unary", 200), ("seq", 50), ("stream", 600), ("big", 3), ("connections", 5)]


@pytest.mark.parametrize("app", ["swill", "bare"])
@pytest.mark.parametrize(("scenario", "n"), SIZES)
def test_each_scenario_prints_a_cpu_time_per_operation(app: str, scenario: str, n: int) -> None:
    done = subprocess.run(
        [sys.executable, str(DRIVER), scenario, str(n), "--app", app], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert float(done.stdout) > 0
    assert "page faults per operation" in done.stderr
