"""Every kind of call through `swill.Client` against the test app on a real uvicorn."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

import swill
from swill.client import Call, Client

from .app import Point


async def test_unary_call(url: str) -> None:
    async with Client(url) as client:
        assert await client.call("add", (1, 2)) == 3


async def test_server_stream(url: str) -> None:
    async with Client(url) as client:
        assert [i async for i in client.stream("count", 5)] == [0, 1, 2, 3, 4]
        assert [i async for i in client.stream("count", 0)] == []


async def test_client_stream(url: str) -> None:
    async with Client(url) as client:
        call = await client.open("total")
        for i in range(100):  # beyond the client window of 16: waits for the server's credit
            await call.send(i)
        await call.end()
        assert await call.result() == sum(range(100))


async def test_client_stream_with_a_first_message_in_request(url: str) -> None:
    async with Client(url) as client:
        call = await client.open("total", 10)
        await call.send(5)
        await call.end()
        assert await call.result() == 15


async def test_an_invalid_message_of_a_stream_is_named_by_its_index(url: str) -> None:
    async with Client(url) as client:
        call = await client.open("total", 10)  # index 0
        await call.send(5)
        await call.send("six")  # index 2
        with pytest.raises(swill.Error) as info:
            await call.result()
    assert info.value.code is swill.Code.INVALID_ARGUMENT
    assert info.value.message == "invalid request message at index 2 of the stream: Expected `int`, got `str` at $"
    assert info.value.data == [{"path": "$", "message": "Expected `int`, got `str`", "index": 2}]


async def test_bidirectional_stream(url: str) -> None:
    async with Client(url) as client:
        call = await client.open("chat.echo")
        received: list[str] = []

        async def read() -> None:
            async for line in call:
                received.append(line)

        async with anyio.create_task_group() as tg:
            tg.start_soon(read)
            for word in ("a", "b", "c"):
                await call.send(word)
            await call.end()
        assert received == ["a", "b", "c"]


async def test_open_unary_with_data_and_metadata_after_the_fact(url: str) -> None:
    async with Client(url) as client:
        call = await client.open("meta", None, metadata={"who": "me"})
        assert await call.result() == {"who": "me"}
        assert call.leading_metadata == {"lead": "L"}
        assert call.trailing_metadata == {"trail": "T"}
        assert call.done


async def test_stream_metadata(url: str) -> None:
    async with Client(url) as client:
        call = client.stream("meta_stream", 2)
        assert [i async for i in call] == [0, 1]
        assert call.leading_metadata == {"lead": "L"}
        assert call.trailing_metadata == {"trail": "T"}


async def test_client_metadata_is_merged_into_every_call(url: str) -> None:
    async with Client(url, metadata={"a": 1, "b": 2}) as client:
        assert await client.call("meta", metadata={"b": 3}) == {"a": 1, "b": 3}
        assert await client.call("meta") == {"a": 1, "b": 2}


async def test_client_metadata_from_a_function_is_asked_as_each_call_starts(url: str) -> None:
    ids = iter(range(1, 100))

    def request_id() -> dict[str, Any] | None:
        n = next(ids)
        return None if n == 3 else {"request-id": n, "b": 2}

    async with Client(url, metadata=request_id) as client:
        assert await client.call("meta") == {"request-id": 1, "b": 2}
        assert await client.call("meta", metadata={"b": 3}) == {"request-id": 2, "b": 3}
        assert await client.call("meta", metadata={"c": 4}) == {"c": 4}  # the function said None
        assert [i async for i in client.stream("meta_stream", 1)] == [0]  # streams ask it too
        assert await client.call("meta") == {"request-id": 5, "b": 2}


async def test_response_type_decodes(url: str) -> None:
    async with Client(url) as client:
        assert await client.call("point", Point(1, 2), response_type=Point) == Point(2, 1)
        assert [i async for i in client.stream("count", 2, response_type=float)] == [0.0, 1.0]


async def test_response_that_does_not_fit_response_type_is_internal(url: str) -> None:
    async with Client(url) as client:
        with pytest.raises(swill.Error) as info:
            await client.call("add", (1, 2), response_type=str)
        assert info.value.code is swill.Code.INTERNAL
        assert info.value.data == [{"path": "$", "message": "Expected `str`, got `int`"}]


async def test_error_carries_code_message_data_and_metadata(url: str) -> None:
    async with Client(url) as client:
        spec = {"code": "NOT_FOUND", "message": "no such user", "data": {"id": 7}, "metadata": {"m": 1}}
        with pytest.raises(swill.Error) as info:
            await client.call("fail", spec)
        error = info.value
        assert (error.code, error.message, error.data, error.metadata) == (
            swill.Code.NOT_FOUND,
            "no such user",
            {"id": 7},
            {"m": 1},
        )


async def test_unknown_rpc_and_invalid_argument(url: str) -> None:
    async with Client(url) as client:
        with pytest.raises(swill.Error) as info:
            await client.call("nope")
        assert info.value.code is swill.Code.UNIMPLEMENTED
        with pytest.raises(swill.Error) as info:
            await client.call("add", "not a pair")
        assert info.value.code is swill.Code.INVALID_ARGUMENT
        assert info.value.data[0]["path"] == "$"


async def test_error_after_stream_messages(url: str) -> None:
    async with Client(url) as client:
        received: list[int] = []
        with pytest.raises(swill.Error) as info:
            async for i in client.stream("fail_after", 3):
                received.append(i)
        assert received == [0, 1, 2]
        assert info.value.code is swill.Code.ABORTED
        assert info.value.data == {"after": 3}


async def test_result_of_a_streamed_response_is_refused(url: str) -> None:
    async with Client(url) as client:
        with pytest.raises(swill.Error) as info:
            await client.call("count", 3)
        assert info.value.code is swill.Code.FAILED_PRECONDITION
        assert "async for" in info.value.message


async def test_iterating_a_single_response_yields_it_once(url: str) -> None:
    async with Client(url) as client:
        assert [x async for x in client.stream("add", (2, 3))] == [5]


async def test_stream_sends_request_only_when_iterated(url: str) -> None:
    async with Client(url) as client:
        call: Call[int] = client.stream("count", 1, response_type=int)
        assert call.id is None
        assert [i async for i in call] == [0]
        assert call.id is not None


async def test_many_concurrent_calls_share_one_connection(url: str) -> None:
    async with Client(url) as client:
        results: dict[int, int] = {}

        async def one(i: int) -> None:
            results[i] = await client.call("add", (i, i))

        async with anyio.create_task_group() as tg:
            for i in range(300):  # beyond max_concurrent_calls (100): the rest wait for a slot
                tg.start_soon(one, i)
        assert results == {i: 2 * i for i in range(300)}
        ids = {await client.call("connection_id") for _ in range(3)}
        assert len(ids) == 1


async def test_call_as_context_manager_cancels_on_exit(url: str) -> None:
    async with Client(url) as client:
        async with await client.open("forever", "ctx", metadata={"tag": "ctx"}) as call:
            async for i in call:
                if i == 2:
                    break
        assert await client.call("outcome", "ctx") == "CANCELLED"


async def test_send_after_end_is_a_usage_error(url: str) -> None:
    async with Client(url) as client:
        call = await client.open("total")
        await call.end()
        with pytest.raises(RuntimeError, match="after end"):
            await call.send(1)
        assert await call.result() == 0


async def test_send_on_a_failed_call_raises_its_error(url: str) -> None:
    async with Client(url) as client:
        call = await client.open("total")
        await call.send("not an int")
        with pytest.raises(swill.Error) as info:
            await call.result()
        assert info.value.code is swill.Code.INVALID_ARGUMENT
        with pytest.raises(swill.Error):
            await call.send(1)
        await call.end()  # a no-op once the call is over


async def test_unencodable_request_is_a_type_error(url: str) -> None:
    async with Client(url) as client:
        with pytest.raises(TypeError):
            await client.call("add", object())
        assert await client.call("add", (1, 1)) == 2


async def test_introspect(url: str) -> None:
    async with Client(url) as client:
        document = await client.call("swill.introspect")
        names = {rpc["name"] for rpc in document["rpcs"]}
        assert {"add", "count", "total", "chat.echo"} <= names


async def test_server_settings_come_from_hello(url: str) -> None:
    async with Client(url) as client:
        assert client.server_settings is None
        await client.connect()
        settings = client.server_settings
        assert settings is not None and settings["max_message_size"] == 1 << 20


async def test_ping_measures_a_round_trip(url: str) -> None:
    async with Client(url) as client:
        assert 0 < await client.ping() < 5


async def test_client_is_closed_after_aclose(url: str) -> None:
    client = Client(url)
    assert await client.call("add", (1, 1)) == 2
    await client.aclose()
    with pytest.raises(RuntimeError, match="closed"):
        await client.call("add", (1, 1))


async def test_bad_window_is_refused(url: str) -> None:
    with pytest.raises(ValueError):
        Client(url, window=0)


async def test_tasks_starting_one_call_together_share_its_request(url: str) -> None:
    async with Client(url) as client:
        call = client.stream("total", 1)  # not started: the first of the two tasks starts it
        results: list[int] = []

        async def send() -> None:
            await call.send(2)
            await call.end()

        async def result() -> None:
            results.append(await call.result())

        async with anyio.create_task_group() as tg:
            tg.start_soon(result)
            tg.start_soon(send)
        assert results == [3]


async def test_several_tasks_may_wait_on_one_call(url: str) -> None:
    async with Client(url) as client:
        call = await client.open("sleep", 0.05)
        results: list[str] = []

        async def wait() -> None:
            results.append(await call.result())

        async with anyio.create_task_group() as tg:
            for _ in range(3):
                tg.start_soon(wait)
        assert results == ["slept"] * 3


async def test_a_stream_message_that_does_not_fit_response_type_ends_the_call(url: str) -> None:
    async with Client(url) as client:
        with pytest.raises(swill.Error) as info:
            async for _ in client.stream("forever", "misfit", response_type=str, metadata={"tag": "misfit"}):
                pass
        assert info.value.code is swill.Code.INTERNAL
        assert await client.call("outcome", "misfit") == "CANCELLED"
