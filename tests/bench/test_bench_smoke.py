"""The server benchmark, run in a tiny configuration so that it keeps working (no timing checks)."""

from __future__ import annotations

import importlib
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parents[2] / "bench" / "server_bench.py"

ROWS = (
    "unary latency p50",
    "unary latency p99",
    "unary calls/s, 64 in flight on 1 connection",
    "server-stream messages/s (window 256",
    "echo, time per call p50",
    "echo, payload MiB/s",
    "server CPU per call, 64 in flight",
    "server CPU per stream message",
    "unary calls/s, 10 connections x 5 sequential calls",
    "server CPU per call, 10 connections",
    "permessage-deflate (browser-like)",
    "server CPU per call, permessage-deflate",
    "memory per idle connection (KB)",
    "memory per idle connection, permessage-deflate (KB)",
)
NUMBER = r"[\d,]+(?:\.\d+)?"


def bench(*args: str, timeout: float = 90, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run `bench/server_bench.py` with `args`; its output."""
    return subprocess.run(
        [sys.executable, str(BENCH), *args], capture_output=True, text=True, timeout=timeout, check=False, env=env
    )


def _tables(lines: list[str]) -> dict[str, list[str]]:
    """Each load generator's table rows (the header left out), by the generator's
    heading (`**Node load generator**`, `**Python load generator**`)."""
    tables: dict[str, list[str]] = {}
    heading = ""
    for line in lines:
        if line.startswith("**"):
            heading = line.split("**")[1]
            tables[heading] = []
        elif line.startswith("| ") and heading:
            tables[heading].append(line)
    return {heading: table[1:] for heading, table in tables.items()}


def _check_table(table: list[str]) -> None:
    for label in ROWS:
        [row] = [line for line in table if label in line]
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        assert re.fullmatch(f"-?{NUMBER}", cells[1]), row
        assert re.fullmatch(f"-?{NUMBER}", cells[2]), row
        assert re.fullmatch(rf"-?{NUMBER}x|-", cells[3]), row
    targets = [line for line in table if "x |" in line and ("yes |" in line or "**no** |" in line)]
    assert len(targets) == 6  # p50 latency, calls/s, stream messages/s, echo MiB/s, 200 connections, idle memory


def test_the_benchmark_prints_a_table_comparing_swill_with_the_bare_endpoint_per_load_generator() -> None:
    done = bench("--quick", "--generator", "both")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("**Node load generator** (Node v"), lines[0]
    assert lines[2] == "| metric | Swill | bare | Swill / bare | target | met |"
    tables = _tables(lines)
    assert list(tables) == ["Node load generator", "Python load generator"]
    for table in tables.values():
        _check_table(table)
    for generator in ("node", "python"):
        assert any(line.startswith(f"- Load generator CPU share, {generator}") for line in lines)
    assert any(line.endswith("2 batches of 10 connections x 5 calls.") for line in lines)


def test_without_node_the_python_generator_runs_alone_and_the_notes_say_why() -> None:
    no_node = {**os.environ, "PATH": str(Path(sys.executable).parent)}
    done = bench("--quick", "--only", "calls", env=no_node)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    tables = _tables(lines)
    assert list(tables) == ["Python load generator"]
    [row] = [line for line in tables["Python load generator"] if line.startswith("| unary calls/s, 64 in flight")]
    assert re.fullmatch(rf"\| [^|]+ \| {NUMBER} \| {NUMBER} \| {NUMBER}x \|.*", row), row
    assert "- Python load generator only: node is not on PATH (Node is the faster client)." in lines

    asked = bench("--quick", "--generator", "node", timeout=30, env=no_node)
    assert asked.returncode == 1
    assert asked.stderr == "server_bench.py: --generator node: node is not on PATH\n"


def test_the_hostile_scenario_prints_latency_and_memory_alone_and_beside_each_hostile_client() -> None:
    done = bench("--hostile", "--quick")
    assert done.returncode == 0, done.stderr
    table = [line for line in done.stdout.splitlines() if line.startswith("| ")]
    assert table[0].startswith("| well-behaved client")
    for label in ("alone", "beside a firehose", "beside a flood of frames"):
        [row] = [line for line in table if line.startswith(f"| {label} |")]
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        assert all(re.fullmatch(rf"-?{NUMBER}", cell) for cell in cells[1:]), row


def test_with_metrics_the_table_compares_the_app_with_metrics_on_and_off() -> None:
    done = bench("--quick", "--metrics", "--only", "calls", "--generator", "node")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "| metric | swill | swill+metrics | swill+metrics / swill |" in lines
    [row] = [line for line in lines if line.startswith("| unary calls/s") and line.count("|") == 5]
    cells = [cell.strip() for cell in row.strip("|").split("|")]
    assert re.fullmatch(NUMBER, cells[1]) and re.fullmatch(NUMBER, cells[2]), row
    assert re.fullmatch(rf"{NUMBER}x", cells[3]), row


def test_keep_freed_memory_runs_both_servers_with_the_allocator_settings_the_docs_advise() -> None:
    sys.path.insert(0, str(BENCH.parent))
    try:
        server_bench: Any = importlib.import_module("server_bench")
    finally:
        sys.path.remove(str(BENCH.parent))
    config = server_bench.dataclasses.replace(server_bench.QUICK, keep_freed_memory=True)
    advised = (Path(__file__).resolve().parents[2] / "docs" / "deployment.md").read_text()
    for name in ("swill", "bare"):
        server = server_bench.Server(name, config, cpu=None)
        try:
            environ = Path(f"/proc/{server.process.pid}/environ").read_bytes().split(b"\0")
        finally:
            server.stop()
        for key, value in server_bench.KEEP_FREED_MEMORY.items():
            assert f"{key}={value}".encode() in environ
            assert f"{key}={value}" in advised
