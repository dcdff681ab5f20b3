"""Hooks that time every call, check a client version and tidy metadata (docs/hooks.md).

Serve it with `swill run examples.hooks:app`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import swill

app = swill.Swill(__name__)
log = logging.getLogger(__name__)

started: dict[swill.Request[Any] | swill.StreamingRequest[Any], float] = {}


@app.before_request
def start_timer(request: swill.Request[Any]) -> None:
    started[request] = time.perf_counter()


@app.before_request_metadata
def lower_keys(request: swill.Request[Any], metadata: dict[str, Any]) -> dict[str, Any]:
    # The replacement is what the next hook and the handler see.
    return {key.lower(): value for key, value in metadata.items()}


@app.before_request_metadata
def check_client(request: swill.Request[Any], metadata: dict[str, Any]) -> None:
    if metadata.get("client-version", 1) < 1:
        raise swill.Error(swill.Code.FAILED_PRECONDITION, "please upgrade your client")


@app.before_trailing_metadata
def server_timing(request: swill.Request[Any], metadata: dict[str, Any]) -> dict[str, Any]:
    elapsed = time.perf_counter() - started[request]
    return {**metadata, "server-ms": round(elapsed * 1000, 3)}


@app.after_request
def log_call(request: swill.Request[Any], error: swill.Error | None) -> None:
    elapsed = time.perf_counter() - started.pop(request)
    code = "OK" if error is None else error.code
    log.info("%s %s %.1fms", request.rpc, code, elapsed * 1000)


@app.handle(name="metadata")
async def show_metadata(request: swill.Request[None]) -> dict[str, Any]:
    """Return the client metadata as the handler sees it."""
    return request.metadata


@app.handle()
async def repeat(request: swill.Request[tuple[str, int]]) -> AsyncIterator[str]:
    """Stream the text the given number of times."""
    text, times = request.data
    for _ in range(times):
        yield text
