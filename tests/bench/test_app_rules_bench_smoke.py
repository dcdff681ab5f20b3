"""The app rules benchmark, run in a tiny configuration so that it keeps working (no timing checks)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "app_rules_bench.py"


def test_the_benchmark_prints_a_row_per_type() -> None:
    done = subprocess.run([sys.executable, str(BENCH), "--quick"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    rows = [line for line in done.stdout.splitlines() if line.startswith("| ")][1:]
    assert [row.split("|")[1].strip() for row in rows] == ["tuple[int, int]", "Order (3 lines)", "list[int] x100"]
    for row in rows:
        cells = [cell.strip() for cell in row.strip("|").split("|")][1:]
        assert len(cells) == 6 and all(re.fullmatch(r"\d+(?:\.\d+)?x?", cell) for cell in cells), row
