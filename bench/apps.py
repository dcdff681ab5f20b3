"""The two servers the benchmark compares, and a command that serves either on 127.0.0.1.

- `swill`: a `swill.Swill` app with four handlers: `add` (unary, typed), `echo` (unary, bytes),
  `count` (server streaming) and `firehose` (server streaming 1 KiB rows without ever awaiting).
- `swill-metrics`: the `swill` app with Prometheus metrics on (`swill.metrics`, at /metrics).
- `bare`: a bare Starlette WebSocket endpoint that answers the same frames doing the minimum: it
  decodes each frame with msgspec and encodes the reply. It speaks just enough of docs/protocol.md for
  the load generator (HELLO, RESPONSE, DATA, END_OF_STREAM) and ignores flow control.

`python bench/apps.py NAME` serves app NAME with uvicorn on a port the OS picks, prints
`port <n>` on stdout and serves until SIGINT or SIGTERM. Both apps run on the same uvicorn with the
same settings (`--loop`, `--ws`, `--http`). `--profile PATH` runs the server under cProfile and
writes the stats to PATH when it stops.
"""

from __future__ import annotations

import argparse
import cProfile
import signal
import socket
import sys
from collections.abc import AsyncIterator
from typing import Any, Final

import msgspec
import uvicorn
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket

import swill

__all__ = ["APPS", "MAX_MESSAGE_SIZE", "bare_app", "main", "swill_app"]

MAX_MESSAGE_SIZE: Final = 4 << 20
"""Both apps accept messages this large: 1 MiB of payload and its frame exceed the default."""


def _make_swill_app() -> swill.Swill:
    app = swill.Swill(__name__, playground=False, max_message_size=MAX_MESSAGE_SIZE)

    @app.handle()
    async def add(request: swill.Request[tuple[int, int]]) -> int:
        return request.data[0] + request.data[1]

    @app.handle()
    async def echo(request: swill.Request[bytes]) -> bytes:
        return request.data

    @app.handle()
    async def count(request: swill.Request[int]) -> AsyncIterator[int]:
        for i in range(request.data):
            yield i

    row = b"x" * 1024

    @app.handle()
    async def firehose(request: swill.Request[int]) -> AsyncIterator[bytes]:
        """`data` rows of 1 KiB, as fast as it may: it never awaits (the `hostile` scenario)."""
        for _ in range(request.data):
            yield row

    return app


swill_app: Final = _make_swill_app()


def _make_swill_metrics_app() -> swill.Swill:
    """The same app with Prometheus metrics on (`swill.metrics`), served at /metrics."""
    from prometheus_client import CollectorRegistry

    from swill.metrics import Metrics

    app = _make_swill_app()
    Metrics(app, path="/metrics", registry=CollectorRegistry())
    return app

_HELLO: Final = msgspec.msgpack.encode(
    [
        8,
        0,
        {
            "version": 1,
            "max_message_size": MAX_MESSAGE_SIZE,
            "max_concurrent_calls": 100,
            "client_window": 16,
            "server": "bare",
        },
    ]
)
_END_OF_STREAM: Final = 3
_RESPONSE: Final = 6
_DATA: Final = 1


async def _bare_endpoint(websocket: WebSocket) -> None:
    decode = msgspec.msgpack.Decoder().decode
    encode = msgspec.msgpack.Encoder().encode
    await websocket.accept(subprotocol="swill.v1")
    await websocket.send_bytes(_HELLO)
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return
        frame: list[Any] = decode(message["bytes"])
        if frame[0] != 0:  # CREDIT and the rest: the bare endpoint has no flow control
            continue
        id, rpc, data = frame[1], frame[2], frame[5]
        if rpc == "add":
            await websocket.send_bytes(encode([_RESPONSE, id, data[0] + data[1]]))
        elif rpc == "echo":
            await websocket.send_bytes(encode([_RESPONSE, id, data]))
        elif rpc == "count":
            for i in range(data):
                await websocket.send_bytes(encode([_DATA, id, i]))
            await websocket.send_bytes(encode([_END_OF_STREAM, id]))


bare_app: Final = Starlette(routes=[WebSocketRoute("/ws", _bare_endpoint)])

APPS: Final[dict[str, Any]] = {"swill": swill_app, "bare": bare_app, "swill-metrics": _make_swill_metrics_app}


def _exit(signum: int, frame: object) -> None:
    sys.exit(0)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("app", choices=sorted(APPS))
    parser.add_argument("--loop", default="auto")
    parser.add_argument("--ws", default="auto")
    parser.add_argument("--http", default="auto")
    parser.add_argument("--profile", metavar="PATH", help="run under cProfile, write stats to PATH")
    args = parser.parse_args(argv)
    app = APPS[args.app]
    config = uvicorn.Config(
        app() if args.app == "swill-metrics" else app,
        host="127.0.0.1",
        loop=args.loop,
        ws=args.ws,
        http=args.http,
        ws_max_size=2 * MAX_MESSAGE_SIZE,
        log_level="warning",
        lifespan="off",
    )
    server = uvicorn.Server(config)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(config.backlog)  # connections wait in the backlog until uvicorn serves them
    print(f"port {sock.getsockname()[1]}", flush=True)
    # uvicorn raises the signal that stopped it again once it is done: exit cleanly instead, so
    # that the profile below is written.
    signal.signal(signal.SIGTERM, _exit)
    signal.signal(signal.SIGINT, _exit)
    profiler = cProfile.Profile() if args.profile else None
    if profiler is not None:
        profiler.enable()
    try:
        server.run(sockets=[sock])
    finally:
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(args.profile)
        sys.stdout.flush()


if __name__ == "__main__":
    main()
