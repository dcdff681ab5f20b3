"""Routers: prefixes, nesting, name clashes at registration, reserved names, full rpc names."""

from __future__ import annotations

import re

import pytest

import swill
from tests.conformance.conftest import RawClient
from tests.conftest import LiveServer

from .conftest import session


async def a(request: swill.Request[int]) -> int:
    return request.data


async def b(request: swill.Request[int]) -> int:
    return request.data


def test_nested_routers_prefix_their_names() -> None:
    app = swill.Swill(introspection=False, playground=False)
    users = swill.Router(prefix="users")
    admin = swill.Router(prefix="admin")
    users.handle(name="get")(a)
    admin.handle(name="delete")(a)
    users.include_router(admin)
    app.include_router(users)
    app.handle(name="ping")(a)
    assert set(app.rpcs) == {"ping", "users.get", "users.admin.delete"}
    assert app.rpcs["users.admin.delete"].spec.name == "users.admin.delete"


def clash(first: str, second: str) -> re.Pattern[str]:
    return re.compile(rf"registered twice: .*\.{first} and .*\.{second}")


def test_a_name_registered_twice_in_one_router() -> None:
    users = swill.Router(prefix="users")
    users.handle(name="get")(a)
    with pytest.raises(ValueError, match=clash("a", "b")):
        users.handle(name="get")(b)


def test_a_router_that_clashes_with_the_app_when_included() -> None:
    app = swill.Swill(introspection=False, playground=False)
    app.handle(name="users.get")(a)
    users = swill.Router(prefix="users")
    users.handle(name="get")(b)
    with pytest.raises(ValueError, match=clash("a", "b")):
        app.include_router(users)


@pytest.mark.parametrize("order", ["app first", "router first"])
def test_a_clash_made_after_include_is_refused_at_registration(order: str) -> None:
    app = swill.Swill(introspection=False, playground=False)
    users = swill.Router(prefix="users")
    admin = swill.Router(prefix="admin")
    users.include_router(admin)
    app.include_router(users)
    if order == "app first":
        app.handle(name="users.admin.get")(a)
        with pytest.raises(ValueError, match=clash("a", "b")):
            admin.handle(name="get")(b)
    else:
        admin.handle(name="get")(a)
        with pytest.raises(ValueError, match=clash("a", "b")):
            app.handle(name="users.admin.get")(b)


def test_a_nested_include_that_clashes_is_refused() -> None:
    app = swill.Swill(introspection=False, playground=False)
    users = swill.Router(prefix="users")
    app.include_router(users)
    app.handle(name="users.admin.get")(a)
    admin = swill.Router(prefix="admin")
    admin.handle(name="get")(b)
    with pytest.raises(ValueError, match=clash("a", "b")):
        users.include_router(admin)


@pytest.mark.parametrize("name", ["swill.mine", "swill"])
def test_reserved_names_are_refused(name: str) -> None:
    app = swill.Swill(introspection=False, playground=False)
    with pytest.raises(ValueError, match="reserved"):
        app.handle(name=name)(a)


@pytest.mark.parametrize("prefix", ["swill", "swill.x"])
def test_reserved_router_prefixes_are_refused(prefix: str) -> None:
    with pytest.raises(ValueError, match="reserved"):
        swill.Router(prefix=prefix)


def test_a_router_cannot_include_itself() -> None:
    users = swill.Router(prefix="users")
    with pytest.raises(ValueError):
        users.include_router(users)


async def test_a_router_handler_sees_its_full_rpc_name(server: LiveServer) -> None:
    async with session(server) as s:
        client: RawClient = s.client
        await client.send([0, 1, "outer.inner.unary"])
        frame = await client.recv()
    # The error message names the rpc the client called.
    assert frame[:4] == [
        5,
        1,
        "INVALID_ARGUMENT",
        "rpc 'outer.inner.unary' takes one request message; REQUEST carried no data",
    ]
