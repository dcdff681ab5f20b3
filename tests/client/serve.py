"""Serve the client tests' app with uvicorn on 127.0.0.1, in this process.

`python -m tests.client.serve` binds a port the OS picks, prints `port <n>` and serves until it
is stopped (the tests kill it to lose the connection without a closing handshake).
"""

from __future__ import annotations

import socket

import uvicorn

from tests.client.app import make_app

__all__ = ["main"]


def main() -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    print(f"port {sock.getsockname()[1]}", flush=True)
    config = uvicorn.Config(make_app(), log_level="warning", lifespan="on")
    uvicorn.Server(config).run(sockets=[sock])


if __name__ == "__main__":
    main()
