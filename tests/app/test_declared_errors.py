"""Declared errors: what raising one sends, registration checks, and typing them back on a client."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import msgspec
import pytest
import websockets

import swill
from swill.testing import TestClient
from tests.conformance.conftest import RawClient
from tests.conftest import LiveServer


class Stock(msgspec.Struct):
    item: str
    left: int


class OutOfStock(swill.DeclaredError[Stock], code=swill.Code.FAILED_PRECONDITION):
    """Not enough of the item is left.

    The detail says how many are.
    """


class Closed(swill.DeclaredError[None], code="UNAVAILABLE", name="shop.Closed"):
    pass


class Banned(swill.DeclaredError[list[str]], code=swill.Code.PERMISSION_DENIED):
    """Banned."""


app = swill.Swill(__name__)
shop = swill.Router("shop")


@app.handle(errors=[OutOfStock, Closed])
async def order(request: swill.Request[str]) -> int:
    if request.data == "closed":
        raise Closed(metadata={"retry-after": 60})
    if request.data == "banned":
        raise Banned(["a", "b"])  # not declared by this rpc: sent all the same
    if request.data == "plain":
        raise swill.Error(swill.Code.NOT_FOUND, "no such item", data={"error": "OutOfStock"})
    raise OutOfStock(Stock(item=request.data, left=2))


@shop.handle(errors=[OutOfStock])
async def watch(request: swill.Request[str]) -> AsyncIterator[int]:
    yield 1
    raise OutOfStock(Stock(item=request.data, left=0), f"{request.data} ran out")


app.include_router(shop)


async def test_raising_one_sends_its_code_a_message_and_the_detail_tagged_with_its_name(
    live_server: Callable[..., LiveServer],
) -> None:
    server = live_server(app)
    async with websockets.connect(server.url, subprotocols=[websockets.Subprotocol("swill.v1")]) as ws:
        raw = RawClient(ws)
        assert (await raw.recv())[0] == 8
        await raw.send([0, 1, "order", None, None, "tea"])
        assert await raw.recv() == [
            5,
            1,
            "FAILED_PRECONDITION",
            "Not enough of the item is left.",
            {"error": "OutOfStock", "detail": {"item": "tea", "left": 2}},
            None,
        ]
        await raw.send([0, 2, "order", None, None, "closed"])
        assert await raw.recv() == [
            5,
            2,
            "UNAVAILABLE",
            "shop.Closed",  # no docstring: the name
            {"error": "shop.Closed", "detail": None},
            {"retry-after": 60},
        ]


async def test_clients_get_the_typed_error_back_with_from_error_or_narrowing() -> None:
    async with TestClient(app) as client:
        with pytest.raises(swill.Error) as caught:
            await client.call("order", "tea")
        error = caught.value
        assert type(error) is swill.Error
        typed = OutOfStock.from_error(error)
        assert typed is not None and typed.detail == Stock(item="tea", left=2)
        assert (typed.code, typed.message) == (swill.Code.FAILED_PRECONDITION, "Not enough of the item is left.")
        assert Closed.from_error(error) is None and Banned.from_error(error) is None
        assert OutOfStock.from_error(typed) is typed

        with pytest.raises(Closed) as closed, swill.DeclaredError.narrowing(OutOfStock, Closed):
            await client.call("order", "closed")
        assert closed.value.detail is None and closed.value.metadata == {"retry-after": 60}
        assert isinstance(closed.value.__cause__, swill.Error)

        # A streamed response fails with it too, after its first message.
        seen: list[int] = []
        with pytest.raises(OutOfStock) as ran_out, swill.DeclaredError.narrowing(OutOfStock):
            async for value in client.stream("shop.watch", "tea"):
                seen.append(value)
        assert seen == [1] and ran_out.value.message == "tea ran out"
        assert ran_out.value.detail == Stock(item="tea", left=0)


async def test_undeclared_and_plain_errors_go_through_as_they_are() -> None:
    async with TestClient(app) as client:
        with pytest.raises(swill.Error) as banned, swill.DeclaredError.narrowing(OutOfStock, Closed):
            await client.call("order", "banned")
        assert type(banned.value) is swill.Error
        assert banned.value.data == {"error": "Banned", "detail": ["a", "b"]}
        typed = Banned.from_error(banned.value)
        assert typed is not None and typed.detail == ["a", "b"]
        # The right name with another code is not the declared error.
        with pytest.raises(swill.Error) as plain, swill.DeclaredError.narrowing(OutOfStock):
            await client.call("order", "plain")
        assert type(plain.value) is swill.Error and plain.value.code is swill.Code.NOT_FOUND


def test_a_detail_that_does_not_fit_the_declared_type_is_refused() -> None:
    wrong = swill.Error("FAILED_PRECONDITION", "x", {"error": "OutOfStock", "detail": {"item": 1}})
    with pytest.raises(msgspec.ValidationError):
        OutOfStock.from_error(wrong)


def test_the_class_carries_what_introspection_reads() -> None:
    assert (OutOfStock.error_name, OutOfStock.error_code, OutOfStock.detail_type) == (
        "OutOfStock",
        swill.Code.FAILED_PRECONDITION,
        Stock,
    )
    assert OutOfStock.describe() == {
        "name": "OutOfStock",
        "code": "FAILED_PRECONDITION",
        "doc": "Not enough of the item is left.\n\nThe detail says how many are.",
    }
    assert repr(OutOfStock(Stock("a", 1), "m")) == "OutOfStock(Stock(item='a', left=1), 'm')"

    class Subclass(OutOfStock):  # inherits the code; takes its own name
        pass

    assert (Subclass.error_name, Subclass.error_code) == ("Subclass", swill.Code.FAILED_PRECONDITION)
    assert app.rpcs["shop.watch"].spec.errors == (OutOfStock,)


@pytest.mark.parametrize(
    ("errors", "exception", "message"),
    [
        ([ValueError], TypeError, "subclasses of swill.DeclaredError"),
        ([swill.DeclaredError], TypeError, "subclasses of swill.DeclaredError"),
        ([OutOfStock(Stock("a", 1))], TypeError, "subclasses of swill.DeclaredError"),
        ([OutOfStock, Closed, type("Closed2", (Closed,), {}, name="shop.Closed")], ValueError, "two errors named"),
    ],
)
def test_registration_refuses_what_is_not_a_set_of_declared_errors(
    errors: list[Any], exception: type[Exception], message: str
) -> None:
    fresh = swill.Swill(__name__)
    with pytest.raises(exception, match=message):

        @fresh.handle(errors=errors)
        async def f(request: swill.Request[None]) -> None: ...


def test_a_declared_error_needs_a_code_and_a_subclass() -> None:
    with pytest.raises(TypeError, match="needs a code"):

        class NoCode(swill.DeclaredError[int]):
            pass

    with pytest.raises(TypeError, match="raise a subclass"):
        swill.DeclaredError(1)
