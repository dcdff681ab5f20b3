"""Serve the test app with uvicorn on 127.0.0.1 and print the port, for the TypeScript tests.

    python launch.py [--port N] [--site BUNDLE] [--app auth]

Binds the socket itself (port 0: one the OS picks), prints `{"port": N}` on one line, then
serves until SIGTERM. `--site` serves the browser test's page and bundle, with the app at /rpc;
`--app auth` serves auth_app.py (credentials checked) instead of app.py.
"""

from __future__ import annotations

import argparse
import json
import socket
from pathlib import Path

import auth_app  # the script's folder is first on sys.path
import uvicorn
from app import app, site

__all__ = ["main"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--site", type=Path)
    parser.add_argument("--app", choices=["main", "auth"], default="main")
    args = parser.parse_args()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", args.port))
    sock.listen(128)  # connections made before uvicorn serves wait in the backlog
    print(json.dumps({"port": sock.getsockname()[1]}), flush=True)
    target = auth_app.app if args.app == "auth" else app if args.site is None else site(args.site)
    config = uvicorn.Config(target, log_level="warning", lifespan="off", ws_ping_interval=None)
    uvicorn.Server(config).run(sockets=[sock])


if __name__ == "__main__":
    main()
