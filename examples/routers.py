"""Handlers grouped by routers, nested, each with its own request hooks (docs/routers.md).

Serve it with `swill run examples.routers:app`. The rpcs are `ping`, `users.get`, `users.create`
and `users.admin.delete`.
"""

from __future__ import annotations

from typing import Any

import msgspec

import swill

USERS: dict[int, str] = {1: "ada"}

users = swill.Router(prefix="users")
admin = swill.Router(prefix="admin")


@users.handle()
async def get(request: swill.Request[int]) -> str:
    """The user's name."""
    try:
        return USERS[request.data]
    except KeyError:
        raise swill.Error(swill.Code.NOT_FOUND, f"no user {request.data}") from None


class NewUser(msgspec.Struct):
    name: str


@users.handle()
async def create(request: swill.Request[NewUser]) -> int:
    """Add a user; returns the new id."""
    new_id = max(USERS, default=0) + 1
    USERS[new_id] = request.data.name
    return new_id


@admin.before_request
def admins_only(request: swill.Request[Any]) -> None:
    # Runs for `users.admin.*` only, after the app's and the users router's hooks.
    if request.metadata.get("role") != "admin":
        raise swill.Error(swill.Code.PERMISSION_DENIED, "admins only")


@admin.handle()
async def delete(request: swill.Request[int]) -> bool:
    """Remove a user; returns whether it existed."""
    return USERS.pop(request.data, None) is not None


users.include_router(admin)  # nested: users.admin.delete

app = swill.Swill(__name__)
app.include_router(users)


@app.handle()
async def ping(request: swill.Request[None]) -> str:
    """A handler on the app itself."""
    return "pong"
