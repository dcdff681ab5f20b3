"""Topics: one publisher to many subscribers, with the in-memory broker and with Redis.

Run it with `.venv/bin/python bench/topics_bench.py` (`--quick` for a smoke run). The server runs
in its own process (`topics_bench.py serve`); this process is the load generator, a raw-frame
client (websockets + msgspec) speaking docs/protocol.md like Swill's clients do: each subscription
asks for a window and grants credit back in batches of half of it as it consumes.

For each broker: `--connections` WebSockets each open `subscribers / connections` subscriptions
to the exposed topic `samples`. Once every one of them is subscribed (its leading metadata came),
one call to `burst` makes the server publish `--values` values, one after another, each
`await topic.publish(...)` followed by a yield to the event loop. The run ends when every
subscription has received the last value.

Reported: publish rate (values published per second by the one publisher), delivery rate (values
received per second over all subscriptions), the server's CPU time per delivered value (a figure
the client's speed cannot cap), and the server's memory: RSS before any subscriber, with all of
them subscribed, and the peak (VmHWM) at the end.

`--policy fifo` (the default, queue of `--queue-size`, `max_lag` of a minute) delivers every
value to every subscriber; `--policy latest` lets slow subscribers skip values, and the table
then shows how many arrived.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import platform
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any, Final

import anyio.lowlevel
import msgspec
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

import swill
from swill._topics import Topic

__all__ = ["Config", "Result", "main", "run"]

HERE: Final = Path(__file__).resolve()
REDIS_SERVER: Final = shutil.which("redis-server") or "/usr/bin/redis-server"

_encode: Final = msgspec.msgpack.Encoder().encode
_decode: Final = msgspec.msgpack.Decoder().decode
_REQUEST, _DATA, _METADATA, _END, _ERROR, _RESPONSE, _CREDIT, _HELLO = 0, 1, 2, 3, 5, 6, 7, 8


@dataclasses.dataclass(frozen=True)
class Config:
    """What one run does."""

    values: int = 200
    subscribers: int = 1000
    connections: int = 100
    window: int = 64
    policy: str = "fifo"
    queue_size: int = 256
    brokers: tuple[str, ...] = ("memory", "redis")
    profile: str | None = None


QUICK: Final = Config(values=50, subscribers=100, connections=10)


@dataclasses.dataclass
class Result:
    broker: str
    published_per_s: float
    delivered: int
    delivered_per_s: float
    server_cpu_us_per_value: float
    rss_idle_mib: float
    rss_subscribed_mib: float
    rss_peak_mib: float


# The server side.


class Sample(msgspec.Struct):
    """A telemetry sample, the kind of value a dashboard streams."""

    seq: int
    at: float
    value: float
    unit: str


def make_app(broker: str | None, policy: str, queue_size: int) -> swill.Swill:
    app = swill.Swill(__name__, playground=False, introspection=False, broker=broker)
    samples: Topic[Sample] = app.topic("samples", Sample, policy=policy, queue_size=queue_size, max_lag=60.0)
    app.expose(samples)

    @app.handle()
    async def burst(request: swill.Request[int]) -> float:
        """Publish `data` samples, yielding to the loop after each; returns the seconds it took."""
        start = time.perf_counter()
        for seq in range(request.data):
            await samples.publish(Sample(seq, time.time(), seq * 0.5, "°C"))
            await anyio.lowlevel.checkpoint()
        return time.perf_counter() - start

    return app


def serve(broker: str | None, policy: str, queue_size: int) -> None:
    """Serve the benchmark app on 127.0.0.1, print `port <n>`, run until SIGTERM."""
    import uvicorn

    app = make_app(broker, policy, queue_size)
    config = uvicorn.Config(app, host="127.0.0.1", log_level="warning", lifespan="on", ws_ping_interval=None)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(config.backlog)
    print(f"port {sock.getsockname()[1]}", flush=True)
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
    uvicorn.Server(config).run(sockets=[sock])


class Process:
    """A child process that prints one line when it is ready; stopped with SIGTERM."""

    def __init__(self, command: list[str], ready: str) -> None:
        # Unbuffered: a buffered reader would take several lines in one read, and `select` would
        # then wait for more output while the ready line sits in Python's buffer.
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, bufsize=0)
        assert self.process.stdout is not None
        with selectors.DefaultSelector() as selector:
            selector.register(self.process.stdout, selectors.EVENT_READ)
            deadline = time.monotonic() + 30
            while True:
                if not selector.select(timeout=max(0.0, deadline - time.monotonic())):
                    self.stop()
                    raise RuntimeError(f"{command[0]} did not start")
                line = self.process.stdout.readline().decode(errors="replace")
                if not line:
                    self.stop()
                    raise RuntimeError(f"{command[0]} exited before it was ready")
                if ready in line:
                    self.line = line
                    return

    def status(self, field: str) -> float:
        """A memory figure from /proc/<pid>/status, in MiB."""
        with open(f"/proc/{self.process.pid}/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
        raise KeyError(field)

    def cpu_seconds(self) -> float:
        with open(f"/proc/{self.process.pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()


def start_redis() -> tuple[Process, str]:
    for attempt in range(3):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        command = [REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        try:
            return Process(command, "Ready to accept connections"), f"redis://127.0.0.1:{port}/0"
        except RuntimeError:
            if attempt == 2:
                raise
            # the port was free when chosen; another process may have taken it since: choose again
    raise AssertionError("unreachable")


# The load generator.


class Subscriber:
    """The subscriptions of one connection, read by one task."""

    def __init__(self, ws: ClientConnection, count: int, window: int) -> None:
        self.ws = ws
        self.ids = list(range(1, count + 1))
        self.window = window
        self.received = dict.fromkeys(self.ids, 0)
        self.unacked = dict.fromkeys(self.ids, 0)
        self.last_event = dict.fromkeys(self.ids, 0)
        self.subscribed: set[int] = set()
        self.all_subscribed = asyncio.Event()
        self.target = 0  # the event id of the last value of the burst, once known
        self.done = asyncio.Event()
        self.finished_at = 0.0

    async def subscribe(self) -> None:
        for id in self.ids:
            await self.ws.send(_encode([_REQUEST, id, "samples", None, {"window": self.window}, None]))

    async def read(self) -> None:
        grant_at = max(1, self.window // 2)
        while True:
            frame = _decode(await self.ws.recv(decode=False))
            kind, id = frame[0], frame[1]
            if kind == _DATA:
                self.received[id] += 1
                self.last_event[id] = frame[2]["id"]
                self.unacked[id] += 1
                if self.unacked[id] >= grant_at:
                    await self.ws.send(_encode([_CREDIT, id, self.unacked[id]]))
                    self.unacked[id] = 0
                if self.target and self.last_event[id] >= self.target:
                    self.check_done()
            elif kind == _METADATA:
                self.subscribed.add(id)
                if len(self.subscribed) == len(self.ids):
                    self.all_subscribed.set()
            elif kind in (_ERROR, _END):
                raise RuntimeError(f"subscription {id} ended: {frame!r}"[:300])

    def check_done(self) -> None:
        if not self.done.is_set() and all(last >= self.target for last in self.last_event.values()):
            self.finished_at = time.perf_counter()
            self.done.set()


async def _open(url: str) -> ClientConnection:
    ws = await connect(
        url, subprotocols=[Subprotocol("swill.v1")], compression=None, max_size=None, ping_interval=None, proxy=None
    )
    hello = _decode(await ws.recv(decode=False))
    if hello[0] != _HELLO:
        raise RuntimeError(f"expected HELLO, got {hello!r}")
    return ws


async def _call(ws: ClientConnection, id: int, rpc: str, data: Any) -> Any:
    await ws.send(_encode([_REQUEST, id, rpc, None, None, data]))
    frame = _decode(await ws.recv(decode=False))
    if frame[0] != _RESPONSE:
        raise RuntimeError(f"{rpc} failed: {frame!r}")
    return frame[2]


async def _wait(events: list[asyncio.Event], readers: list[asyncio.Task[None]], seconds: float) -> None:
    """Wait for every event; a reader that fails (its subscription ended) fails the run."""
    waiting: asyncio.Future[Any] = asyncio.ensure_future(asyncio.gather(*(event.wait() for event in events)))
    futures: list[asyncio.Future[Any]] = [waiting, *readers]
    done, _ = await asyncio.wait(futures, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    if waiting not in done:
        waiting.cancel()
        for reader in readers:
            if reader.done():
                reader.result()
        raise TimeoutError(f"not done after {seconds} s")


async def measure(server: Process, url: str, config: Config, broker: str) -> Result:
    rss_idle = server.status("VmRSS")
    per_connection = config.subscribers // config.connections
    subscribers = [Subscriber(await _open(url), per_connection, config.window) for _ in range(config.connections)]
    control = await _open(url)
    readers = [asyncio.create_task(s.read()) for s in subscribers]
    try:
        for subscriber in subscribers:
            await subscriber.subscribe()
        await _wait([s.all_subscribed for s in subscribers], readers, 60)
        rss_subscribed = server.status("VmRSS")
        cpu_before = server.cpu_seconds()
        start = time.perf_counter()
        for subscriber in subscribers:
            subscriber.target = config.values  # a fresh server: the burst's values get ids 1..values
        published_in = await _call(control, 1, "burst", config.values)
        await _wait([s.done for s in subscribers], readers, 600)
        elapsed = max(s.finished_at for s in subscribers) - start
        cpu = server.cpu_seconds() - cpu_before
        delivered = sum(sum(s.received.values()) for s in subscribers)
        return Result(
            broker=broker,
            published_per_s=config.values / published_in,
            delivered=delivered,
            delivered_per_s=delivered / elapsed,
            server_cpu_us_per_value=cpu / delivered * 1e6,
            rss_idle_mib=rss_idle,
            rss_subscribed_mib=rss_subscribed,
            rss_peak_mib=server.status("VmHWM"),
        )
    finally:
        for reader in readers:
            reader.cancel()
        await asyncio.gather(*readers, return_exceptions=True)
        for subscriber in subscribers:
            await subscriber.ws.close()
        await control.close()


def run(config: Config) -> list[Result]:
    results = []
    for broker in config.brokers:
        redis: Process | None = None
        url = None
        if broker == "redis":
            redis, url = start_redis()
        command = [sys.executable, str(HERE), "serve", "--policy", config.policy]
        command += ["--queue-size", str(config.queue_size)]
        if config.profile:
            command[1:1] = ["-m", "cProfile", "-o", config.profile]
        if url is not None:
            command += ["--broker", url]
        server = Process(command, "port ")
        try:
            port = int(server.line.split()[1])
            results.append(asyncio.run(measure(server, f"ws://127.0.0.1:{port}/ws", config, broker)))
        finally:
            server.stop()
            if redis is not None:
                redis.stop()
    return results


def render(config: Config, results: list[Result]) -> str:
    expected = config.values * config.subscribers
    lines = [
        f"{config.subscribers} subscribers over {config.connections} connections, {config.values} values "
        f"published by one publisher, policy={config.policy} queue_size={config.queue_size} window={config.window}",
        f"Python {platform.python_version()}, swill {version('swill')}, msgspec {version('msgspec')}, "
        f"uvicorn {version('uvicorn')}, redis-py {version('redis')}, {os.cpu_count()} CPUs",
        "",
        "| broker | published/s | delivered | delivered/s | server CPU µs/value "
        "| RSS idle | RSS subscribed | RSS peak |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r.broker} | {r.published_per_s:,.0f} | {r.delivered:,} of {expected:,} | {r.delivered_per_s:,.0f} "
            f"| {r.server_cpu_us_per_value:.1f} | {r.rss_idle_mib:.0f} MiB | {r.rss_subscribed_mib:.0f} MiB "
            f"| {r.rss_peak_mib:.0f} MiB |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    sub = parser.add_subparsers(dest="command")
    serve_parser = sub.add_parser("serve", help="serve the benchmark app (used by the benchmark itself)")
    for p in (parser, serve_parser):
        p.add_argument("--policy", choices=("fifo", "latest"), default=Config.policy)
        p.add_argument("--queue-size", type=int, default=Config.queue_size)
    serve_parser.add_argument("--broker", default=None)
    parser.add_argument("--values", type=int, default=Config.values)
    parser.add_argument("--subscribers", type=int, default=Config.subscribers)
    parser.add_argument("--connections", type=int, default=Config.connections)
    parser.add_argument("--window", type=int, default=Config.window)
    parser.add_argument("--broker", choices=("memory", "redis"), action="append", dest="brokers")
    parser.add_argument("--quick", action="store_true", help="a small run, to check that it works")
    parser.add_argument("--profile", metavar="PATH", help="run the server under cProfile, stats to PATH")
    args = parser.parse_args(argv)
    if args.command == "serve":
        serve(args.broker, args.policy, args.queue_size)
        return
    base = QUICK if args.quick else Config()
    config = dataclasses.replace(
        base,
        values=args.values if args.values != Config.values else base.values,
        subscribers=args.subscribers if args.subscribers != Config.subscribers else base.subscribers,
        connections=args.connections if args.connections != Config.connections else base.connections,
        window=args.window,
        policy=args.policy,
        queue_size=args.queue_size,
        brokers=tuple(args.brokers or base.brokers),
        profile=args.profile,
    )
    print(render(config, run(config)))


if __name__ == "__main__":
    main()
