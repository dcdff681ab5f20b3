"""Credentials in the AUTH frame: short-lived signed tokens (HS256 JWTs), checked per connection.

    uvicorn examples.auth_tokens:app

A client sends `{"token": <JWT>}` in AUTH (`Client(url, auth=...)` in Python,
`new Client(url, { auth })` in TypeScript). `check` verifies the signature and the expiry, keeps
the user on `connection.state`, and closes the connection with 4401 "token expired" when the
token runs out, unless the client sent a fresh one first (`client.reauthenticate()`). The
tokens are made with the standard library here; use your identity provider's (PyJWT, ...) in an
application.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from typing import Any

import swill

__all__ = ["app", "issue", "verify"]

SECRET = b"change me: a secret only the server knows"

app = swill.Swill(__name__)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def issue(user: str, ttl: float) -> str:
    """A JWT for `user` that expires `ttl` seconds from now (what your login endpoint returns)."""
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    claims = _b64(json.dumps({"sub": user, "exp": time.time() + ttl}).encode())
    signature = hmac.new(SECRET, f"{header}.{claims}".encode(), hashlib.sha256).digest()
    return f"{header}.{claims}.{_b64(signature)}"


def verify(token: object) -> dict[str, Any]:
    """The claims of a valid, unexpired token.

    Raises:
        swill.Error: `UNAUTHENTICATED`, with what is wrong with the token.
    """
    try:
        header, claims, signature = str(token).split(".")
        expected = hmac.new(SECRET, f"{header}.{claims}".encode(), hashlib.sha256).digest()
        valid = hmac.compare_digest(_unb64(signature), expected)
        payload: dict[str, Any] = json.loads(_unb64(claims))
    except ValueError:
        valid = False
    if not valid:
        raise swill.Error(swill.Code.UNAUTHENTICATED, "invalid token")
    if payload["exp"] <= time.time():
        raise swill.Error(swill.Code.UNAUTHENTICATED, "token expired")
    return payload


@app.authenticate
async def check(connection: swill.Connection, credentials: Any) -> None:
    """Runs for every AUTH: the first one opens the connection's calls, later ones renew it."""
    claims = verify(credentials.get("token") if isinstance(credentials, dict) else None)
    connection.state.user = claims["sub"]
    expiry = getattr(connection.state, "expiry", None)
    if expiry is not None:
        expiry.cancel()  # a fresh token replaced the old one in time
    delay = claims["exp"] - time.time()
    connection.state.expiry = asyncio.get_running_loop().call_later(
        delay, lambda: asyncio.ensure_future(connection.close(4401, "token expired"))
    )


@app.after_connection
def forget(connection: swill.Connection) -> None:
    expiry = getattr(connection.state, "expiry", None)
    if expiry is not None:
        expiry.cancel()


@app.handle()
async def whoami(request: swill.Request[None]) -> str:
    """The user whose token the connection's calls run under."""
    return str(request.connection.state.user)
