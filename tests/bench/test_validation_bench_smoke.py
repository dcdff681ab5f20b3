"""The validation benchmark, run in a tiny configuration so that it keeps working (no timing checks)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "validation_bench.py"
ROOT = str(BENCH.parents[1])


def test_the_benchmark_compares_checkouts_type_by_type() -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH), "--quick", "--variant", f"again={ROOT}"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    table = [line for line in done.stdout.splitlines() if line.startswith("| ")]
    assert table[0].startswith("| type | this register µs | this decode ns | again register µs |")
    rows = table[1:]
    assert [row.split("|")[1].strip() for row in rows] == [
        "add: tuple[int, int]",
        "tuple[Gt(0), Gt(0)]",
        "Struct, no constraints",
        "Struct, annotated-types",
        "ValidatedStruct lines",
        "list[Predicate] x10",
    ]
    number = r"\d+(?:\.\d+)?x?"
    for row in rows:
        cells = [cell.strip() for cell in row.strip("|").split("|")][1:]
        assert len(cells) == 7 and all(re.fullmatch(number, cell) for cell in cells), row
