"""The `swill` command, run as a subprocess against real servers."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

import anyio
import msgspec
import pytest
import websockets

import swill
from swill.cli import main, normalize_url
from swill.client import Client

from .conftest import ROOT

SWILL = str(Path(sys.executable).with_name("swill"))


def swill_command(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([SWILL, *args], input=stdin, capture_output=True, text=True, timeout=60, cwd=ROOT)


def test_unary_call_prints_json(url: str) -> None:
    done = swill_command("call", url, "add", "[1, 2]")
    assert (done.returncode, done.stdout, done.stderr) == (0, "3\n", "")


def test_stream_prints_one_line_per_message(url: str) -> None:
    done = swill_command("call", url, "count", "3")
    assert (done.returncode, done.stdout) == (0, "0\n1\n2\n")


def test_stdin_feeds_a_streamed_request(url: str) -> None:
    done = swill_command("call", url, "total", "--stdin", stdin="1\n2\n\n3\n")
    assert (done.returncode, done.stdout) == (0, "6\n")
    done = swill_command("call", url, "chat.echo", '"first"', "--stdin", stdin='"a"\n"b"\n')
    assert (done.returncode, done.stdout) == (0, '"first"\n"a"\n"b"\n')


def test_bytes_and_structs_print_as_json(url: str) -> None:
    assert swill_command("call", url, "blob", "3").stdout == '"eHh4"\n'  # base64
    assert swill_command("call", url, "point", '{"x": 1, "y": 2}').stdout == '{"x":2,"y":1}\n'


def test_metadata_timeout_and_show_metadata(url: str) -> None:
    done = swill_command("call", url, "meta", "-m", "a=1", "--metadata", "b=x=y", "--show-metadata")
    assert done.returncode == 0
    assert json.loads(done.stdout) == {"a": "1", "b": "x=y"}
    assert done.stderr == 'leading metadata: {"lead":"L"}\ntrailing metadata: {"trail":"T"}\n'
    done = swill_command("call", url, "sleep", "60", "--timeout", "0.2")
    assert done.returncode == 1
    assert done.stderr.startswith("error: DEADLINE_EXCEEDED: ")


def test_server_error_prints_code_message_data_and_metadata(url: str) -> None:
    spec = {"code": "NOT_FOUND", "message": "gone", "data": {"id": 1}, "metadata": {"m": 2}}
    done = swill_command("call", url, "fail", json.dumps(spec))
    assert done.returncode == 1
    assert done.stderr == 'error: NOT_FOUND: gone\ndata: {"id":1}\nmetadata: {"m":2}\n'
    done = swill_command("call", url, "no.such.rpc")
    assert done.returncode == 1
    assert done.stderr == "error: UNIMPLEMENTED: no rpc named 'no.such.rpc'\n"


def test_invalid_json_is_a_usage_error(url: str) -> None:
    done = swill_command("call", url, "add", "[1,")
    assert done.returncode == 2
    assert done.stderr.startswith("swill: invalid JSON in the request: ")
    done = swill_command("call", url, "total", "--stdin", stdin="1\nnot json\n")
    assert done.returncode == 2
    assert done.stderr.startswith("swill: invalid JSON in stdin line 2: ")
    done = swill_command("call", url, "fail", "hello")  # the shell ate the quotes, or there were none
    assert done.returncode == 2
    assert done.stderr.endswith(
        "\n  a JSON string needs double quotes, which the shell keeps inside single ones: '\"hello\"'\n"
    )
    assert "JSON string" not in swill_command("call", url, "add", "[1,").stderr  # not a string's mistake
    done = swill_command("call", url, "add", "-m", "novalue")
    assert (done.returncode, done.stderr) == (2, "swill: metadata is KEY=VALUE, got 'novalue'\n")


def test_connection_problems_exit_with_3(url: str) -> None:
    with socket_closed_port() as port:
        done = swill_command("call", f"127.0.0.1:{port}", "add", "[1, 2]")
    assert done.returncode == 3
    assert done.stderr.startswith(f"swill: can't connect to ws://127.0.0.1:{port}/ws: ")
    done = swill_command("call", url, "add", "[1, 2]", "-H", "Origin: http://evil.example")
    assert done.returncode == 3
    assert "origin http://evil.example is not allowed: add it to Swill(allowed_origins=[...])" in done.stderr
    done = swill_command("call", url, "close_connection", "1011")
    assert done.returncode == 3
    assert done.stderr.startswith("error: UNAVAILABLE: the connection closed (code 1011")


def test_introspect_prints_the_document(url: str) -> None:
    done = swill_command("introspect", url)
    assert done.returncode == 0
    document = json.loads(done.stdout)
    assert "add" in {rpc["name"] for rpc in document["rpcs"]}
    assert done.stdout.startswith("{\n  ")  # indented for people


def test_normalize_url() -> None:
    assert normalize_url("localhost:8000") == "ws://localhost:8000/ws"
    assert normalize_url("http://h:1") == "ws://h:1/ws"
    assert normalize_url("https://h/") == "wss://h/ws"
    assert normalize_url("ws://h:1/rpc?x=1") == "ws://h:1/rpc?x=1"
    with pytest.raises(Exception, match="not a server URL"):
        normalize_url("ftp://h")


# swill run


class Served:
    """`swill run` in a subprocess; `url` once uvicorn says where it listens. A thread reads its
    log, so that the pipe never fills."""

    def __init__(self, *args: str, workers: int = 1, command: Sequence[str] = (SWILL, "run")) -> None:
        self.workers = workers
        self.process = subprocess.Popen(
            [*command, *args, "--port", "0", "--log-level", "info", "--workers", str(workers)],
            cwd=ROOT,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        self.log: list[str] = []
        self._logged = threading.Condition()
        self._port: int | None = None
        self._listening = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        if not self._listening.wait(60) or self._port is None:
            raise RuntimeError(f"swill run did not start: {self.log}")
        self.url: str = f"ws://127.0.0.1:{self._port}/ws"

    def _read(self) -> None:
        assert self.process.stderr is not None
        started = 0
        for line in self.process.stderr:
            with self._logged:
                self.log.append(line)
                self._logged.notify_all()
            if "Uvicorn running on http://127.0.0.1:" in line:
                self._port = int(line.split("127.0.0.1:")[1].split()[0])
            elif "Application startup complete." in line:
                started += 1
            if self._port is not None and started == self.workers:  # every worker listens
                self._listening.set()
        self._listening.set()

    def wait_for(self, text: str, timeout: float = 10.0) -> str:
        """The first line of the log that contains `text`, waiting for it up to `timeout` seconds."""

        def found() -> str | None:
            return next((line for line in self.log if text in line), None)

        with self._logged:
            self._logged.wait_for(lambda: found() is not None, timeout)
            line = found()
        assert line is not None, f"{text!r} not in the log:\n{''.join(self.log)}"
        return line

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        returncode = self.process.wait(60)
        self._reader.join(10)
        if self.process.stderr is not None:
            self.process.stderr.close()
        return returncode


@pytest.fixture
def served() -> Iterator[list[Served]]:
    started: list[Served] = []
    yield started
    for one in started:
        if one.process.poll() is None:
            one.process.kill()
            one.stop()


@pytest.mark.parametrize("workers", [1, 2])
async def test_run_drains_on_sigterm(served: list[Served], workers: int) -> None:
    one = Served("tests.client.app:app", workers=workers)
    served.append(one)
    async with Client(one.url) as client:
        call = await client.open("sleep", 1.0)
        await client.ping()  # the server has the call
        one.process.send_signal(signal.SIGTERM)
        assert await call.result() == "slept"  # the drain let it finish
        with pytest.raises(swill.Error) as info:
            await client.call("add", (1, 2))  # no new connections while draining
        assert info.value.code is swill.Code.UNAVAILABLE
    with anyio.fail_after(60):
        returncode = await anyio.to_thread.run_sync(one.stop)
    assert returncode in (0, -signal.SIGTERM)


async def test_run_sets_ws_max_size_above_max_message_size(served: list[Served]) -> None:
    one = Served("tests.client.app:app")  # max_message_size 1 MiB: uvicorn's limit becomes 2 MiB
    served.append(one)
    async with websockets.connect(one.url, max_size=None) as ws:
        await ws.recv()  # HELLO
        await ws.send(msgspec.msgpack.encode([0, 1, "size", None, None, b"x" * (1 << 20) + b"x"]))
        error = msgspec.msgpack.decode(await ws.recv(decode=False))
        assert error[:3] == [5, 1, "RESOURCE_EXHAUSTED"]  # the call fails, the connection goes on
        await ws.send(msgspec.msgpack.encode([0, 2, "size", None, None, b"x" * (3 << 20)]))
        with pytest.raises(websockets.ConnectionClosed) as info:
            await ws.recv()
        assert info.value.rcvd is not None and info.value.rcvd.code == 1009


def test_run_with_an_app_that_does_not_import() -> None:
    done = swill_command("run", "tests.client.no_such_module:app")
    assert done.returncode == 2
    assert done.stderr.startswith("swill: can't import the app: ")


class socket_closed_port:
    """A port on 127.0.0.1 where nothing listens (bound, never listening, while in use)."""

    def __enter__(self) -> int:
        import socket

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        return int(self.sock.getsockname()[1])

    def __exit__(self, *exc: object) -> None:
        self.sock.close()


# The same commands in this process (the subprocess tests above can't measure coverage).


def run_main(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = main(list(args))
    out, err = capsys.readouterr()
    return status, out, err


def test_in_process_call_stream_and_introspect(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_main(capsys, "call", url, "add", "[1, 2]") == (0, "3\n", "")
    assert run_main(capsys, "call", url, "count", "2", "--show-metadata") == (
        0,
        "0\n1\n",
        "leading metadata: {}\ntrailing metadata: {}\n",
    )
    status, out, _ = run_main(capsys, "introspect", url, "-H", "X-Trace: 1")
    assert status == 0 and json.loads(out)["version"] == 1


def test_in_process_stdin(url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("1\n2\n"))
    assert run_main(capsys, "call", url, "total", "--stdin") == (0, "3\n", "")
    monkeypatch.setattr(sys, "stdin", io.StringIO("1\n{\n"))
    status, _, err = run_main(capsys, "call", url, "total", "--stdin")
    assert status == 2 and err.startswith("swill: invalid JSON in stdin line 2: ")


def test_in_process_errors(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = run_main(capsys, "call", url, "fail", '{"code": "ABORTED", "message": "no"}')
    assert (status, err) == (1, "error: ABORTED: no\n")
    status, _, err = run_main(capsys, "call", url, "close_connection", "4403")
    # The reason as the server sent it, and the close code next to it.
    assert (status, err) == (3, 'error: PERMISSION_DENIED: closed by request\ndata: {"close_code":4403}\n')
    status, _, err = run_main(capsys, "call", url, "add", "[1, 2]", "-H", "Origin: http://evil.example")
    assert status == 3 and err.startswith("swill: origin http://evil.example is not allowed")
    assert err.endswith(" (close code 4403)\n")
    with socket_closed_port() as port:
        status, _, err = run_main(capsys, "call", f"127.0.0.1:{port}", "add", "[1, 2]")
    assert status == 3 and "can't connect" in err
    assert run_main(capsys, "call", "ftp://x", "add")[0] == 2
    assert run_main(capsys, "call", url, "add", "-H", "no colon")[:2] == (2, "")
    assert run_main(capsys, "run", "tests.client.no_such_module:app")[0] == 2


async def test_run_declines_permessage_deflate_unless_asked(served: list[Served]) -> None:
    plain = Served("tests.client.app:app")
    served.append(plain)
    deflating = Served("tests.client.app:app", "--ws-per-message-deflate")
    served.append(deflating)
    for one, negotiated in ((plain, []), (deflating, ["permessage-deflate"])):
        async with websockets.connect(one.url, compression="deflate") as ws:
            assert [extension.name for extension in ws.protocol.extensions] == negotiated


async def test_plain_uvicorn_drains_on_sigterm_too(served: list[Served]) -> None:
    # No swill run: the app's lifespan put its own handlers in front of uvicorn's.
    one = Served("tests.client.app:app", command=(sys.executable, "-m", "uvicorn"))
    served.append(one)
    async with Client(one.url) as client:
        call = await client.open("sleep", 1.0)
        await client.ping()  # the server has the call
        one.process.send_signal(signal.SIGTERM)
        assert await call.result() == "slept"  # the drain let it finish
    with anyio.fail_after(60):
        returncode = await anyio.to_thread.run_sync(one.stop)
    assert returncode in (0, -signal.SIGTERM)
    assert not any("1012" in line for line in one.log)
