"""Swill's server against a bare Starlette WebSocket endpoint on the same uvicorn.

Run it with `.venv/bin/python bench/server_bench.py` (see `bench/README.md`). Each server runs in
its own subprocess (`bench/apps.py`). Two load generators speak the raw frames of docs/protocol.md
to them: this process (`python`: websockets + msgspec) and a Node process (`node`:
`bench/node_generator.mjs`, ws + @msgpack/msgpack), both on the client core. Rounds are
interleaved, the order of the generators and of the servers alternates, and each generator's
table shows the medians over the rounds.

Scenarios, each on a fresh connection:

- `latency`: sequential unary calls (`add`), one at a time; p50 and p99 of each call's time.
- `calls`: unary calls with a fixed number in flight on one connection; calls per second.
- `stream`: one server stream (`count`); Swill's call carries a window and the client grants
  credit in batches of half the window as it consumes; messages per second.
- `big`: sequential echoes of a 1 MiB `bytes` payload; time per echo.
- `fanout`: 200 connections, each making 20 sequential unary calls, all at once; calls per second
  over 5 such batches, each on fresh connections.
- `deflate`: `calls` again from a browser-like client that negotiates permessage-deflate.
- `idle`: 200 idle connections (with permessage-deflate, as browsers open them); the server's
  memory per connection.

The servers' CPU time is read from /proc around each measurement, so the table also shows the
server CPU each call costs, a figure the client's own speed cannot cap.

`--hostile` runs another table, on Swill only: a well-behaved client's sequential unary calls
(p50, p99) and the server's RSS growth, alone and beside a firehose client (a `firehose` stream of
1 KiB rows with no window, into a socket that client never reads), the two alternating by round.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import glob
import json
import os
import platform
import selectors
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import contextmanager
from importlib.metadata import version
from pathlib import Path
from typing import Any, Final, Protocol

import msgspec
import uvicorn
from websockets.asyncio.client import ClientConnection, connect
from websockets.client import ClientProtocol
from websockets.typing import Subprotocol
from websockets.uri import parse_uri

__all__ = ["Config", "Server", "main", "render_table", "run"]

HERE: Final = Path(__file__).resolve().parent
APPS_SCRIPT: Final = HERE / "apps.py"
NODE_SCRIPT: Final = HERE / "node_generator.mjs"
NODE_MODULES: Final = HERE.parent / "clients" / "typescript" / "node_modules"
GENERATORS: Final = ("node", "python")
"""The load generators, in the order their tables are printed: Node's first, the faster client."""
MiB: Final = 1 << 20
METRICS: Final = "swill+metrics"
"""The label of the app with Prometheus metrics on (`--metrics`)."""

_encode: Final = msgspec.msgpack.Encoder().encode
_decode: Final = msgspec.msgpack.Decoder().decode


@dataclasses.dataclass(frozen=True)
class Config:
    """What one benchmark run does."""

    rounds: int = 7
    latency_calls: int = 2000
    calls: int = 20000
    in_flight: int = 64
    stream_messages: int = 50000
    window: int = 256
    big_echoes: int = 100
    big_size: int = MiB
    firehose_rows: int = 100_000_000
    fanout_connections: int = 200
    fanout_calls: int = 20
    fanout_batches: int = 5
    idle_connections: int = 200
    loop: str = "auto"
    ws: str = "auto"
    http: str = "auto"
    pin: bool = True
    keep_freed_memory: bool = False


QUICK: Final = Config(
    rounds=1,
    latency_calls=50,
    calls=500,
    stream_messages=500,
    big_echoes=2,
    big_size=64 * 1024,
    fanout_connections=10,
    fanout_calls=5,
    fanout_batches=2,
    idle_connections=10,
)


# The servers.

KEEP_FREED_MEMORY: Final = {"MALLOC_MMAP_THRESHOLD_": "16777216", "MALLOC_TRIM_THRESHOLD_": "33554432"}
"""What docs/deployment.md ("Large messages and the C allocator") advises for large messages:
glibc keeps up to 32 MiB of freed memory instead of handing it back to the kernel after each one."""


class Server:
    """One server subprocess (`bench/apps.py NAME`) on 127.0.0.1."""

    def __init__(
        self,
        name: str,
        config: Config,
        *,
        cpu: int | None,
        label: str | None = None,
        pythonpath: str | None = None,
        profile: str | None = None,
        py_spy: str | None = None,
    ) -> None:
        command = [
            sys.executable,
            str(APPS_SCRIPT),
            name,
            "--loop",
            config.loop,
            "--ws",
            config.ws,
            "--http",
            config.http,
        ]
        if profile is not None:
            command += ["--profile", profile]
        self.name = label or name
        env = dict(os.environ)
        if config.keep_freed_memory:
            env.update(KEEP_FREED_MEMORY)
        if pythonpath is not None:
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [pythonpath, env.get("PYTHONPATH")]))
        self.py_spy: subprocess.Popen[bytes] | None = None  # set before anything can call stop()
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env)
        if cpu is not None:
            os.sched_setaffinity(self.process.pid, {cpu})
        self.port = self._read_port()
        self.url = f"ws://127.0.0.1:{self.port}/ws"
        if py_spy is not None:
            record = ["record", "--pid", str(self.process.pid), "--rate", "1000", "--format", "raw"]
            self.py_spy = subprocess.Popen(
                [_py_spy(), *record, "--nonblocking", "--output", py_spy], stdout=subprocess.DEVNULL
            )

    def _read_port(self) -> int:
        assert self.process.stdout is not None
        with selectors.DefaultSelector() as selector:
            selector.register(self.process.stdout, selectors.EVENT_READ)
            if not selector.select(timeout=30):
                self.stop()
                raise RuntimeError(f"server {self.name} did not start")
        line = self.process.stdout.readline()
        if not line.startswith("port "):
            self.stop()
            raise RuntimeError(f"server {self.name} did not start: {line!r}")
        return int(line.split()[1])

    def cpu_seconds(self) -> float:
        """The CPU time the server process has used, in seconds: from schedstat (nanoseconds)
        where the kernel has it, else from stat (clock ticks, often 10 ms)."""
        pid = self.process.pid
        try:
            return (
                sum(int(Path(stat).read_text().split()[0]) for stat in glob.glob(f"/proc/{pid}/task/*/schedstat")) / 1e9
            )
        except (OSError, ValueError, IndexError):
            pass
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def rss_bytes(self) -> int:
        """The server process's resident memory, from /proc."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise RuntimeError("no VmRSS in /proc/<pid>/status")

    def stop(self) -> None:
        if self.py_spy is not None and self.py_spy.poll() is None:
            self.py_spy.send_signal(signal.SIGINT)  # py-spy writes its samples when interrupted
            self.py_spy.wait(30)
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()


def _py_spy() -> str:
    found = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
    if found is None:
        raise RuntimeError("py-spy is not installed: pip install py-spy")
    return found


@contextmanager
def servers(
    config: Config,
    variants: dict[str, str] | None = None,
    profile: str | None = None,
    py_spy: str | None = None,
    metrics: bool = False,
) -> Iterator[dict[str, Server]]:
    """Start the servers, by label: `swill`, `bare`, and one more Swill server for each variant
    (label → a directory holding another copy of the `swill` package, put first on PYTHONPATH).
    The `swill` server runs under cProfile when `profile` names a file for the stats, and py-spy
    samples it into `py_spy` (collapsed stacks) when that names one. With `metrics`, also the same
    app with Prometheus metrics on, as `swill+metrics`."""
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    pin = config.pin and len(cpus) >= 2
    if pin:
        os.sched_setaffinity(0, {cpus[0]})  # the load generator on one core, the servers on another
    started: dict[str, Server] = {}
    try:
        cpu = cpus[1] if pin else None
        started["swill"] = Server("swill", config, cpu=cpu, profile=profile, py_spy=py_spy)
        started["bare"] = Server("bare", config, cpu=cpu)
        for label, path in (variants or {}).items():
            started[label] = Server("swill", config, cpu=cpu, label=label, pythonpath=path)
        if metrics:
            started[METRICS] = Server("swill-metrics", config, cpu=cpu, label=METRICS)
        yield started
    finally:
        for server in started.values():
            server.stop()
        if pin:
            os.sched_setaffinity(0, set(cpus))


# The load generator.


class Ids:
    """Strictly increasing call ids for one connection."""

    def __init__(self) -> None:
        self.last = 0

    def next(self) -> int:
        self.last += 1
        return self.last


async def _open(url: str, *, deflate: bool = False) -> ClientConnection:
    ws = await connect(
        url,
        subprotocols=[Subprotocol("swill.v1")],
        compression="deflate" if deflate else None,
        max_size=None,
        ping_interval=None,
        user_agent_header=None,
        proxy=None,
    )
    hello = _decode(await ws.recv(decode=False))
    if hello[0] != 8:
        raise RuntimeError(f"expected HELLO, got {hello!r}")
    return ws


def _expect(frame: list[Any], type_: int, id: int) -> None:
    if frame[0] != type_ or frame[1] != id:
        raise RuntimeError(f"expected frame type {type_} for call {id}, got {frame!r}"[:300])


async def latency(ws: ClientConnection, ids: Ids, n: int) -> list[float]:
    """`n` sequential unary calls; each one's time in seconds."""
    times = []
    clock = time.perf_counter
    for i in range(n):
        id = ids.next()
        start = clock()
        await ws.send(_encode([0, id, "add", None, None, [i, 1]]))
        frame = _decode(await ws.recv(decode=False))
        times.append(clock() - start)
        _expect(frame, 6, id)
        if frame[2] != i + 1:
            raise RuntimeError(f"add({i}, 1) returned {frame[2]!r}")
    return times


async def pipelined(ws: ClientConnection, ids: Ids, n: int, in_flight: int) -> float:
    """`n` unary calls with `in_flight` of them open at a time; the seconds they took."""
    start = time.perf_counter()
    open_calls: set[int] = set()
    sent = 0
    for _ in range(min(in_flight, n)):
        id = ids.next()
        open_calls.add(id)
        await ws.send(_encode([0, id, "add", None, None, [id, 1]]))
        sent += 1
    while open_calls:
        frame = _decode(await ws.recv(decode=False))
        if frame[0] != 6 or frame[1] not in open_calls or frame[2] != frame[1] + 1:
            raise RuntimeError(f"unexpected frame {frame!r}")
        open_calls.remove(frame[1])
        if sent < n:
            id = ids.next()
            open_calls.add(id)
            await ws.send(_encode([0, id, "add", None, None, [id, 1]]))
            sent += 1
    return time.perf_counter() - start


async def stream(ws: ClientConnection, ids: Ids, n: int, window: int) -> float:
    """One server stream of `n` messages, granting credit in batches of half the window as it
    consumes; the seconds it took."""
    id = ids.next()
    batch = max(1, window // 2)
    consumed = 0
    received = 0
    start = time.perf_counter()
    await ws.send(_encode([0, id, "count", None, {"window": window}, n]))
    while True:
        frame = _decode(await ws.recv(decode=False))
        if frame[0] == 1 and frame[1] == id:
            if frame[2] != received:
                raise RuntimeError(f"stream out of order: {frame[2]} after {received - 1}")
            received += 1
            consumed += 1
            if consumed >= batch and received < n:
                await ws.send(_encode([7, id, consumed]))
                consumed = 0
            continue
        _expect(frame, 3, id)
        break
    elapsed = time.perf_counter() - start
    if received != n:
        raise RuntimeError(f"stream ended after {received} of {n} messages")
    return elapsed


async def big(ws: ClientConnection, ids: Ids, n: int, size: int) -> list[float]:
    """`n` sequential echoes of a `size`-byte payload; each one's time in seconds."""
    payload = os.urandom(size)
    times = []
    for _ in range(n):
        id = ids.next()
        start = time.perf_counter()
        await ws.send(_encode([0, id, "echo", None, None, payload]))
        frame = _decode(await ws.recv(decode=False))
        times.append(time.perf_counter() - start)
        _expect(frame, 6, id)
        if frame[2] != payload:
            raise RuntimeError("echo returned a different payload")
    return times


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


Measure = Callable[[ClientConnection, Ids, str], Awaitable[dict[str, float]]]
"""A scenario on one warmed-up connection (`ws`, its `ids`), given the server's URL for more."""


def scenarios(config: Config) -> dict[str, Measure]:
    """Each scenario: what it measures on one connection, as named figures."""

    async def measure_latency(ws: ClientConnection, ids: Ids, url: str) -> dict[str, float]:
        times = await latency(ws, ids, config.latency_calls)
        return {"p50_us": _percentile(times, 0.5) * 1e6, "p99_us": _percentile(times, 0.99) * 1e6}

    async def measure_calls(ws: ClientConnection, ids: Ids, url: str) -> dict[str, float]:
        elapsed = await pipelined(ws, ids, config.calls, config.in_flight)
        return {"calls_per_s": config.calls / elapsed, "count": config.calls}

    async def measure_stream(ws: ClientConnection, ids: Ids, url: str) -> dict[str, float]:
        elapsed = await stream(ws, ids, config.stream_messages, config.window)
        return {"messages_per_s": config.stream_messages / elapsed, "count": config.stream_messages}

    async def measure_big(ws: ClientConnection, ids: Ids, url: str) -> dict[str, float]:
        times = await big(ws, ids, config.big_echoes, config.big_size)
        p50 = _percentile(times, 0.5)
        return {
            "p50_ms": p50 * 1e3,
            "mib_per_s": config.big_size / MiB / p50,
            "count": config.big_echoes,
        }

    async def measure_fanout(ws: ClientConnection, ids: Ids, url: str) -> dict[str, float]:
        n, each = config.fanout_connections, config.fanout_calls
        elapsed = 0.0
        for _ in range(config.fanout_batches):  # a batch is a few tenths of a second: several
            connections = await asyncio.gather(*(_open(url) for _ in range(n)))
            try:
                start = time.perf_counter()
                await asyncio.gather(*(latency(c, Ids(), each) for c in connections))
                elapsed += time.perf_counter() - start
            finally:
                await asyncio.gather(*(c.close() for c in connections))
        count = n * each * config.fanout_batches
        return {"calls_per_s": count / elapsed, "count": count}

    async def measure_deflate(ws: ClientConnection, ids: Ids, url: str) -> dict[str, float]:
        browser = await _open(url, deflate=True)
        try:
            browser_ids = Ids()
            await latency(browser, browser_ids, 20)
            elapsed = await pipelined(browser, browser_ids, config.calls, config.in_flight)
        finally:
            await browser.close()
        return {"calls_per_s": config.calls / elapsed, "count": config.calls}

    return {
        "latency": measure_latency,
        "calls": measure_calls,
        "stream": measure_stream,
        "big": measure_big,
        "fanout": measure_fanout,
        "deflate": measure_deflate,
    }


async def idle_memory(server: Server, config: Config) -> dict[str, float]:
    """The server's RSS growth per idle connection, in bytes: `idle_connections` plain ones, then
    as many more with permessage-deflate, all held open (freed memory would be reused)."""
    figures = {}
    held: list[ClientConnection] = []
    try:
        for deflate in (False, True):  # the first connections of each kind cost more: not measured
            warm = [await _open(server.url, deflate=deflate) for _ in range(10)]
            held += warm
            await asyncio.gather(*(latency(c, Ids(), 1) for c in warm))
        for key, deflate in (("plain", False), ("deflate", True)):
            before = server.rss_bytes()
            opened = [await _open(server.url, deflate=deflate) for _ in range(config.idle_connections)]
            held += opened
            await asyncio.gather(*(latency(c, Ids(), 1) for c in opened))  # each one served
            figures[key] = (server.rss_bytes() - before) / config.idle_connections
    finally:
        await asyncio.gather(*(c.close() for c in held))
    return figures


async def _measure(server: Server, measure: Measure) -> dict[str, float]:
    ws = await _open(server.url)
    try:
        ids = Ids()
        await latency(ws, ids, 20)  # warm this connection up
        cpu = server.cpu_seconds()
        client_cpu = time.process_time()
        wall = time.perf_counter()
        figures = await measure(ws, ids, server.url)
        wall = time.perf_counter() - wall
        figures["server_cpu_s"] = server.cpu_seconds() - cpu
        figures["client_cpu_share"] = (time.process_time() - client_cpu) / wall
        return figures
    finally:
        await ws.close()


Results = dict[str, dict[str, list[dict[str, float]]]]
"""scenario → server → one dict of figures per round."""

Runs = dict[str, Results]
"""load generator → its results."""


class Generator(Protocol):
    """A load generator: measures one scenario against one server at a time."""

    name: str

    async def measure(self, server: Server, scenario: str, config: Config) -> dict[str, float]:
        """One scenario on a fresh, warmed-up connection: its figures, with `server_cpu_s` (the
        server's CPU time during the measurement) and `client_cpu_share` (the generator's CPU
        time over the wall-clock time)."""
        ...

    async def idle(self, server: Server, config: Config) -> dict[str, float]:
        """The server's RSS growth per idle connection, in bytes: `plain` and `deflate`."""
        ...

    async def close(self) -> None: ...


class PythonGenerator:
    """This process: websockets + msgspec, on the event loop `run` starts."""

    name = "python"

    async def measure(self, server: Server, scenario: str, config: Config) -> dict[str, float]:
        return await _measure(server, scenarios(config)[scenario])

    async def idle(self, server: Server, config: Config) -> dict[str, float]:
        return await idle_memory(server, config)

    async def close(self) -> None:
        pass


class NodeGenerator:
    """A Node process running `bench/node_generator.mjs` (ws + @msgpack/msgpack), driven in JSON
    lines. It inherits this process's CPU affinity, so start it where this process is pinned to
    the client core. The server's CPU time and RSS are read here, from /proc, at the marks the
    generator sends, as `_measure` reads them for the Python generator."""

    name = "node"
    timeout: Final = 600.0
    """The longest a measurement may take, in seconds."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    @classmethod
    async def start(cls) -> NodeGenerator:
        process = await asyncio.create_subprocess_exec(
            "node",
            str(NODE_SCRIPT),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            limit=MiB,
        )
        generator = cls(process)
        if "ready" not in await generator._receive():
            await generator.close()
            raise RuntimeError("the Node load generator did not start")
        return generator

    async def _receive(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = await asyncio.wait_for(self.process.stdout.readline(), self.timeout)
        if not line:
            raise RuntimeError(f"the Node load generator exited ({await self.process.wait()})")
        message: dict[str, Any] = json.loads(line)
        if "error" in message:
            raise RuntimeError(f"the Node load generator failed: {message['error']}")
        return message

    async def _send(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line.encode() + b"\n")
        await self.process.stdin.drain()

    async def _run(
        self, server: Server, scenario: str, config: Config
    ) -> tuple[dict[str, float], dict[str, tuple[float, int]]]:
        """The generator's figures, and the server's (CPU seconds, RSS bytes) at each mark."""
        command = {"scenario": scenario, "url": server.url, "config": dataclasses.asdict(config)}
        await self._send(json.dumps(command))
        marks: dict[str, tuple[float, int]] = {}
        while "result" not in (message := await self._receive()):
            marks[message["mark"]] = (server.cpu_seconds(), server.rss_bytes())
            await self._send("go")
        figures: dict[str, float] = message["result"]
        return figures, marks

    async def measure(self, server: Server, scenario: str, config: Config) -> dict[str, float]:
        figures, marks = await self._run(server, scenario, config)
        figures["server_cpu_s"] = marks["end"][0] - marks["start"][0]
        return figures

    async def idle(self, server: Server, config: Config) -> dict[str, float]:
        _, marks = await self._run(server, "idle", config)
        return {
            key: (marks[f"{key}_after"][1] - marks[f"{key}_before"][1]) / config.idle_connections
            for key in ("plain", "deflate")
        }

    async def close(self) -> None:
        if self.process.returncode is None:
            assert self.process.stdin is not None
            self.process.stdin.close()  # the generator exits at the end of its input
            try:
                await asyncio.wait_for(self.process.wait(), 15)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()


def node_missing() -> str | None:
    """Why the Node generator cannot run here, or None if it can."""
    if shutil.which("node") is None:
        return "node is not on PATH"
    for package in ("ws", "@msgpack/msgpack"):
        if not (NODE_MODULES / package / "package.json").is_file():
            return f"{package} is not in clients/typescript/node_modules (run `npm ci` there)"
    return None


def describe(generator: str, config: Config) -> str:
    """What a load generator is, with the versions it runs."""
    if generator == "node":
        node = subprocess.run(["node", "--version"], capture_output=True, text=True, check=True).stdout.strip()
        packages = [
            f"{name} {json.loads((NODE_MODULES / name / 'package.json').read_text())['version']}"
            for name in ("ws", "@msgpack/msgpack")
        ]
        return f"Node {node}, {', '.join(packages)}; a process of its own"
    loop = "uvloop" if _loop_factory(config) is not None else "asyncio"
    return f"websockets {version('websockets')} + msgspec {msgspec.__version__}, {loop}; the driver's process"


@contextlib.asynccontextmanager
async def started(names: tuple[str, ...]) -> AsyncIterator[list[Generator]]:
    """The load generators by name, started (a Node one inherits this process's CPU affinity),
    and closed at the end."""
    generators: list[Generator] = []
    try:
        for name in names:
            generators.append(await NodeGenerator.start() if name == "node" else PythonGenerator())
        yield generators
    finally:
        for generator in generators:
            await generator.close()


async def _warm_up(
    running: dict[str, Server], config: Config, only: tuple[str, ...], generators: list[Generator]
) -> None:
    warm = dataclasses.replace(
        config, latency_calls=200, calls=2000, stream_messages=2000, big_echoes=2, fanout_batches=1
    )
    for name in scenarios(warm):
        if not only or name in only:
            for generator in generators:
                for server in running.values():
                    await generator.measure(server, name, warm)


async def run_rounds(
    running: dict[str, Server],
    config: Config,
    only: tuple[str, ...] = (),
    generators: tuple[str, ...] = ("python",),
) -> Runs:
    """Start the load generators, warm up, run the scenarios (`only` these, if given) from every
    generator on every server, rounds interleaved, the order of the generators and of the servers
    alternating."""
    chosen = [name for name in scenarios(config) if not only or name in only]
    runs: Runs = {g: {name: {server: [] for server in running} for name in chosen} for g in generators}
    order = list(running.values())
    async with started(generators) as live:
        await _warm_up(running, config, only, live)
        for round_ in range(config.rounds):
            forward = round_ % 2 == 0
            for name in chosen:
                for generator in live if forward else reversed(live):
                    for server in order if forward else reversed(order):
                        figures = await generator.measure(server, name, config)
                        runs[generator.name][name][server.name].append(figures)
    return runs


async def _idle(running: dict[str, Server], config: Config, name: str) -> dict[str, list[dict[str, float]]]:
    async with started((name,)) as [generator]:
        return {server.name: [await generator.idle(server, config)] for server in running.values()}


def _loop_factory(config: Config) -> Callable[[], asyncio.AbstractEventLoop] | None:
    if config.loop in ("auto", "uvloop"):
        try:
            import uvloop
        except ImportError:
            return None
        return uvloop.new_event_loop
    return None


def run(
    config: Config,
    only: tuple[str, ...] = (),
    variants: dict[str, str] | None = None,
    profile: str | None = None,
    py_spy: str | None = None,
    metrics: bool = False,
    generators: tuple[str, ...] = ("python",),
) -> Runs:
    """Start the servers (see `servers`), run the rounds from each load generator, stop them.
    Idle connections' memory is measured first, for each generator on servers of its own, fresh:
    RSS rarely shrinks, so servers that have worked would reuse freed memory; and a Swill server
    that has just served hundreds of connections answers sequential calls more slowly for a
    while, which would skew the other rows."""
    runs: Runs = {name: {} for name in generators}
    with asyncio.Runner(loop_factory=_loop_factory(config)) as runner:
        if not only or "idle" in only:
            for name in generators:
                with servers(config, variants, metrics=metrics) as fresh:
                    runs[name]["idle"] = runner.run(_idle(fresh, config, name))
        rest = tuple(name for name in only if name != "idle")
        if only and not rest:
            return runs
        with servers(config, variants, profile=profile, py_spy=py_spy, metrics=metrics) as running:
            for name, results in runner.run(run_rounds(running, config, rest, generators)).items():
                runs[name].update(results)
    return runs


# The hostile scenario.


@contextmanager
def firehose(url: str, rows: int = 100_000_000) -> Iterator[socket.socket]:
    """A client that opens a `firehose` stream without a window (unlimited credit) and then never
    reads its socket, whose receive buffer is small: the server has nowhere to put the rows."""
    uri = parse_uri(url)
    protocol = ClientProtocol(uri, subprotocols=[Subprotocol("swill.v1")])
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(10)
    try:
        sock.connect((uri.host, uri.port))
        protocol.send_request(protocol.connect())
        sock.sendall(b"".join(protocol.data_to_send()))
        while protocol.handshake_exc is None and not protocol.events_received():
            protocol.receive_data(sock.recv(4096))
        if protocol.handshake_exc is not None:
            raise RuntimeError(f"the firehose handshake failed: {protocol.handshake_exc}")
        protocol.send_binary(_encode([0, 1, "firehose", None, None, rows]))
        sock.sendall(b"".join(protocol.data_to_send()))
        yield sock
    finally:
        sock.close()


_FLOOD: Final = """
import socket, sys
import msgspec
from websockets.client import ClientProtocol
from websockets.typing import Subprotocol
from websockets.uri import parse_uri

uri = parse_uri(sys.argv[1])
protocol = ClientProtocol(uri, subprotocols=[Subprotocol("swill.v1")])
sock = socket.create_connection((uri.host, uri.port))
protocol.send_request(protocol.connect())
sock.sendall(b"".join(protocol.data_to_send()))
while not protocol.events_received():
    protocol.receive_data(sock.recv(65536))
for _ in range(8192):  # CREDIT for a call that isn't open: read, then ignored
    protocol.send_binary(msgspec.msgpack.encode([7, 999, 1]))
frames = b"".join(protocol.data_to_send())
print("flooding", flush=True)
try:
    while True:
        sock.sendall(frames)
except OSError:  # the server closed it (its pings went unanswered)
    pass
"""


@contextmanager
def flood(url: str) -> Iterator[None]:
    """A client, in a process of its own, that sends small frames as fast as its socket takes
    them and never reads: each of the server's socket reads holds tens of thousands of frames."""
    process = subprocess.Popen([sys.executable, "-c", _FLOOD, url], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        if process.stdout.readline() != "flooding\n":
            raise RuntimeError("the flooding client did not start")
        yield
    finally:
        process.kill()
        process.wait()
        if process.stdout is not None:
            process.stdout.close()


HOSTILE: Final = ("alone", "beside a firehose", "beside a flood of frames")


async def hostile_round(server: Server, config: Config, beside: str) -> dict[str, float]:
    """A well-behaved client's sequential unary calls, alone or beside a hostile one (`HOSTILE`);
    its latency and how much the server's RSS grew meanwhile."""
    rss = server.rss_bytes()
    hostile: contextlib.AbstractContextManager[Any] = contextlib.nullcontext()
    if beside == "beside a firehose":
        hostile = firehose(server.url, config.firehose_rows)
    elif beside == "beside a flood of frames":
        hostile = flood(server.url)
    with hostile:
        ws = await _open(server.url)
        try:
            ids = Ids()
            times = await latency(ws, ids, config.latency_calls)
        finally:
            await ws.close()
        grown = server.rss_bytes() - rss
    return {"p50_us": _percentile(times, 0.5) * 1e6, "p99_us": _percentile(times, 0.99) * 1e6, "rss_mib": grown / MiB}


async def hostile_rounds(server: Server, config: Config) -> dict[str, list[dict[str, float]]]:
    await hostile_round(server, dataclasses.replace(config, latency_calls=200), "alone")  # warm up
    results: dict[str, list[dict[str, float]]] = {beside: [] for beside in HOSTILE}
    for round_ in range(config.rounds):
        shift = round_ % len(HOSTILE)  # each condition first in turn
        for beside in HOSTILE[shift:] + HOSTILE[:shift]:
            results[beside].append(await hostile_round(server, config, beside))
    return results


def run_hostile(config: Config) -> dict[str, list[dict[str, float]]]:
    with servers(config) as running, asyncio.Runner(loop_factory=_loop_factory(config)) as runner:
        return runner.run(hostile_rounds(running["swill"], config))


def render_hostile(results: dict[str, list[dict[str, float]]], config: Config) -> str:
    lines = [
        f"| well-behaved client, {config.latency_calls} sequential unary calls | p50 (µs) | p99 (µs) "
        "| server RSS growth (MiB) |",
        "|---|---:|---:|---:|",
    ]
    for label, rounds in results.items():
        cells = [statistics.median(r[key] for r in rounds) for key in ("p50_us", "p99_us", "rss_mib")]
        lines.append(f"| {label} | {' | '.join(map(_format, cells))} |")
    alone, with_firehose, with_flood = (statistics.median(r["p99_us"] for r in results[k]) for k in HOSTILE)
    lines.append("")
    lines.append(
        f"- p99 beside a firehose / alone: {with_firehose / alone:.2f}x; beside a flood of frames / alone: "
        f"{with_flood / alone:.2f}x; {config.rounds} rounds, the conditions in turn, medians. "
        f"The firehose: `firehose({config.firehose_rows:_})` (1 KiB rows, a handler that never awaits), no window, "
        "into a socket its client never reads (SO_RCVBUF 4 KiB). The flood: a client process sending "
        "`[7, 999, 1]` (CREDIT for no open call, 6 bytes) as fast as its socket takes them."
    )
    return "\n".join(lines)


# The table.


@dataclasses.dataclass(frozen=True)
class Row:
    label: str
    scenario: str
    figure: str
    higher_is_better: bool
    target: float | None = None  # the Swill/bare ratio to reach
    per: str | None = None  # divide the server CPU by this figure instead: CPU per unit


def rows(config: Config) -> list[Row]:
    """The table's rows; the targets are issue 16's, for the Node generator's figures."""
    window = f"window {config.window}, credit granted every {max(1, config.window // 2)} consumed"
    big = f"{config.big_size // MiB} MiB" if config.big_size >= MiB else f"{config.big_size // 1024} KiB"
    return [
        Row("unary latency p50, sequential (µs)", "latency", "p50_us", False, 1.15),
        Row("unary latency p99, sequential (µs)", "latency", "p99_us", False),
        Row(
            f"unary calls/s, {config.in_flight} in flight on 1 connection",
            "calls",
            "calls_per_s",
            True,
            0.85,
        ),
        Row(f"server-stream messages/s ({window})", "stream", "messages_per_s", True, 0.95),
        Row(f"{big} echo, time per call p50 (ms)", "big", "p50_ms", False),
        Row(f"{big} echo, payload MiB/s", "big", "mib_per_s", True, 0.95),
        Row(
            f"server CPU per call, {config.in_flight} in flight (µs)",
            "calls",
            "server_cpu_s",
            False,
            per="count",
        ),
        Row("server CPU per stream message (µs)", "stream", "server_cpu_s", False, per="count"),
        Row(
            f"unary calls/s, {config.fanout_connections} connections x {config.fanout_calls} sequential calls",
            "fanout",
            "calls_per_s",
            True,
            0.85,
        ),
        Row(
            f"server CPU per call, {config.fanout_connections} connections (µs)",
            "fanout",
            "server_cpu_s",
            False,
            per="count",
        ),
        Row(
            f"unary calls/s, {config.in_flight} in flight, permessage-deflate (browser-like)",
            "deflate",
            "calls_per_s",
            True,
        ),
        Row("server CPU per call, permessage-deflate (µs)", "deflate", "server_cpu_s", False, per="count"),
        Row("memory per idle connection (KB)", "idle", "plain", False),
        Row("memory per idle connection, permessage-deflate (KB)", "idle", "deflate", False, 1.05),
        Row(f"server CPU per {big} echo (ms)", "big", "server_cpu_s", False, per="count"),
    ]


def _value(row: Row, rounds: list[dict[str, float]]) -> float:
    if row.scenario == "idle":
        return statistics.median(r[row.figure] for r in rounds) / 1000
    if row.per is None:
        return statistics.median(r[row.figure] for r in rounds)
    scale = 1e3 if row.scenario == "big" else 1e6
    return statistics.median(r[row.figure] / r[row.per] * scale for r in rounds)


def _format(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def render_table(results: Results, config: Config) -> str:
    """The figures as a Markdown table: medians over the rounds, Swill/bare ratios, targets."""
    lines = [
        "| metric | Swill | bare | Swill / bare | target | met |",
        "|---|---:|---:|---:|---|---|",
    ]
    for row in rows(config):
        per_server = results.get(row.scenario)
        if not per_server:
            continue
        swill_value = _value(row, per_server["swill"])
        bare_value = _value(row, per_server["bare"])
        ratio = f"{swill_value / bare_value:.2f}x" if bare_value else "-"
        target, met = "", ""
        if row.target is not None and bare_value:
            target = f"{'≥' if row.higher_is_better else '≤'} {row.target}x"
            ratio_value = swill_value / bare_value
            ok = ratio_value >= row.target if row.higher_is_better else ratio_value <= row.target
            met = "yes" if ok else "**no**"
        cells = [row.label, _format(swill_value), _format(bare_value), ratio, target, met]
        lines.append(f"| {' | '.join(cells)} |")
    return "\n".join(lines)


def render_variants(results: Results, config: Config, labels: list[str]) -> str:
    """Each variant of Swill against the `swill` server of the same run."""
    lines = [
        f"| metric | swill | {' | '.join(labels)} | {' | '.join(f'{x} / swill' for x in labels)} |",
        "|---|" + "---:|" * (1 + 2 * len(labels)),
    ]
    for row in rows(config):
        per_server = results.get(row.scenario)
        if not per_server:
            continue
        base = _value(row, per_server["swill"])
        values = [_value(row, per_server[label]) for label in labels]
        ratios = [f"{value / base:.2f}x" if base else "-" for value in values]
        cells = [row.label, _format(base), *map(_format, values), *ratios]
        lines.append(f"| {' | '.join(cells)} |")
    return "\n".join(lines)


def render_heading(generator: str, config: Config) -> str:
    """The line above a load generator's table."""
    if generator == "node":
        about = "the faster client, whose ratios the goals of issue 16 refer to"
        return f"**Node load generator** ({describe(generator, config)}): {about}."
    return f"**Python load generator** ({describe(generator, config)})"


def render_notes(runs: Runs, config: Config, note: str | None = None) -> str:
    """How the run was set up, how busy each load generator was, and `note` if given."""
    import swill

    pinned = ", load generators and servers pinned to separate cores" if config.pin else ""
    lines = [
        f"- {config.rounds} interleaved rounds, medians; each measurement on a fresh connection after a warm-up.",
        f"- Python {platform.python_version()}, uvicorn {uvicorn.__version__} "
        f"(loop {config.loop}, ws {config.ws}, http {config.http}); {os.cpu_count()} CPUs{pinned}; "
        f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} at the end.",
        f"- Swill from {Path(swill.__file__).parent}.",
        *(
            [f"- Both servers with {' '.join(f'{k}={v}' for k, v in KEEP_FREED_MEMORY.items())}."]
            if config.keep_freed_memory
            else []
        ),
        f"- Sizes: {config.latency_calls} sequential calls, {config.calls} calls "
        f"{config.in_flight} in flight, {config.stream_messages} stream messages, "
        f"{config.big_echoes} echoes of {config.big_size} bytes, {config.fanout_batches} batches of "
        f"{config.fanout_connections} connections x {config.fanout_calls} calls.",
        "- The bare endpoint decodes each frame with msgspec and encodes the reply; it ignores "
        "flow control (CREDIT frames are decoded and dropped).",
    ]
    for generator, results in runs.items():
        busy = {
            name: max(statistics.median(r["client_cpu_share"] for r in rounds) for rounds in per_server.values())
            for name, per_server in results.items()
            if name != "idle"
        }
        if busy:
            lines.append(
                f"- Load generator CPU share, {generator} (median, the busier server): "
                + ", ".join(f"{name} {share:.0%}" for name, share in busy.items())
                + " (near 100% means the client, not the server, set the pace)."
            )
    if note is not None:
        lines.append(f"- {note}")
    return "\n".join(lines)


def render_rounds(runs: Runs) -> str:
    lines = []
    for generator, results in runs.items():
        for name, per_server in results.items():
            for server, rounds in per_server.items():
                shown = "; ".join(", ".join(f"{k}={v:.4g}" for k, v in r.items() if k != "count") for r in rounds)
                lines.append(f"- {generator} / {name} / {server}: {shown}")
    return "\n".join(lines)


def choose_generators(requested: str | None) -> tuple[tuple[str, ...], str | None]:
    """The load generators to run for `--generator` (None: both if Node can run here, else
    Python), and a note on why Node is left out when it is."""
    missing = node_missing()
    if requested is None:
        if missing is None:
            return GENERATORS, None
        return ("python",), f"Python load generator only: {missing} (Node is the faster client)."
    if requested in ("node", "both") and missing is not None:
        raise SystemExit(f"server_bench.py: --generator {requested}: {missing}")
    return (GENERATORS if requested == "both" else (requested,)), None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Benchmark Swill's server against a bare Starlette endpoint.")
    defaults = Config()
    parser.add_argument("--rounds", type=int, default=defaults.rounds)
    parser.add_argument("--latency-calls", type=int, default=defaults.latency_calls)
    parser.add_argument("--calls", type=int, default=defaults.calls)
    parser.add_argument("--in-flight", type=int, default=defaults.in_flight)
    parser.add_argument("--stream-messages", type=int, default=defaults.stream_messages)
    parser.add_argument("--window", type=int, default=defaults.window)
    parser.add_argument("--big-echoes", type=int, default=defaults.big_echoes)
    parser.add_argument("--big-size", type=int, default=defaults.big_size)
    parser.add_argument("--firehose-rows", type=int, default=defaults.firehose_rows, help="for --hostile")
    parser.add_argument("--loop", default=defaults.loop, help="uvicorn --loop, for both servers")
    parser.add_argument("--ws", default=defaults.ws, help="uvicorn --ws, for both servers")
    parser.add_argument("--http", default=defaults.http, help="uvicorn --http, for both servers")
    parser.add_argument("--no-pin", action="store_true", help="don't pin client and servers to separate cores")
    parser.add_argument(
        "--keep-freed-memory",
        action="store_true",
        help="run both servers with glibc told to keep freed memory (docs/deployment.md, large messages)",
    )
    parser.add_argument("--quick", action="store_true", help="a tiny run that only checks the benchmark works")
    parser.add_argument(
        "--only",
        action="append",
        choices=["latency", "calls", "stream", "big", "fanout", "deflate", "idle"],
        default=[],
    )
    parser.add_argument("--profile", metavar="PATH", help="run Swill's server under cProfile, stats to PATH")
    parser.add_argument(
        "--py-spy",
        metavar="PATH",
        help="sample Swill's server with py-spy, collapsed stacks to PATH",
    )
    parser.add_argument(
        "--variant",
        metavar="LABEL=PATH",
        action="append",
        default=[],
        help="also serve the swill package found in PATH, in the same rounds (A/B of a patch)",
    )
    parser.add_argument(
        "--metrics",
        action="store_true",
        help="also serve the app with Prometheus metrics on (swill+metrics), in the same rounds",
    )
    parser.add_argument(
        "--generator",
        choices=["python", "node", "both"],
        help="the load generators (default: both if node and clients/typescript/node_modules are here, else python)",
    )
    parser.add_argument("--verbose", action="store_true", help="also print every round's figures")
    parser.add_argument(
        "--hostile",
        action="store_true",
        help="instead: a well-behaved client's latency and the server's RSS, alone and beside a firehose",
    )
    args = parser.parse_args(argv)
    if args.quick:
        config = dataclasses.replace(
            QUICK,
            loop=args.loop,
            ws=args.ws,
            http=args.http,
            pin=not args.no_pin,
            keep_freed_memory=args.keep_freed_memory,
        )
    else:
        config = Config(
            rounds=args.rounds,
            latency_calls=args.latency_calls,
            calls=args.calls,
            in_flight=args.in_flight,
            stream_messages=args.stream_messages,
            window=args.window,
            big_echoes=args.big_echoes,
            big_size=args.big_size,
            firehose_rows=args.firehose_rows,
            loop=args.loop,
            ws=args.ws,
            http=args.http,
            pin=not args.no_pin,
            keep_freed_memory=args.keep_freed_memory,
        )
    started = time.perf_counter()
    if args.hostile:
        print(render_hostile(run_hostile(config), config))
        print(f"- Run time: {time.perf_counter() - started:.0f} s.")
        return 0
    variants = dict(variant.split("=", 1) for variant in args.variant)
    generators, note = choose_generators(args.generator)
    runs = run(config, tuple(args.only), variants, args.profile, args.py_spy, args.metrics, generators)
    for generator, results in runs.items():
        print(render_heading(generator, config))
        print()
        print(render_table(results, config))
        if variants or args.metrics:
            print()
            print(render_variants(results, config, [*variants, *([METRICS] if args.metrics else [])]))
        print()
    print(render_notes(runs, config, note))
    print(f"- Run time: {time.perf_counter() - started:.0f} s.")
    if args.verbose:
        print()
        print(render_rounds(runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
