"""The `swill` command: `run` an app, `call` an rpc, `introspect` a server (and `codegen`, `docs`).

Exit statuses: 0 success; 1 the call failed with an error from the server (its code and message
are printed); 2 a usage error (bad arguments, invalid JSON, an app that can't be imported);
3 the server could not be reached, refused the connection, or the connection was lost.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import logging
import os
import shlex
import sys
import threading
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Final
from urllib.parse import urlsplit, urlunsplit

import msgspec
import uvicorn
from uvicorn.config import STARTUP_FAILURE
from uvicorn.importer import ImportFromStringError, import_from_string
from uvicorn.supervisors import ChangeReload, Multiprocess

from . import __version__
from ._codegen.cli import add_subcommands as add_codegen_subcommands
from ._errors import Error
from ._frames import NO_DATA
from ._origins import DEV_ENVIRONMENT
from .client import Call, Client

__all__ = ["EXIT_CALL_FAILED", "EXIT_CONNECTION", "EXIT_USAGE", "log_config", "main", "normalize_url"]

logger: Final = logging.getLogger("swill")

EXIT_CALL_FAILED: Final = 1
EXIT_USAGE: Final = 2
EXIT_CONNECTION: Final = 3

LOOPBACK_HOSTS: Final = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})


class UsageError(Exception):
    """Bad input from the person at the keyboard: exit status 2."""


def main(argv: Sequence[str] | None = None) -> int:
    """Run the `swill` command with `argv` (default: `sys.argv[1:]`). Returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        status: int = args.func(args)
    except UsageError as exc:
        print(f"swill: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    return status


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="swill", description="Serve and call Swill apps.")
    parser.add_argument("--version", action="version", version=f"swill {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_run(commands)
    _add_call(commands)
    introspect = commands.add_parser(
        "introspect",
        help="print a server's swill.introspect document",
        description="Print the document swill.introspect returns: every rpc with its JSON Schemas.",
    )
    _connection_arguments(introspect)
    introspect.add_argument("-t", "--timeout", type=float, default=30.0, help="seconds (default: %(default)s)")
    introspect.set_defaults(func=_introspect)
    add_codegen_subcommands(commands)
    return parser


Commands = argparse._SubParsersAction  # the type of what add_subparsers() returns


def _add_run(commands: Commands[argparse.ArgumentParser]) -> None:
    run = commands.add_parser(
        "run",
        help="serve an app with uvicorn, draining connections on shutdown",
        description="Serve APP with uvicorn. On SIGTERM or SIGINT the server stops accepting connections, "
        "sends GOAWAY and lets open calls finish (the app's drain_grace) before it stops.",
    )
    run.add_argument("app", metavar="APP", help="the app to serve, as module:attribute (e.g. myapp:app)")
    run.add_argument("--host", default="127.0.0.1", help="the address to bind (default: %(default)s)")
    run.add_argument("--port", type=int, default=8000, help="the port to bind; 0 picks one (default: %(default)s)")
    run.add_argument("--reload", action="store_true", help="restart when files under the current directory change")
    run.add_argument(
        "--dev",
        action="store_true",
        help="development: accept pages on http://localhost:<any port> (a frontend dev server); "
        "only with a loopback --host",
    )
    run.add_argument("--workers", type=int, default=1, help="worker processes (default: %(default)s)")
    run.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug", "trace"])
    run.add_argument("--access-log", action="store_true", help="log one line per call (the swill.access logger)")
    run.add_argument("--ws-max-size", type=int, help="uvicorn's hard message size limit (default: from the app)")
    run.add_argument(
        "--ws-per-message-deflate",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="accept permessage-deflate when clients offer it; off by default: for small RPC messages "
        "it costs a third more server CPU per call and doubles an idle connection's memory "
        "(docs/deployment.md)",
    )
    run.add_argument("--root-path", default="", help="the ASGI root_path, when served under a path prefix")
    run.add_argument("--proxy-headers", action="store_true", help="trust X-Forwarded-* from --forwarded-allow-ips")
    run.add_argument("--forwarded-allow-ips", help="addresses trusted to set X-Forwarded-* (uvicorn's option)")
    run.add_argument(
        "--timeout-graceful-shutdown",
        type=float,
        default=1.0,
        help="seconds uvicorn waits for connections to close after the drain; a client that stopped "
        "reading never lets its socket close by itself (default: %(default)s)",
    )
    run.set_defaults(func=_run)


def _add_call(commands: Commands[argparse.ArgumentParser]) -> None:
    call = commands.add_parser(
        "call",
        help="call an rpc and print the result as JSON",
        description="Call RPC on the server at URL and print the response as JSON: one line per message "
        "for a streamed response. Errors go to stderr with their code.",
    )
    _connection_arguments(call)
    call.add_argument("rpc", metavar="RPC", help="the rpc name, e.g. users.get")
    call.add_argument("data", metavar="JSON", nargs="?", help="the request message as JSON (default: null)")
    call.add_argument("-m", "--metadata", action="append", default=[], metavar="KEY=VALUE", help="client metadata")
    call.add_argument("-t", "--timeout", type=float, help="the call's deadline, in seconds")
    call.add_argument(
        "--stdin",
        action="store_true",
        help="stream the request: one JSON value per line of stdin (after JSON, if given)",
    )
    call.add_argument("--show-metadata", action="store_true", help="print leading and trailing metadata to stderr")
    call.set_defaults(func=_call)


def _connection_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "url", metavar="URL", help="the server: ws://host:port/ws, http://host:port or host:port (path /ws)"
    )
    parser.add_argument("-H", "--header", action="append", default=[], metavar="NAME:VALUE", help="handshake header")
    parser.add_argument("--connect-timeout", type=float, default=10.0, help="seconds (default: %(default)s)")


# swill call / swill introspect


def normalize_url(url: str) -> str:
    """A WebSocket URL from what a person types: `host:port`, `http(s)://...`, `ws(s)://...`.

    The path defaults to `/ws`.
    """
    if "://" not in url:
        url = f"ws://{url}"
    parts = urlsplit(url)
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
    if scheme not in ("ws", "wss") or not parts.netloc:
        raise UsageError(f"not a server URL: {url!r} (expected ws://host:port/ws or host:port)")
    return urlunsplit((scheme, parts.netloc, parts.path if parts.path not in ("", "/") else "/ws", parts.query, ""))


def _client(args: argparse.Namespace) -> Client:
    headers: dict[str, str] = {}
    for header in args.header:
        name, sep, value = header.partition(":")
        if not sep or not name.strip():
            raise UsageError(f"a header is NAME:VALUE, got {header!r}")
        headers[name.strip()] = value.strip()
    # One connection attempt: a one-shot command reports an unreachable server at once.
    return Client(
        normalize_url(args.url),
        headers=headers,
        connect_timeout=args.connect_timeout,
        max_receive_size=None,
        retries=0,
    )


def _parse_json(text: str, where: str) -> Any:
    try:
        return msgspec.json.decode(text)
    except msgspec.DecodeError as exc:
        raise UsageError(f"invalid JSON in {where}: {exc}{_json_hint(text)}") from None


def _json_hint(text: str) -> str:
    """A hint for text that was meant as a string: the shell ate the quotes, or there were none."""
    stripped = text.strip()
    if not stripped or stripped[0] in '[{"-0123456789' or stripped in ("true", "false", "null"):
        return ""
    quoted = shlex.quote(msgspec.json.encode(stripped).decode())
    return f"\n  a JSON string needs double quotes, which the shell keeps inside single ones: {quoted}"


def _metadata(pairs: list[str]) -> dict[str, str]:
    metadata: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"metadata is KEY=VALUE, got {pair!r}")
        metadata[key] = value
    return metadata


def _json(value: Any) -> str:
    """One line of JSON. Bytes are base64; what JSON can't hold is written as its repr."""
    return msgspec.json.encode(value, enc_hook=repr).decode()


def _call(args: argparse.Namespace) -> int:
    data = NO_DATA if args.stdin else None
    if args.data is not None:
        data = _parse_json(args.data, "the request")
    metadata = _metadata(args.metadata)
    client = _client(args)

    async def call() -> int:
        return await _call_and_print(client, args, data, metadata)

    return asyncio.run(_with_client(client, call))


def _introspect(args: argparse.Namespace) -> int:
    client = _client(args)

    async def introspect() -> int:
        document = await client.call("swill.introspect", None, timeout=args.timeout)
        print(msgspec.json.format(_json(document), indent=2))
        return 0

    return asyncio.run(_with_client(client, introspect))


async def _with_client(client: Client, work: Callable[[], Awaitable[int]]) -> int:
    """Connect, run `work`, and turn errors into messages and exit statuses."""
    async with client:
        try:
            await client.connect()
        except Error as error:
            print(f"swill: {_connection_error(error)}", file=sys.stderr)
            return EXIT_CONNECTION
        try:
            return await work()
        except Error as error:
            _print_error(error)
            connection = isinstance(error.data, dict) and "close_code" in error.data
            return EXIT_CONNECTION if connection else EXIT_CALL_FAILED


def _connection_error(error: Error) -> str:
    """The message of a failed connection, with the close code of a refusal (whose message is
    the server's reason alone)."""
    code = error.data.get("close_code") if isinstance(error.data, dict) else None
    if isinstance(code, int) and f"close code {code}" not in error.message:
        return f"{error.message} (close code {code})"
    return error.message


def _print_error(error: Error) -> None:
    print(f"error: {error.code.value}: {error.message}", file=sys.stderr)
    if error.data is not None:
        print(f"data: {_json(error.data)}", file=sys.stderr)
    if error.metadata:
        print(f"metadata: {_json(error.metadata)}", file=sys.stderr)


async def _call_and_print(client: Client, args: argparse.Namespace, data: Any, metadata: dict[str, str]) -> int:
    call = await client.open(args.rpc, data, metadata=metadata, timeout=args.timeout)
    sender: asyncio.Task[None] | None = None
    if args.stdin:
        sender = asyncio.get_running_loop().create_task(_send_stdin(call))
        # A line that is not JSON stops the call; the loop below then ends with CANCELLED.
        sender.add_done_callback(lambda task: task.cancelled() or task.exception() is None or call.cancel())
    try:
        async for message in call:
            sys.stdout.write(_json(message) + "\n")
            sys.stdout.flush()
    except Error:
        if sender is not None and sender.done() and not sender.cancelled():
            problem = sender.exception()
            if isinstance(problem, UsageError):
                raise problem from None  # the cause of the CANCELLED
        raise
    finally:
        if sender is not None:
            sender.cancel()
            await asyncio.gather(sender, return_exceptions=True)
    if args.show_metadata:
        print(f"leading metadata: {_json(call.leading_metadata)}", file=sys.stderr)
        print(f"trailing metadata: {_json(call.trailing_metadata)}", file=sys.stderr)
    return 0


async def _send_stdin(call: Call[Any]) -> None:
    """Send each line of stdin as one message, then end the request."""
    lines: asyncio.Queue[str | None] = asyncio.Queue(maxsize=16)
    loop = asyncio.get_running_loop()

    def read() -> None:  # in a daemon thread: a read that blocks must not keep the process alive
        for line in sys.stdin:
            asyncio.run_coroutine_threadsafe(lines.put(line), loop).result()
        asyncio.run_coroutine_threadsafe(lines.put(None), loop).result()

    threading.Thread(target=read, name="swill stdin", daemon=True).start()
    number = 0
    while (line := await lines.get()) is not None:
        number += 1
        if line.strip():
            await call.send(_parse_json(line, f"stdin line {number}"))
    await call.end()


# swill run


def _run(args: argparse.Namespace) -> int:
    sys.path.insert(0, os.getcwd())  # as uvicorn's --app-dir . does
    if args.dev:
        _start_dev_mode(args.host)
    app = _import_app(args.app)
    settings = getattr(app, "settings", None)
    ws_max_size = args.ws_max_size
    if ws_max_size is None:
        ws_max_size = _ws_max_size(settings.max_message_size) if settings is not None else 16 << 20
    options: dict[str, Any] = {}
    if args.forwarded_allow_ips is not None:
        options["forwarded_allow_ips"] = args.forwarded_allow_ips
    config = uvicorn.Config(
        args.app,
        host=args.host,
        port=args.port,
        reload=args.reload,
        workers=args.workers,
        log_level=args.log_level,
        ws_max_size=ws_max_size,
        ws_per_message_deflate=args.ws_per_message_deflate,
        root_path=args.root_path,
        proxy_headers=args.proxy_headers,
        lifespan="on" if settings is not None else "auto",
        timeout_graceful_shutdown=args.timeout_graceful_shutdown,
        log_config=log_config(args.log_level, access_log=args.access_log),
        **options,
    )
    if args.dev:  # after the line above, which set up logging
        logger.warning(
            "development mode (--dev): pages on http://localhost:<any port> may connect. Never in production."
        )
    return _serve(config)


def log_config(level: str, *, access_log: bool = False) -> dict[str, Any]:
    """uvicorn's logging configuration, with Swill's loggers printed in its format: refusals and
    errors (`swill`), connections opening and closing (`swill.connection`) and, with
    `access_log`, one line per call (`swill.access`)."""
    config = copy.deepcopy(uvicorn.config.LOGGING_CONFIG)
    config["loggers"]["swill"] = {"handlers": ["default"], "level": level.upper(), "propagate": False}
    # Off, Swill does not even build the access record.
    config["loggers"]["swill.access"] = {"level": level.upper() if access_log else "WARNING"}
    return config


def _start_dev_mode(host: str) -> None:
    """`--dev`: local origins for the app (and the processes uvicorn starts), on loopback only."""
    if host not in LOOPBACK_HOSTS:
        raise UsageError(
            f"--dev serves pages from localhost only, and --host {host} is not a loopback address: "
            "use --host 127.0.0.1, or list your frontend's origins in Swill(allowed_origins=[...])"
        )
    os.environ[DEV_ENVIRONMENT] = "1"  # read by Swill(local_origins=None), here and in workers


def _import_app(target: str) -> Any:
    try:
        return import_from_string(target)
    except ImportFromStringError as exc:
        raise UsageError(f"can't import the app: {exc}") from None


def _ws_max_size(max_message_size: int) -> int:
    """uvicorn's hard limit: above the app's, so that a message somewhat too large fails only its
    own call (`RESOURCE_EXHAUSTED`), while a huge one is refused before it is buffered."""
    return max(2 * max_message_size, max_message_size + (64 << 10))


def _serve(config: uvicorn.Config) -> int:
    """What `uvicorn.run` does. The app drains itself on SIGTERM and SIGINT, in every worker
    (its lifespan installs the handlers: swill/_shutdown.py)."""
    server = uvicorn.Server(config)
    try:
        if config.should_reload:
            ChangeReload(config, target=server.run, sockets=[config.bind_socket()]).run()
        elif config.workers > 1:
            Multiprocess(config, sockets=[config.bind_socket()]).run()
        else:
            server.run()
    except KeyboardInterrupt:
        pass
    if not server.started and not config.should_reload and config.workers == 1:
        return STARTUP_FAILURE
    return 0
