"""Drive an app of bench/apps.py through its ASGI interface, in process, without sockets.

    python bench/asgi_driver.py SCENARIO N [--app swill|bare] [--profile PATH]

prints the process CPU time per operation in µs (and page faults per operation on stderr). With
no server, no socket and no other process, its figures move little with the machine's load, and
under callgrind they are deterministic: the instructions per operation are the difference of
two runs' totals divided by the difference of their N (bench/README.md).

Scenarios:
- `unary`: N `add` calls, 64 in flight on one connection.
- `seq`: N `add` calls, one after the other.
- `stream`: one `count(N)` stream, window 256, credit granted every 128 messages.
- `big`: N sequential `echo` calls of 1 MiB.
- `connections`: N connections, each opened, served one `add` call and closed.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

import msgspec

sys.path.insert(0, str(Path(__file__).parent))
import apps

SCENARIOS: Final = ("unary", "seq", "stream", "big", "connections")
IN_FLIGHT: Final = 64
WINDOW: Final = 256
SCOPE: Final[dict[str, Any]] = {
    "type": "websocket",
    "path": "/ws",
    "raw_path": b"/ws",
    "root_path": "",
    "headers": [(b"host", b"127.0.0.1")],
    "query_string": b"",
    "subprotocols": ["swill.v1"],
    "client": ("127.0.0.1", 50000),
    "server": ("127.0.0.1", 8000),
    "scheme": "ws",
    "asgi": {"version": "3.0"},
    "state": {},
    "extensions": {},
}

encode = msgspec.msgpack.encode
decode = msgspec.msgpack.Decoder().decode


async def connection(app: Any, on_frame: Callable[[list[Any], Callable[[bytes], None]], bool]) -> None:
    """Serve one connection: `on_frame(frame, push)` sees each frame the app sends and may push
    messages to it; the connection ends when it returns True."""
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    inbox.put_nowait({"type": "websocket.connect"})

    def push(data: bytes) -> None:
        inbox.put_nowait({"type": "websocket.receive", "bytes": data})

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "websocket.send":
            data = message["bytes"]
            frame = [6, None] if len(data) > 4096 else decode(data)  # a 1 MiB echo: not decoded
            if on_frame(frame, push):
                inbox.put_nowait({"type": "websocket.disconnect", "code": 1000})

    await app(dict(SCOPE), inbox.get, send)


def request(id: int, rpc: str, data: Any, options: dict[str, Any] | None = None) -> bytes:
    return encode([0, id, rpc, None, options, data])


async def calls(app: Any, n: int, in_flight: int) -> None:
    ids = iter(range(1, n + 1))
    done = 0

    def on_frame(frame: list[Any], push: Callable[[bytes], None]) -> bool:
        nonlocal done
        if frame[0] == 8:  # HELLO
            for _ in range(min(in_flight, n)):
                push(request(next(ids), "add", [1, 2]))
        elif frame[0] == 6:
            done += 1
            id = next(ids, None)
            if id is not None:
                push(request(id, "add", [1, 2]))
        return done == n

    await connection(app, on_frame)


async def stream(app: Any, n: int) -> None:
    consumed = 0

    def on_frame(frame: list[Any], push: Callable[[bytes], None]) -> bool:
        nonlocal consumed
        if frame[0] == 8:
            push(request(1, "count", n, {"window": WINDOW}))
        elif frame[0] == 1:
            consumed += 1
            if consumed % (WINDOW // 2) == 0:
                push(encode([7, 1, WINDOW // 2]))
        return frame[0] in (3, 5)

    await connection(app, on_frame)


async def big(app: Any, n: int) -> None:
    payload = b"x" * (1 << 20)
    ids = iter(range(1, n + 1))
    done = 0

    def on_frame(frame: list[Any], push: Callable[[bytes], None]) -> bool:
        nonlocal done
        if frame[0] == 6:
            done += 1
        if done < n and frame[0] in (6, 8):
            push(request(next(ids), "echo", payload))
        return done == n

    await connection(app, on_frame)


async def connections(app: Any, n: int) -> None:
    for _ in range(n):
        await calls(app, 1, 1)


async def run(app: Any, scenario: str, n: int) -> None:
    if scenario == "unary":
        await calls(app, n, IN_FLIGHT)
    elif scenario == "seq":
        await calls(app, n, 1)
    elif scenario == "stream":
        await stream(app, n)
    elif scenario == "big":
        await big(app, n)
    else:
        await connections(app, n)


async def measure(app: Any, scenario: str, n: int) -> None:
    await run(app, scenario, min(n, 100))  # warm up: imports, caches, the allocator's heap
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    start = time.process_time()
    await run(app, scenario, n)
    cpu = time.process_time() - start
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults
    print(f"{cpu / n * 1e6:.2f}")
    print(f"{faults / n:.1f} page faults per operation", file=sys.stderr)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("scenario", choices=SCENARIOS)
    parser.add_argument("n", type=int)
    parser.add_argument("--app", choices=["swill", "bare"], default="swill")
    parser.add_argument("--profile", metavar="PATH", help="run under cProfile, stats to PATH")
    args = parser.parse_args(argv)
    app = apps.APPS[args.app]
    try:
        import uvloop
    except ImportError:
        runner: Callable[[Any], Any] = asyncio.run
    else:
        runner = uvloop.run
    if args.profile:
        profiler = cProfile.Profile()
        profiler.runcall(runner, measure(app, args.scenario, args.n))
        profiler.dump_stats(args.profile)
    else:
        runner(measure(app, args.scenario, args.n))


if __name__ == "__main__":
    main()
