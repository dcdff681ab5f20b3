"""Swill's Python client against a raw-frame client doing the same work on the same server.

Run it with `.venv/bin/python bench/client_bench.py` (`--quick` for a smoke run). One Swill server
(`bench/apps.py swill`) runs in a subprocess on its own core; this process, on another core, is
the client. The raw client is `server_bench.py`'s load generator: websockets + msgspec, frames
built by hand, no call objects, no checks beyond the results. Rounds are interleaved, the order of
the clients alternates, each measurement runs on a fresh connection after a warm-up, and the
table shows medians.

Scenarios:

- `latency`: sequential unary calls (`add`), one at a time; p50 of each call's time.
- `calls`: unary calls with 64 in flight on one connection; calls per second. Swill's client
  runs 64 tasks, each awaiting `client.call(...)` in a loop.
- `stream`: one server stream (`count`) with the same window; both clients grant credit in
  batches of half the window as they consume; messages per second.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import platform
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from importlib.metadata import version
from pathlib import Path
from typing import Final

import msgspec

sys.path.insert(0, str(Path(__file__).resolve().parent))

from server_bench import QUICK, Config, Ids, Server, _loop_factory, _open, _percentile, latency, pipelined, stream

from swill.client import Client

__all__ = ["main", "render_table", "run"]


Work = Callable[[], Awaitable[dict[str, float]]]


async def _timed(work: Work, count: int, server: Server) -> dict[str, float]:
    """Run `work`, adding the share of one core this process used meanwhile, and the CPU time
    per operation (`count` of them) of this process and of the server: the client's own cost
    whatever the server's speed, and what the client's way of sending costs the server."""
    cpu = time.process_time()
    server_cpu = server.cpu_seconds()
    wall = time.perf_counter()
    figures = await work()
    cpu = time.process_time() - cpu
    figures["client_cpu_share"] = cpu / (time.perf_counter() - wall)
    figures["client_cpu_us"] = cpu / count * 1e6
    figures["server_cpu_us"] = (server.cpu_seconds() - server_cpu) / count * 1e6
    return figures


def _count(config: Config, scenario: str) -> int:
    return {"latency": config.latency_calls, "calls": config.calls}.get(scenario, config.stream_messages)


async def raw(config: Config, server: Server, scenario: str) -> dict[str, float]:
    """One measurement with the raw-frame client, on a fresh connection."""
    ws = await _open(server.url)
    try:
        ids = Ids()
        await latency(ws, ids, 20)  # warm this connection up

        async def work() -> dict[str, float]:
            if scenario == "latency":
                times = await latency(ws, ids, config.latency_calls)
                return {"p50_us": _percentile(times, 0.5) * 1e6}
            if scenario == "calls":
                elapsed = await pipelined(ws, ids, config.calls, config.in_flight)
                return {"calls_per_s": config.calls / elapsed}
            elapsed = await stream(ws, ids, config.stream_messages, config.window)
            return {"messages_per_s": config.stream_messages / elapsed}

        return await _timed(work, _count(config, scenario), server)
    finally:
        await ws.close()


async def swill_client(config: Config, server: Server, scenario: str) -> dict[str, float]:
    """One measurement with `swill.Client`, on a fresh connection."""
    async with Client(server.url, window=config.window, max_receive_size=None) as client:
        for i in range(20):  # warm this connection up
            await client.call("add", (i, 1))

        async def work() -> dict[str, float]:
            if scenario == "latency":
                return {"p50_us": _percentile(await _sequential(client, config.latency_calls), 0.5) * 1e6}
            if scenario == "calls":
                return {"calls_per_s": config.calls / await _in_flight(client, config.calls, config.in_flight)}
            return {"messages_per_s": config.stream_messages / await _stream(client, config.stream_messages)}

        return await _timed(work, _count(config, scenario), server)


async def _sequential(client: Client, n: int) -> list[float]:
    times = []
    clock = time.perf_counter
    for i in range(n):
        start = clock()
        result = await client.call("add", (i, 1))
        times.append(clock() - start)
        if result != i + 1:
            raise RuntimeError(f"add({i}, 1) returned {result!r}")
    return times


async def _in_flight(client: Client, n: int, in_flight: int) -> float:
    numbers = iter(range(n))

    async def worker() -> None:
        for i in numbers:  # shared: each number is taken by one worker
            if await client.call("add", (i, 1)) != i + 1:
                raise RuntimeError(f"add({i}, 1) returned a wrong result")

    start = time.perf_counter()
    async with asyncio.TaskGroup() as tg:
        for _ in range(in_flight):
            tg.create_task(worker())
    return time.perf_counter() - start


async def _stream(client: Client, n: int) -> float:
    start = time.perf_counter()
    expected = 0
    async for i in client.stream("count", n):
        if i != expected:
            raise RuntimeError(f"stream out of order: {i} after {expected - 1}")
        expected += 1
    elapsed = time.perf_counter() - start
    if expected != n:
        raise RuntimeError(f"stream ended after {expected} of {n} messages")
    return elapsed


SCENARIOS: Final = ("latency", "calls", "stream")
CLIENTS: Final = {"swill": swill_client, "raw": raw}

Results = dict[str, dict[str, list[dict[str, float]]]]
"""scenario → client → one dict of figures per round."""


async def run_rounds(server: Server, config: Config, only: tuple[str, ...] = ()) -> Results:
    """Warm up, then measure each scenario with each client, rounds interleaved, the order of
    the clients alternating."""
    chosen = [name for name in SCENARIOS if not only or name in only]
    warm = dataclasses.replace(config, latency_calls=200, calls=2000, stream_messages=2000)
    for name in chosen:
        for measure in CLIENTS.values():
            await measure(warm, server, name)
    results: Results = {name: {client: [] for client in CLIENTS} for name in chosen}
    order = list(CLIENTS.items())
    for round_ in range(config.rounds):
        for name in chosen:
            for client, measure in order if round_ % 2 == 0 else reversed(order):
                results[name][client].append(await measure(config, server, name))
    return results


def run(config: Config, only: tuple[str, ...] = ()) -> Results:
    """Start the server, run the rounds, stop it."""
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    pin = config.pin and len(cpus) >= 2
    if pin:
        os.sched_setaffinity(0, {cpus[0]})  # the client on one core, the server on another
    server = Server("swill", config, cpu=cpus[1] if pin else None)
    try:
        with asyncio.Runner(loop_factory=_loop_factory(config)) as runner:
            return runner.run(run_rounds(server, config, only))
    finally:
        server.stop()
        if pin:
            os.sched_setaffinity(0, set(cpus))


@dataclasses.dataclass(frozen=True)
class Row:
    label: str
    scenario: str
    figure: str
    higher_is_better: bool
    target: float | None = None  # the swill/raw ratio to reach


def rows(config: Config) -> list[Row]:
    window = f"window {config.window}, credit every {max(1, config.window // 2)} consumed"
    return [
        Row("unary latency p50, sequential (µs)", "latency", "p50_us", False),
        Row(f"unary calls/s, {config.in_flight} in flight on 1 connection", "calls", "calls_per_s", True, 0.9),
        Row(f"server-stream messages/s ({window})", "stream", "messages_per_s", True, 0.9),
        Row("client CPU per call, in flight (µs)", "calls", "client_cpu_us", False),
        Row("client CPU per stream message (µs)", "stream", "client_cpu_us", False),
        Row("server CPU per call, in flight (µs)", "calls", "server_cpu_us", False),
        Row("server CPU per stream message (µs)", "stream", "server_cpu_us", False),
    ]


def _format(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:.1f}"


def render_table(results: Results, config: Config) -> str:
    """The figures as a Markdown table: medians over the rounds, swill/raw ratios, targets."""
    lines = ["| metric | swill.Client | raw frames | swill / raw | target | met |", "|---|---:|---:|---:|---|---|"]
    for row in rows(config):
        per_client = results.get(row.scenario)
        if not per_client:
            continue
        ours = statistics.median(r[row.figure] for r in per_client["swill"])
        theirs = statistics.median(r[row.figure] for r in per_client["raw"])
        ratio = ours / theirs if theirs else 0.0
        target = met = ""
        if row.target is not None:
            target = f"≥ {row.target}x"
            met = "yes" if ratio >= row.target else "**no**"
        lines.append(f"| {row.label} | {_format(ours)} | {_format(theirs)} | {ratio:.2f}x | {target} | {met} |")
    return "\n".join(lines)


def render_notes(results: Results, config: Config) -> str:
    busy = {
        name: {client: statistics.median(r["client_cpu_share"] for r in rounds) for client, rounds in per.items()}
        for name, per in results.items()
    }
    loop = "uvloop" if _loop_factory(config) is not None else "asyncio"
    shares = "; ".join(
        f"{name}: " + ", ".join(f"{client} {share:.0%}" for client, share in per.items()) for name, per in busy.items()
    )
    return "\n".join(
        [
            f"- {config.rounds} interleaved rounds, medians; each measurement on a fresh connection after a warm-up.",
            f"- Python {platform.python_version()}, websockets {version('websockets')}, msgspec "
            f"{msgspec.__version__}, uvicorn {version('uvicorn')}; client loop {loop}; "
            f"{os.cpu_count()} CPUs{', client and server pinned to separate cores' if config.pin else ''}.",
            f"- Sizes: {config.latency_calls} sequential calls, {config.calls} calls {config.in_flight} in flight, "
            f"{config.stream_messages} stream messages.",
            f"- Client CPU share (median): {shares} (near 100% means the client set the pace).",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Benchmark swill.Client against a raw-frame client.")
    defaults = Config()
    parser.add_argument("--rounds", type=int, default=defaults.rounds)
    parser.add_argument("--latency-calls", type=int, default=defaults.latency_calls)
    parser.add_argument("--calls", type=int, default=defaults.calls)
    parser.add_argument("--in-flight", type=int, default=defaults.in_flight)
    parser.add_argument("--stream-messages", type=int, default=defaults.stream_messages)
    parser.add_argument("--window", type=int, default=defaults.window)
    parser.add_argument("--no-pin", action="store_true", help="don't pin client and server to separate cores")
    parser.add_argument("--quick", action="store_true", help="a tiny run that only checks the benchmark works")
    parser.add_argument("--only", action="append", choices=list(SCENARIOS), default=[])
    parser.add_argument("--verbose", action="store_true", help="also print every round's figures")
    args = parser.parse_args(argv)
    if args.quick:
        config = dataclasses.replace(QUICK, pin=not args.no_pin)
    else:
        config = Config(
            rounds=args.rounds,
            latency_calls=args.latency_calls,
            calls=args.calls,
            in_flight=args.in_flight,
            stream_messages=args.stream_messages,
            window=args.window,
            pin=not args.no_pin,
        )
    results = run(config, tuple(args.only))
    print(render_table(results, config))
    print()
    print(render_notes(results, config))
    if args.verbose:
        for name, per in results.items():
            for client, rounds in per.items():
                shown = "; ".join(", ".join(f"{k}={v:.4g}" for k, v in r.items()) for r in rounds)
                print(f"- {name} / {client}: {shown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
