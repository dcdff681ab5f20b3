"""Cancellation and deadlines, as the client raises them and as the server sees them."""

from __future__ import annotations

import time
import uuid

import anyio
import pytest

import swill
from swill._call import current_deadline
from swill.client import Client


def tag() -> str:
    return uuid.uuid4().hex


async def test_leaving_async_for_early_cancels_the_call_on_the_server(url: str) -> None:
    t = tag()
    async with Client(url) as client:
        async for i in client.stream("forever", t, metadata={"tag": t}):
            if i == 3:
                break
        assert await client.call("outcome", t) == "CANCELLED"


async def test_cancelling_the_awaiting_task_cancels_the_call(url: str) -> None:
    t = tag()
    async with Client(url) as client:
        call = await client.open("sleep", 60.0, metadata={"tag": t})
        with anyio.move_on_after(0.05):
            await call.result()
        assert await client.call("outcome", t) == "CANCELLED"
        with pytest.raises(swill.Error) as info:
            await call.result()
        assert info.value.code is swill.Code.CANCELLED


async def test_cancelling_a_task_iterating_a_stream_cancels_the_call(url: str) -> None:
    t = tag()
    async with Client(url) as client:
        third = anyio.Event()

        async def consume() -> None:
            async for i in client.stream("forever", t, metadata={"tag": t}):
                if i == 2:
                    third.set()
                    await anyio.sleep_forever()

        async with anyio.create_task_group() as tg:
            tg.start_soon(consume)
            with anyio.fail_after(5):
                await third.wait()
            tg.cancel_scope.cancel()
        assert await client.call("outcome", t) == "CANCELLED"


async def test_cancel_method(url: str) -> None:
    t = tag()
    async with Client(url) as client:
        call = await client.open("sleep", 60.0, metadata={"tag": t})
        assert call.cancel() is True
        assert call.cancel() is False
        with pytest.raises(swill.Error) as info:
            await call.result()
        assert info.value.code is swill.Code.CANCELLED
        with pytest.raises(swill.Error):
            async for _ in call:
                pass
        assert await client.call("outcome", t) == "CANCELLED"


async def test_cancel_before_the_stream_starts_sends_nothing(url: str) -> None:
    async with Client(url) as client:
        call = client.stream("count", 3)
        call.cancel()
        with pytest.raises(swill.Error) as info:
            async for _ in call:
                pass
        assert info.value.code is swill.Code.CANCELLED
        assert call.id is None


async def test_timeout_is_deadline_exceeded_on_both_sides(url: str) -> None:
    t = tag()
    async with Client(url) as client:
        started = time.monotonic()
        with pytest.raises(swill.Error) as info:
            await client.call("sleep", 60.0, timeout=0.2, metadata={"tag": t})
        assert info.value.code is swill.Code.DEADLINE_EXCEEDED
        assert time.monotonic() - started < 5
        assert await client.call("outcome", t) == "DEADLINE_EXCEEDED"


async def test_timeout_of_a_stream(url: str) -> None:
    async with Client(url) as client:
        call = client.stream("sleep", 60.0, timeout=0.1)
        with pytest.raises(swill.Error) as info:
            async for _ in call:
                pass
        assert info.value.code is swill.Code.DEADLINE_EXCEEDED


async def test_default_timeout_of_the_client(url: str) -> None:
    async with Client(url, timeout=3) as client:
        remaining = await client.call("remaining")
        assert 2.5 < remaining <= 3
        assert await client.call("remaining", timeout=None) is None


async def test_server_sees_the_timeout(url: str) -> None:
    async with Client(url) as client:
        remaining = await client.call("remaining", timeout=5)
        assert 4.5 < remaining <= 5
        assert await client.call("remaining") is None


async def test_calls_inside_a_handler_inherit_its_deadline(url: str) -> None:
    async with Client(url) as client:
        inner = await client.call("relay", url, timeout=2)
        assert inner is not None and 1.0 < inner < 2
        assert await client.call("relay", url) is None


async def test_inherited_deadline_capped_by_client_timeout_and_overridden_by_timeout(url: str) -> None:
    token = current_deadline.set(time.monotonic() + 3)
    try:
        async with Client(url) as client:
            remaining = await client.call("remaining")
            assert 2 < remaining <= 3
            assert await client.call("remaining", timeout=None) is None
            assert 9 < await client.call("remaining", timeout=10) <= 10
        async with Client(url, timeout=1) as client:
            assert 0.5 < await client.call("remaining") <= 1
    finally:
        current_deadline.reset(token)


async def test_an_inherited_deadline_that_passed_fails_at_once(url: str) -> None:
    token = current_deadline.set(time.monotonic() - 1)
    try:
        async with Client(url) as client:
            with pytest.raises(swill.Error) as info:
                await client.call("add", (1, 2))
            assert info.value.code is swill.Code.DEADLINE_EXCEEDED
    finally:
        current_deadline.reset(token)
