"""docs/playground.md: the demo app behind the page's screenshots answers as the page shows."""

from __future__ import annotations

import pytest

import swill
from examples import playground
from swill.testing import TestClient


async def test_the_demo_app_answers_every_kind_of_call() -> None:
    async with TestClient(playground.make_app()) as client:
        assert await client.call("add", (2, 40)) == 42
        assert [note["id"] async for note in client.stream("notes.list", {})] == [1, 2]
        call = await client.open("sensors.summarize")
        for value in (1.5, 2.5, 5.0):
            await call.send(value)
        await call.end()
        assert await call.result() == {"count": 3, "mean": 3.0, "low": 1.5, "high": 5.0}
        call = await client.open("chat.room")
        await call.send({"author": "ada", "text": "hi"})
        await call.end()
        assert [line async for line in call] == [{"author": "echo-bot", "text": "ada said: hi"}]
        call = await client.open("whoami", None, metadata={"user": "ada"})
        assert (await call.result())["metadata"] == {"user": "ada"}
        assert call.trailing_metadata == {"elapsed-us": 42}


async def test_the_demo_app_refuses_what_the_page_shows_refused() -> None:
    async with TestClient(playground.make_app()) as client:
        with pytest.raises(swill.Error) as info:
            await client.call("notes.create", {"title": "Tea", "tags": ["green", "green"]})
    assert info.value.code == swill.Code.INVALID_ARGUMENT
    assert info.value.data == [{"path": "$.tags", "message": "tags must be distinct"}]
