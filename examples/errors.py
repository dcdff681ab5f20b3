"""Raising `swill.Error`, declared errors, mapping application exceptions, and unexpected ones
(docs/errors.md).

Serve it with `swill run examples.errors:app`.
"""

from __future__ import annotations

import msgspec

import swill

app = swill.Swill(__name__)

USERS = {1: "ada", 2: "grace"}
STOCK = {"apple": 3}


# --8<-- [start:raise]
@app.handle()
async def get_user(request: swill.Request[int]) -> str:
    """Raise `swill.Error` with a code, a message, data and trailing metadata."""
    try:
        return USERS[request.data]
    except KeyError:
        raise swill.Error(
            swill.Code.NOT_FOUND,
            f"no user with id {request.data}",
            data={"id": request.data},
            metadata={"retryable": False},
        ) from None


# --8<-- [end:raise]


# --8<-- [start:map]
class OutOfStock(Exception):
    """An application's own exception, which knows nothing about Swill."""

    def __init__(self, item: str, left: int) -> None:
        super().__init__(f"only {left} {item} left")
        self.item = item
        self.left = left


class Order(msgspec.Struct):
    item: str
    qty: int


@app.handle()
async def buy(request: swill.Request[Order]) -> int:
    """Take items from stock; raises `OutOfStock` or `KeyError`."""
    left = STOCK[request.data.item]
    if request.data.qty > left:
        raise OutOfStock(request.data.item, left)
    STOCK[request.data.item] = left - request.data.qty
    return STOCK[request.data.item]


@app.exception_handler(OutOfStock)
def out_of_stock(request: swill.Request[Order], exc: OutOfStock) -> swill.Error:
    return swill.Error(swill.Code.FAILED_PRECONDITION, str(exc), data={"left": exc.left})


@app.exception_handler(LookupError)
async def not_found(request: swill.Request[Order], exc: LookupError) -> swill.Error:
    # KeyError is a LookupError: the nearest handler along the exception's MRO wins.
    return swill.Error(swill.Code.NOT_FOUND, f"no such item: {exc}")


# --8<-- [end:map]


# --8<-- [start:declared]
class Shortage(msgspec.Struct):
    item: str
    left: int


class SoldOut(swill.DeclaredError[Shortage], code=swill.Code.FAILED_PRECONDITION):
    """Not enough of the item is left."""


class Closed(swill.DeclaredError[None], code=swill.Code.UNAVAILABLE, name="shop.Closed"):
    """The shop is closed."""


@app.handle(errors=[SoldOut, Closed])
async def reserve(request: swill.Request[Order]) -> int:
    """Reserve items; the rpc declares the errors it may end with."""
    left = STOCK.get(request.data.item, 0)
    if request.data.qty > left:
        raise SoldOut(Shortage(request.data.item, left), f"only {left} {request.data.item} left")
    return left - request.data.qty


# --8<-- [end:declared]


@app.handle()
async def divide(request: swill.Request[tuple[float, float]]) -> float:
    """An unmapped exception (ZeroDivisionError) becomes INTERNAL."""
    a, b = request.data
    return a / b
