"""PROTOCOL.md sections 3, 4 and 6: errors, validation, refusals, bad input."""

from __future__ import annotations

import anyio
import pytest
import websockets

from tests.conftest import LiveServer

from .conftest import RawClient


async def test_unknown_rpc(client: RawClient) -> None:
    await client.send([0, 1, "nope", None, None, 1])
    assert (await client.recv())[:3] == [5, 1, "UNIMPLEMENTED"]


async def test_single_request_without_data(client: RawClient) -> None:
    await client.send([0, 1, "add"])
    assert (await client.recv())[:3] == [5, 1, "INVALID_ARGUMENT"]


async def test_invalid_data_lists_paths(client: RawClient) -> None:
    await client.send([0, 1, "order", None, None, {"items": [{"sku": "a", "qty": 1}, {"sku": "b", "qty": 0}]}])
    frame = await client.recv()
    assert frame[:3] == [5, 1, "INVALID_ARGUMENT"]
    # msgspec reads Gt(0) on an int as >= 1.
    assert frame[4] == [{"path": "$.items[1].qty", "message": "Expected `int` >= 1"}]


async def test_wrong_type(client: RawClient) -> None:
    await client.send([0, 1, "add", None, None, "three"])
    frame = await client.recv()
    assert frame[:3] == [5, 1, "INVALID_ARGUMENT"] and frame[4][0]["path"] == "$"


async def test_invalid_message_in_a_stream_ends_the_call(client: RawClient) -> None:
    await client.send([0, 1, "total", None, None, 1], [1, 1, "x"])
    frame = await client.recv_for(1, credit=False)
    assert frame[:3] == [5, 1, "INVALID_ARGUMENT"]


async def test_invalid_message_in_a_stream_is_named_by_its_index(client: RawClient) -> None:
    # The message in REQUEST is index 0; DATA frames follow in order.
    await client.send([0, 1, "total", None, None, 1], [1, 1, 2], [1, 1, 3], [1, 1, "x"])
    frame = await client.recv_for(1, credit=False)
    assert frame[:4] == [
        5,
        1,
        "INVALID_ARGUMENT",
        "invalid request message at index 3 of the stream: Expected `int`, got `str` at $",
    ]
    assert frame[4] == [{"path": "$", "message": "Expected `int`, got `str`", "index": 3}]
    await client.send([0, 2, "total"], [1, 2, 5], [1, 2, "y"])  # no message in REQUEST
    frame = await client.recv_for(2, credit=False)
    assert frame[4] == [{"path": "$", "message": "Expected `int`, got `str`", "index": 1}]
    await client.send([0, 3, "order", None, None, {"items": "x"}])  # not a stream: no index
    frame = await client.recv_for(3, credit=False)
    assert frame[3].startswith("invalid request message: ") and "index" not in frame[4][0]


async def test_data_for_a_single_request_call(client: RawClient) -> None:
    await client.send([0, 1, "sleepy", None, None, "data"], [1, 1, "more"])
    assert (await client.recv_for(1, credit=False))[:3] == [5, 1, "INVALID_ARGUMENT"]


async def test_error_with_data_and_trailing_metadata(client: RawClient) -> None:
    await client.send([0, 1, "fail", None, None, "error"])
    assert await client.recv() == [5, 1, "PERMISSION_DENIED", "no", {"why": "because"}, {"m": 1}]


async def test_exception_handler_found_along_the_mro(client: RawClient) -> None:
    await client.send([0, 1, "fail", None, None, "lookup"])
    assert (await client.recv())[:4] == [5, 1, "NOT_FOUND", "not found: thing"]


async def test_unmapped_exception_is_internal_without_details(
    client: RawClient, caplog: pytest.LogCaptureFixture
) -> None:
    await client.send([0, 1, "fail", None, None, "boom"])
    frame = await client.recv()
    assert frame == [5, 1, "INTERNAL", "internal error", None, None]
    assert "secret detail" not in str(frame)
    assert any(r.exc_info and "secret detail" in str(r.exc_info[1]) for r in caplog.records)


async def test_unencodable_result_is_internal(client: RawClient) -> None:
    await client.send([0, 1, "unencodable", None, None, None])
    assert (await client.recv())[:3] == [5, 1, "INTERNAL"]


async def test_error_after_stream_data(client: RawClient) -> None:
    await client.send([0, 1, "fail_streaming", None, None, None])
    assert await client.until_end(1) == [[1, 1, 1], [5, 1, "ABORTED", "stopped", None, None]]


async def test_non_increasing_id_is_answered_on_id_zero_and_disturbs_nothing(
    client: RawClient,
) -> None:
    await client.send(
        [0, 5, "sleepy", None, None, "ids"],
        [0, 5, "add", None, None, [1, 1]],
        [0, 2, "add", None, None, [1, 1]],
    )
    assert (await client.recv())[:3] == [5, 0, "INVALID_ARGUMENT"]
    assert (await client.recv())[:3] == [5, 0, "INVALID_ARGUMENT"]
    await client.nothing_for(5)
    await client.send([0, 6, "add", None, None, [2, 2]])
    assert await client.recv() == [6, 6, 4, None, None]


@pytest.mark.parametrize(
    "message",
    [b"\xc1", b"\x92", "text", [0, 1, 5], [13, 1], {"a": 1}, [6, 1, 1], [1], [0]],
    ids=[
        "not-msgpack",
        "truncated",
        "text",
        "bad-rpc",
        "unknown-type",
        "map",
        "client-sent-response",
        "short-data",
        "short",
    ],
)
async def test_malformed_frames_get_invalid_argument_and_the_connection_goes_on(
    client: RawClient, message: object
) -> None:
    await client.send([0, 10, "sleepy", None, None, "malformed"])
    await client.send(message)
    frame = await client.recv()
    assert frame[0] == 5 and frame[2] == "INVALID_ARGUMENT" and frame[1] in (0, 1)
    await client.nothing_for(10)  # the open call is not disturbed
    await client.send([0, 11, "add", None, None, [1, 2]])
    assert await client.recv() == [6, 11, 3, None, None]


async def test_malformed_frame_on_an_open_call_ends_it(client: RawClient) -> None:
    await client.send([0, 1, "total"], [1, 1])
    assert (await client.recv_for(1, credit=False))[:3] == [5, 1, "INVALID_ARGUMENT"]


async def test_extension_frames_are_ignored(client: RawClient) -> None:
    await client.send([32, 1, "whatever"], [0, 1, "add", None, None, [1, 2]])
    assert await client.recv() == [6, 1, 3, None, None]


async def test_ping_pong(client: RawClient) -> None:
    await client.send([9, 77])
    assert await client.recv() == [10, 77]


async def test_oversized_messages(client: RawClient) -> None:
    # max_message_size is 4096 in this app, and inclusive.
    await client.send([0, 1, "echo", None, None, "x" * 5000])
    assert (await client.recv())[:3] == [5, 1, "RESOURCE_EXHAUSTED"]
    body = [0, 2, "echo", None, None, ""]
    size = len(__import__("msgspec").msgpack.encode(body))
    body[5] = "y" * (4096 - size - 2)  # str8 header grows by 2 bytes past 31 chars
    from tests.conftest import encode

    assert len(encode(body)) == 4096
    await client.send(body)
    assert (await client.recv())[:2] == [6, 2]
    await client.send([0, 3, "total"], [1, 3, "z" * 5000])
    assert (await client.recv())[:3] == [5, 3, "RESOURCE_EXHAUSTED"]


async def test_too_many_concurrent_calls(client: RawClient) -> None:
    for id in range(1, 21):
        await client.send([0, id, "sleepy", None, None, f"limit{id}"])
    await client.send([0, 21, "add", None, None, [1, 1]])
    assert (await client.recv())[:3] == [5, 21, "RESOURCE_EXHAUSTED"]
    await client.send([4, 1], [0, 22, "add", None, None, [1, 1]])
    assert await client.recv() == [6, 22, 2, None, None]


async def test_client_credit_overrun(client: RawClient) -> None:
    # client_window is 4 and `stuck` never consumes, so no CREDIT comes: the fifth DATA overruns.
    await client.send([0, 1, "stuck"], *[[1, 1, i] for i in range(5)])
    assert (await client.recv_for(1))[:3] == [5, 1, "RESOURCE_EXHAUSTED"]


async def test_subprotocol_is_selected(server: LiveServer) -> None:
    async with websockets.connect(server.url, subprotocols=[websockets.Subprotocol("swill.v1")]) as ws:
        assert ws.subprotocol == "swill.v1"


async def test_no_subprotocol_is_served_as_v1(server: LiveServer) -> None:
    async with websockets.connect(server.url) as ws:
        assert ws.subprotocol is None
        client = RawClient(ws)
        assert (await client.recv())[0] == 8


async def test_a_refused_origin_is_accepted_then_closed_with_4403_and_its_reason(server: LiveServer) -> None:
    # Section 6: a browser is never shown an HTTP status, so the close frame says why; no HELLO.
    connect = websockets.connect(
        server.url, origin=websockets.Origin("https://evil.example"), subprotocols=[websockets.Subprotocol("swill.v1")]
    )
    async with connect as ws:
        assert ws.subprotocol == "swill.v1"
        with anyio.fail_after(5), pytest.raises(websockets.ConnectionClosed) as info:
            await ws.recv()
    assert info.value.rcvd is not None and info.value.rcvd.code == 4403
    assert "https://evil.example" in info.value.rcvd.reason and "allowed_origins" in info.value.rcvd.reason


async def test_a_same_origin_handshake_is_served(server: LiveServer) -> None:
    host = server.url.removeprefix("ws://").split("/")[0]
    async with websockets.connect(server.url, origin=websockets.Origin(f"http://{host}")) as ws:
        assert (await RawClient(ws).recv())[0] == 8


async def test_other_subprotocols_are_refused(server: LiveServer) -> None:
    with pytest.raises(websockets.InvalidStatus) as info:
        async with websockets.connect(server.url, subprotocols=[websockets.Subprotocol("graphql-ws")]):
            pass
    assert info.value.response.status_code == 403
