"""PROTOCOL.md sections 3 and 5 from outside: the four call kinds, metadata, credit."""

from __future__ import annotations

import time

from .app import happened
from .conftest import RawClient


async def test_unary_with_leading_and_trailing_metadata(client: RawClient) -> None:
    await client.send([0, 1, "echo", {"trace": "abc"}, None, [1, 2]])
    assert await client.recv() == [6, 1, [1, 2], {"trace": "abc"}, {"trailing": True}]


async def test_unary_add(client: RawClient) -> None:
    await client.send([0, 1, "add", None, None, [1, 2]])
    assert await client.recv() == [6, 1, 3, None, None]


async def test_nil_data_is_a_value(client: RawClient) -> None:
    await client.send([0, 7, "echo", None, None, None])
    assert (await client.recv())[:3] == [6, 7, None]


async def test_server_stream_with_window_and_credit(client: RawClient) -> None:
    await client.send([0, 3, "count", None, {"window": 2}, 3])
    assert [await client.recv(), await client.recv()] == [[1, 3, 0], [1, 3, 1]]
    await client.nothing_for(3)  # the window is spent: the third value waits
    await client.send([7, 3, 2])
    assert await client.until_end(3) == [[1, 3, 2], [3, 3, {"counted": 3}]]


async def test_server_stream_without_window_is_not_limited(client: RawClient) -> None:
    await client.send([0, 1, "count", None, None, 50])
    frames = await client.until_end(1)
    assert [f[2] for f in frames[:-1]] == list(range(50))


async def test_leading_metadata_frame_before_data(client: RawClient) -> None:
    await client.send([0, 1, "count_with_leading", None, None, 1])
    assert await client.until_end(1) == [[2, 1, {"first": True}], [1, 1, 0], [3, 1, None]]


async def test_metadata_rules_broken_by_a_handler_never_reach_the_wire(client: RawClient) -> None:
    await client.send([0, 1, "leading_twice", None, None, None], [0, 2, "leading_after_data", None, None, None])
    first = await client.until_end(1)
    assert first[0] == [1, 1, 1] and first[-1][:3] == [5, 1, "INTERNAL"]
    second = await client.until_end(2)
    assert second[0] == [1, 2, 1] and second[-1][:3] == [5, 2, "INTERNAL"]


async def test_client_stream_with_data_in_request(client: RawClient) -> None:
    await client.send([0, 1, "total", None, None, 1], [1, 1, 2], [1, 1, 3], [3, 1])
    *credit, end = await client.until_end(1)
    assert end == [6, 1, 6, None, None]
    assert all(frame[0] == 7 for frame in credit)  # CREDIT may come at any time before the end


async def test_client_stream_granted_as_consumed(client: RawClient) -> None:
    # client_window is 4: the server grants more as the handler consumes.
    await client.send([0, 1, "total"])
    sent = 0
    credit = 4
    while sent < 20:
        while credit and sent < 20:
            await client.send([1, 1, 1])
            sent += 1
            credit -= 1
        if sent < 20:
            frame = await client.recv_for(1)
            assert frame[0] == 7
            credit += frame[2]
    await client.send([3, 1])
    frames = await client.until_end(1)
    assert frames[-1] == [6, 1, 20, None, None]


async def test_bidirectional(client: RawClient) -> None:
    await client.send([0, 1, "chat", None, None, "a"])
    assert await client.recv_for(1, credit=False) == [1, 1, "A"]
    await client.send([1, 1, "b"])
    assert await client.recv_for(1, credit=False) == [1, 1, "B"]
    await client.send([3, 1])
    assert await client.recv_for(1, credit=False) == [3, 1, None]


async def test_plain_def_handlers_run_in_threads(client: RawClient) -> None:
    await client.send([0, 1, "blocking_sum", None, None, [1.5, 2]], [0, 2, "blocking_count", None, None, 3])
    assert await client.recv_for(1) == [6, 1, 3.5, None, None]
    assert [f[2] for f in await client.until_end(2)] == [0, 1, 2, None]


async def test_close_cancels_the_handler_and_is_not_answered(client: RawClient) -> None:
    await client.send([0, 1, "sleepy", None, None, "close"])
    assert await happened("sleepy-started-close")  # a CLOSE before the handler starts skips it
    await client.send([4, 1, "bored"])
    assert await happened("sleepy-close")
    await client.nothing_for(1)


async def test_close_of_a_stream_closes_the_generator(client: RawClient) -> None:
    await client.send([0, 1, "forever", None, {"window": 1}, "stream"])
    assert await client.recv() == [1, 1, 0]
    await client.send([4, 1])
    assert await happened("forever-stream")
    await client.nothing_for(1)


async def test_deadline_exceeded(client: RawClient) -> None:
    await client.send([0, 1, "sleepy", None, {"timeout": 50}, "deadline"])
    assert (await client.recv())[:3] == [5, 1, "DEADLINE_EXCEEDED"]
    assert await happened("sleepy-deadline")


async def test_deadline_is_absolute_monotonic(client: RawClient) -> None:
    before = time.monotonic()
    await client.send([0, 1, "deadline", None, {"timeout": 60_000}, None], [0, 2, "deadline", None, None, None])
    deadline = (await client.recv_for(1))[2]
    assert before + 59 < deadline < time.monotonic() + 60
    assert (await client.recv_for(2))[2] is None


async def test_frames_after_the_end_are_ignored(client: RawClient) -> None:
    await client.send([0, 1, "add", None, None, [1, 1]])
    assert (await client.recv())[0] == 6
    await client.send([4, 1], [7, 1, 5], [1, 1, 2], [3, 1])
    await client.nothing_for(1)
