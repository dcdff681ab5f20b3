"""The app the TypeScript client's credential tests call: AUTH checked by `@app.authenticate`.

Credentials are `{"token": str, "expires_in": seconds}`. A token that starts with `good` passes;
any other is refused (4401, "token refused: <token>"). A token that passed expires after
`expires_in` seconds, as a JWT would: the connection is then closed with 4401 "token expired",
unless a later AUTH replaced it first.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import anyio

import swill

__all__ = ["app"]

app = swill.Swill(__name__, auth_timeout=5.0)
ticks = app.topic("ticks", int, policy="fifo", history=1000)
app.expose(ticks)


@app.authenticate
async def check(connection: swill.Connection, credentials: Any) -> None:
    token = credentials.get("token") if isinstance(credentials, dict) else None
    if not isinstance(token, str) or not token.startswith("good"):
        raise swill.Error(swill.Code.UNAUTHENTICATED, f"token refused: {token}")
    connection.state.auths = getattr(connection.state, "auths", 0) + 1
    expiry = getattr(connection.state, "expiry", None)
    if expiry is not None:
        expiry.cancel()  # replaced before it expired
    expires_in = float(credentials.get("expires_in", 3600))
    connection.state.expiry = asyncio.get_running_loop().call_later(
        expires_in, lambda: asyncio.ensure_future(connection.close(4401, "token expired"))
    )


@app.after_connection
def forget(connection: swill.Connection) -> None:
    expiry = getattr(connection.state, "expiry", None)
    if expiry is not None:
        expiry.cancel()


@app.handle()
async def whoami(request: swill.Request[None]) -> dict[str, Any]:
    """The token this connection's calls run under, and how many AUTHs passed on it."""
    connection = request.connection
    return {"token": connection.credentials["token"], "auths": connection.state.auths}


@app.handle()
async def wait(request: swill.Request[float]) -> str:
    await anyio.sleep(request.data)
    return "done"


@app.handle()
async def publish(request: swill.Request[int]) -> int:
    return await ticks.publish(request.data)


@app.handle()
async def count(request: swill.Request[int]) -> AsyncIterator[int]:
    for i in range(request.data):
        yield i
