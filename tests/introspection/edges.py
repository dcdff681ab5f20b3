"""An app whose names and docs are awkward for generated code: keywords, dashes, clashes with
the generated module's own names, an rpc that is also a namespace, comment terminators."""

from __future__ import annotations

import msgspec

import swill

app = swill.Swill(__name__)
chat = swill.Router("chat")


class Api(msgspec.Struct, rename={"from_": "from", "dash": "a-b", "private": "_private"}):
    """Shadows the generated `Api` class. Ends a comment: */ and a docstring: \"\"\" \\ done."""

    from_: str
    dash: int = 0
    private: bool = False
    client: str = ""


class Date(msgspec.Struct, rename={"items": "list", "when": "Date"}):
    """Shadows TypeScript's `Date`; its fields are named like a builtin type and like a class."""

    items: list[int]
    when: float = 0.0


class Row(msgspec.Struct, array_like=True):
    """An array-like class with an item whose default generated code can't write (bytes)."""

    count: int = 0
    blob: bytes = b"x"


@app.handle()
async def row(request: swill.Request[Row]) -> Row:
    """Echo a row."""
    return request.data


@app.handle(name="get-all")
async def get_all(request: swill.Request[Api]) -> Api:
    """Dashes in the rpc name."""
    return request.data


@app.handle(name="class")
async def class_(request: swill.Request[Date]) -> Date:
    """A keyword as the rpc name."""
    return request.data


@app.handle(name="client")
async def client_(request: swill.Request[None]) -> str:
    """Named like the generated classes' `client` attribute."""
    return "client"


@app.handle(name="chat")
async def chat_rpc(request: swill.Request[str]) -> str:
    """An rpc whose name is also a namespace."""
    return request.data


@chat.handle()
async def echo(request: swill.Request[str]) -> str:
    """Inside the namespace."""
    return request.data


app.include_router(chat)
