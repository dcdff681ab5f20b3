"""The topics benchmark, run in a tiny configuration so that it keeps working (no timing checks)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "topics_bench.py"
NUMBER = r"[\d,]+(?:\.\d+)?"


def test_the_benchmark_prints_a_row_per_broker() -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH), "--quick"], capture_output=True, text=True, timeout=100, check=False
    )
    assert done.returncode == 0, done.stderr
    rows = [line for line in done.stdout.splitlines() if line.startswith("| ")]
    assert rows[0].startswith("| broker | published/s | delivered |")
    assert [row.split("|")[1].strip() for row in rows[1:]] == ["memory", "redis"]
    for row in rows[1:]:
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        assert re.fullmatch(rf"{NUMBER} of {NUMBER}", cells[2]), row
        delivered, expected = cells[2].split(" of ")
        assert delivered == expected  # fifo: every value reached every subscriber
        assert all(re.fullmatch(rf"{NUMBER}( MiB)?", cell) for cell in cells[3:]), row
