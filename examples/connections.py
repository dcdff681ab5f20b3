"""Per-connection state, the set of open connections, and closing one (docs/connections.md).

Serve it with `swill run examples.connections:app`, then connect to `ws://127.0.0.1:8000/ws?name=ada`.
"""

from __future__ import annotations

import logging
from typing import Any

import swill

app = swill.Swill(__name__)
log = logging.getLogger(__name__)


@app.before_connection
def limit_connections(connection: swill.Connection) -> None:
    # `app.connections` already holds this one.
    if len(app.connections) > 1000:
        raise swill.Error(swill.Code.RESOURCE_EXHAUSTED, "server full, try later")  # 4429


@app.before_accept
def take_name(connection: swill.Connection) -> None:
    name = connection.query_params.get("name")
    if not name:
        raise swill.Error(swill.Code.INVALID_ARGUMENT, "add ?name=... to the URL")  # 4400
    connection.state.name = name
    connection.state.calls = 0


@app.after_connection
def goodbye(connection: swill.Connection) -> None:
    # Runs for refused connections too, so `name` may be missing.
    log.info("%s left (%s)", getattr(connection.state, "name", "?"), connection.id)


@app.before_request
def count_calls(request: swill.Request[Any]) -> None:
    request.connection.state.calls += 1


@app.handle()
async def me(request: swill.Request[None]) -> dict[str, Any]:
    """What the server knows about this connection."""
    connection = request.connection
    return {
        "id": connection.id,
        "name": connection.state.name,
        "calls": connection.state.calls,
        "user_agent": connection.headers.get("user-agent"),
    }


@app.handle()
async def online(request: swill.Request[None]) -> list[str]:
    """The names of everyone connected."""
    # Connections still in their handshake have no name yet.
    names = (getattr(connection.state, "name", None) for connection in app.connections)
    return sorted({name for name in names if name is not None})


@app.handle()
async def kick(request: swill.Request[str]) -> int:
    """Close every connection of the named user; returns how many were closed."""
    victims = [c for c in app.connections if getattr(c.state, "name", None) == request.data]
    for connection in victims:
        await connection.close(4403, "kicked by " + request.connection.state.name)
    return len(victims)
