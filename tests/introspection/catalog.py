"""An app with one rpc for each kind of type the schemas must describe truthfully.

The introspection tests read its document; the codegen tests generate clients from it and call
it through them, live.
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
from collections.abc import AsyncIterator
from typing import Annotated, Generic, Literal, NamedTuple, NotRequired, TypedDict, TypeVar

import annotated_types as at
import msgspec

import swill

T = TypeVar("T")

app = swill.Swill(__name__)
chat = swill.Router("chat")
pets = swill.Router("pets")


class Color(enum.Enum):
    """A color of the rainbow."""

    RED = "red"
    GREEN = "green"


class Priority(enum.IntEnum):
    LOW = 1
    HIGH = 2


class Cat(msgspec.Struct, tag=True):
    """A cat."""

    lives: Annotated[int, at.Ge(0), at.Le(9)] = 9
    """How many lives are left."""


class Dog(msgspec.Struct, tag=True):
    name: Annotated[str, msgspec.Meta(description="The dog's name.", examples=["Rex"])]


class Point(msgspec.Struct, array_like=True):
    x: float
    y: float = 0.0


class Box(msgspec.Struct, Generic[T]):
    item: T


@dataclasses.dataclass
class Window:
    start: datetime.datetime
    end: datetime.datetime | None = None


class Tags(TypedDict):
    names: list[str]
    weight: NotRequired[float]


class Pair(NamedTuple):
    left: int
    right: str = ""


class Blob(msgspec.Struct):
    """Binary data, with a time and two kinds of integers."""

    data: Annotated[bytes, at.MaxLen(1024)]
    created: datetime.datetime
    big: int
    small: Annotated[int, at.Ge(-100), at.Le(100)]


class Order(swill.ValidatedStruct, kw_only=True):
    """An order of one item."""

    qty: Annotated[int, at.Gt(0), at.Le(1000)]
    item: Annotated[str, at.MinLen(1), at.MaxLen(20)]
    color: Color = Color.RED
    priority: Priority = Priority.LOW
    note: str | None = None
    kind: Literal["retail", "wholesale"] = "retail"
    tags: list[str] = msgspec.field(default_factory=list)

    @swill.validator("qty")
    def _not_unlucky(self, value: int) -> None:
        if value == 13:
            raise ValueError("13 is unlucky")


class Tree(msgspec.Struct):
    label: str
    children: list[Tree] = msgspec.field(default_factory=list)


@app.handle()
async def add(request: swill.Request[tuple[int, int]]) -> int:
    """Add two integers."""
    return request.data[0] + request.data[1]


@app.handle()
async def count(request: swill.Request[Annotated[int, at.Ge(0), at.Le(100)]]) -> AsyncIterator[int]:
    """Count from 0 up to the given number.

    The number itself is not sent.
    """
    for i in range(request.data):
        yield i


@app.handle()
async def total(request: swill.StreamingRequest[float]) -> float:
    """Sum the streamed numbers."""
    return sum([x async for x in request])


@chat.handle()
async def echo(request: swill.StreamingRequest[str]) -> AsyncIterator[str]:
    """Echo each line back."""
    async for line in request:
        yield line.upper()


@pets.handle()
async def adopt(request: swill.Request[Cat | Dog]) -> Cat | Dog:
    """Adopt a pet: cats lose a life, dogs get a title."""
    pet = request.data
    return Cat(lives=pet.lives - 1) if isinstance(pet, Cat) else Dog(name=f"Sir {pet.name}")


@app.handle()
async def blob(request: swill.Request[Blob]) -> Blob:
    """Return the blob reversed, a day later, with `big` doubled and `small` negated."""
    b = request.data
    return Blob(b.data[::-1], b.created + datetime.timedelta(days=1), b.big * 2, -b.small)


@app.handle()
async def order(request: swill.Request[Order]) -> Order:
    """Confirm an order."""
    return msgspec.structs.replace(request.data, note="confirmed")


@app.handle()
async def tree(request: swill.Request[Tree]) -> int:
    """Count the nodes of a tree."""

    def size(node: Tree) -> int:
        return 1 + sum(size(child) for child in node.children)

    return size(request.data)


@app.handle()
async def point(request: swill.Request[Point]) -> Point:
    """Mirror a point."""
    return Point(request.data.y, request.data.x)


@app.handle()
async def box(request: swill.Request[Box[int]]) -> Box[str]:
    """Box the number as text."""
    return Box(str(request.data.item))


@app.handle()
async def window(request: swill.Request[Window]) -> Window:
    """Close an open window an hour after it started."""
    w = request.data
    return Window(w.start, w.end or w.start + datetime.timedelta(hours=1))


@app.handle()
async def tags(request: swill.Request[Tags]) -> Tags:
    """Sort the tags and weigh them."""
    return {"names": sorted(request.data["names"]), "weight": float(len(request.data["names"]))}


@app.handle()
async def pair(request: swill.Request[Pair]) -> Pair:
    """Swap nothing, fill in the default."""
    return Pair(request.data.left + 1, request.data.right or "default")


@app.handle()
async def ping(request: swill.Request[None]) -> None:
    """Do nothing."""


@app.handle()
async def maybe(request: swill.Request[int | None]) -> str | None:
    """The number as text, or nothing."""
    return None if request.data is None else str(request.data)


@app.handle()
async def lookup(request: swill.Request[dict[int, str]]) -> dict[str, list[int]]:
    """Invert a map of numbers to names."""
    out: dict[str, list[int]] = {}
    for number, name in sorted(request.data.items()):
        out.setdefault(name, []).append(number)
    return out


@app.handle()
async def colors(request: swill.Request[Color]) -> list[Color]:
    """Every color but the given one."""
    return [color for color in Color if color is not request.data]


class Stock(msgspec.Struct):
    """How many of an item are left."""

    item: str
    left: int


class SoldOut(swill.DeclaredError[Stock], code=swill.Code.FAILED_PRECONDITION):
    """Not enough of the item is left."""


class Closed(swill.DeclaredError[None], code=swill.Code.UNAVAILABLE, name="shop.Closed"):
    """The shop is closed."""


@app.handle(errors=[SoldOut, Closed])
async def reserve(request: swill.Request[Order]) -> int:
    """Reserve the items of an order; returns how many are left."""
    if request.data.item == "closed":
        raise Closed()
    if request.data.qty > 5:
        raise SoldOut(Stock(item=request.data.item, left=5), f"only 5 {request.data.item} left")
    return 5 - request.data.qty


app.include_router(chat)
app.include_router(pets)
