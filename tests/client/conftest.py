"""Servers for the client tests: the test app on uvicorn (in a thread or a subprocess), and a
scripted raw-frame server for checking exactly what the client sends."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from tests.conftest import LiveServer, decode, encode

from .app import make_app

ROOT = Path(__file__).resolve().parents[2]
HELLO = {"version": 1, "max_message_size": 1 << 20, "max_concurrent_calls": 100, "client_window": 16, "server": "fake"}


@pytest.fixture(scope="module")
def server() -> Iterator[LiveServer]:
    """The test app on uvicorn in a thread, shared by a module's tests (they use unique tags)."""
    live = LiveServer(make_app())
    live.start()
    yield live
    live.stop()


@pytest.fixture(scope="module")
def url(server: LiveServer) -> str:
    return server.url


class ServerProcess:
    """`tests.client.serve` in a subprocess, to kill it without a goodbye."""

    def __init__(self, *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.client.serve", *args],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()  # the child prints its port once it listens
        if not line.startswith("port "):
            self.process.kill()
            raise RuntimeError(f"the test server did not start: {line!r}")
        self.url = f"ws://127.0.0.1:{int(line.split()[1])}/ws"

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)


@pytest.fixture
def server_process() -> Iterator[Callable[..., ServerProcess]]:
    processes: list[ServerProcess] = []

    def start(*args: str) -> ServerProcess:
        process = ServerProcess(*args)
        processes.append(process)
        return process

    yield start
    for process in processes:
        if process.process.poll() is None:
            process.kill()
        if process.process.stdout is not None:
            process.process.stdout.close()


class Peer:
    """The server's end of one connection to `FakeServer`, frame by frame."""

    def __init__(self, ws: ServerConnection) -> None:
        self.ws = ws

    async def recv(self, wait: float = 5.0) -> Any:
        with anyio.fail_after(wait):
            return decode(await self.ws.recv())

    async def recv_until(self, type_: int, wait: float = 5.0) -> Any:
        """The next frame of type `type_`, skipping others."""
        while True:
            frame = await self.recv(wait)
            if frame[0] == type_:
                return frame

    async def send(self, *frames: Any) -> None:
        for frame in frames:
            await self.ws.send(encode(frame))

    async def close(self, code: int = 1000, reason: str = "") -> None:
        await self.ws.close(code, reason)


Script = Callable[[Peer], Awaitable[None]]


class FakeServer:
    """A raw PROTOCOL.md server: HELLO (`hello={}`: none), then `script(peer)` for each connection."""

    def __init__(self, script: Script, hello: dict[str, Any] | None) -> None:
        self.script = script
        self.hello = None if hello == {} else {**HELLO, **(hello or {})}
        self.connections = 0
        self.url = ""

    async def handle(self, ws: ServerConnection) -> None:
        self.connections += 1
        peer = Peer(ws)
        try:
            if self.hello is not None:
                await peer.send([8, 0, self.hello])
            await self.script(peer)
        except ConnectionClosed:
            pass


@asynccontextmanager
async def fake_server(
    script: Script, *, hello: dict[str, Any] | None = None, ping_interval: float | None = None
) -> AsyncIterator[FakeServer]:
    fake = FakeServer(script, hello)
    async with serve(
        fake.handle, "127.0.0.1", 0, subprotocols=[Subprotocol("swill.v1")], ping_interval=ping_interval
    ) as ws_server:
        port = next(iter(ws_server.sockets)).getsockname()[1]
        fake.url = f"ws://127.0.0.1:{port}/ws"
        yield fake
