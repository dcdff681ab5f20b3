"""Fixtures for the topic tests: a real redis-server, and uvicorn worker processes."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.processes import Output

ROOT = Path(__file__).resolve().parents[2]
REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RedisServer:
    """A redis-server on 127.0.0.1, without persistence, that a test may stop and start again."""

    def __init__(self, port: int | None = None) -> None:
        self.chosen = port is None  # a port we picked may be taken before redis binds it: pick again
        self.port = port or free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[str] | None = None
        self.output: Output | None = None

    def start(self) -> None:
        for _ in range(3):
            if self._start():
                return
            self.port = free_port()
            self.url = f"redis://127.0.0.1:{self.port}/0"
        raise RuntimeError(f"redis-server found no free port: {self.port}")

    def _start(self) -> bool:
        """Start redis; False when the port we chose was taken meanwhile."""
        self.process = process = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert process.stdout is not None
        self.output = output = Output(process.stdout, "Ready to accept connections")
        if not output.wait(30):
            self.stop()
            if self.chosen and any("Address already in use" in line for line in output.lines):
                return False
            raise RuntimeError(f"redis-server did not start:\n{output}")
        return True

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is not None:
            process.terminate()
            process.wait(10)
            if self.output is not None:
                self.output.join(10)  # it reads the log up to its end
            assert process.stdout is not None
            process.stdout.close()


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    """A fresh redis-server for one test, stopped at its end."""
    server = RedisServer()
    server.start()
    yield server
    server.stop()


class Worker:
    """`uvicorn <app>` in a process of its own, on a socket this process bound (port 0)."""

    def __init__(self, app: str, env: dict[str, str]) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.port = int(self.sock.getsockname()[1])
        self.url = f"ws://127.0.0.1:{self.port}/ws"
        fd = self.sock.fileno()
        os.set_inheritable(fd, True)
        command = [sys.executable, "-m", "uvicorn", app, "--fd", str(fd), "--log-level", "warning"]
        self.process = subprocess.Popen(command, cwd=ROOT, env={**os.environ, **env}, pass_fds=[fd])

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)
        self.sock.close()


@pytest.fixture
def workers() -> Iterator[list[Worker]]:
    """Append `Worker(...)`s to the list; they are stopped at the end of the test."""
    started: list[Worker] = []
    yield started
    for worker in started:
        worker.stop()
