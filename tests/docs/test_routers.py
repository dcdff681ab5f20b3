"""examples/routers.py: prefixes, nesting, router hooks, and the naming rules."""

from __future__ import annotations

from collections.abc import Callable

import pytest

import swill
from examples import routers

from .conftest import open_raw


@pytest.fixture(autouse=True)
def users(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(routers, "USERS", dict(routers.USERS))  # each test starts from the example's data


def test_names() -> None:
    assert set(routers.app.rpcs) == {"ping", "users.get", "users.create", "users.admin.delete", "swill.introspect"}


async def test_calls_and_the_nested_routers_hook(serve: Callable[..., str]) -> None:
    async with open_raw(serve(routers.app)) as client:
        await client.send([0, 1, "ping", None, None, None])
        assert await client.until_end(1) == [[6, 1, "pong", None, None]]
        await client.send([0, 2, "users.create", None, None, {"name": "grace"}])
        assert await client.until_end(2) == [[6, 2, 2, None, None]]
        await client.send([0, 3, "users.get", None, None, 2])
        assert await client.until_end(3) == [[6, 3, "grace", None, None]]
        # The frames docs/routers.md shows.
        await client.send([0, 4, "users.admin.delete", None, None, 1])
        assert await client.until_end(4) == [[5, 4, "PERMISSION_DENIED", "admins only", None, None]]
        await client.send([0, 5, "users.admin.delete", {"role": "admin"}, None, 1])
        assert await client.until_end(5) == [[6, 5, True, None, None]]


async def test_app_hooks_run_before_router_hooks_outer_to_inner(serve: Callable[..., str]) -> None:
    order: list[str] = []
    inner = swill.Router(prefix="inner")
    outer = swill.Router(prefix="outer")

    @inner.handle()
    async def f(request: swill.Request[None]) -> None:
        order.append("handler")

    # Registered innermost first: the order of registration does not matter.
    inner.before_request(lambda request: order.append("inner"))
    outer.include_router(inner)
    app = swill.Swill()
    app.include_router(outer)
    outer.before_request(lambda request: order.append("outer"))
    app.before_request(lambda request: order.append("app"))

    async with open_raw(serve(app)) as client:
        await client.send([0, 1, "outer.inner.f", None, None, None])
        assert await client.until_end(1) == [[6, 1, None, None, None]]
    assert order == ["app", "outer", "inner", "handler"]


def test_a_duplicate_name_names_both_functions() -> None:
    router = swill.Router(prefix="users")

    @router.handle()
    async def get(request: swill.Request[int]) -> str:
        return ""

    app = swill.Swill()

    @app.handle(name="users.get")
    async def other(request: swill.Request[int]) -> str:
        return ""

    with pytest.raises(ValueError, match=r"users\.get.*get.*other|users\.get.*other.*get"):
        app.include_router(router)


def test_reserved_names() -> None:
    with pytest.raises(ValueError):
        swill.Router(prefix="swill")
    with pytest.raises(ValueError):
        swill.Swill().handle(name="swill.mine")(routers.ping)


def test_a_clash_made_after_include_is_refused() -> None:
    router = swill.Router(prefix="users")
    app = swill.Swill()
    app.include_router(router)

    @app.handle(name="users.get")
    async def first(request: swill.Request[int]) -> str:
        return ""

    with pytest.raises(ValueError, match=r"users\.get.*first.*second|users\.get.*second.*first"):

        @router.handle(name="get")
        async def second(request: swill.Request[int]) -> str:
            return ""
