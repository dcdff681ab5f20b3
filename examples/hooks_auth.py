"""Authentication in `before_accept`: a bearer token from a cookie, the query string, a second
subprotocol or a header, the user kept on `connection.state` (docs/security.md).

Serve it with `swill run examples.hooks_auth:app`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import swill

app = swill.Swill(__name__, allowed_origins=["https://app.example.com"])


@dataclass(frozen=True)
class User:
    name: str
    admin: bool = False


# Stands in for a session store or a token verifier (a JWT library, say).
TOKENS = {"t0k3n-ada": User("ada", admin=True), "t0k3n-bob": User("bob")}


def bearer_token(connection: swill.Connection) -> str | None:
    """The token from the first place that has one: cookie, query string, subprotocol, header."""
    if token := connection.cookies.get("session"):
        return token
    if token := connection.query_params.get("token"):
        return token
    for offered in connection.subprotocols:  # e.g. ["swill.v1", "bearer.t0k3n-ada"]
        if offered.startswith("bearer."):
            return offered.removeprefix("bearer.")
    scheme, _, token = connection.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token:  # clients that are not browsers
        return token
    return None


@app.before_accept
async def authenticate(connection: swill.Connection) -> None:
    token = bearer_token(connection)
    if token is None:
        raise swill.Error(swill.Code.UNAUTHENTICATED, "log in first")  # closes with 4401
    user = TOKENS.get(token)
    if user is None:
        raise swill.Error(swill.Code.UNAUTHENTICATED, "invalid or expired token")
    connection.state.user = user


@app.before_request
def admins_only(request: swill.Request[Any]) -> None:
    if request.rpc.startswith("admin.") and not request.connection.state.user.admin:
        raise swill.Error(swill.Code.PERMISSION_DENIED, "admins only")


@app.handle()
async def whoami(request: swill.Request[None]) -> str:
    """The name of the user this connection belongs to."""
    user: User = request.connection.state.user
    return user.name


@app.handle(name="admin.users")
async def list_users(request: swill.Request[None]) -> list[str]:
    """Every user's name (admins only)."""
    return sorted(user.name for user in TOKENS.values())
