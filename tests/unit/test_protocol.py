"""The sans-I/O core: bytes in, frames out, no event loop."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from swill import Code, Error
from swill._calls import CallState, Half, Role
from swill._errors import LocalProtocolError, RemoteProtocolError
from swill._frames import UNLIMITED, FrameType
from swill._protocol import (
    CallCancelled,
    CallFailed,
    CallOpened,
    ClientProtocol,
    CreditGranted,
    EndOfStream,
    ErrorReceived,
    GoAwayReceived,
    HelloReceived,
    MessageReceived,
    MetadataReceived,
    PongReceived,
    ResponseReceived,
    ServerProtocol,
    Settings,
)


@dataclass(frozen=True)
class Info:
    request_stream: bool


registry = {"add": Info(False), "total": Info(True)}


def encode(value: Any) -> bytes:
    return msgspec.msgpack.encode(value)


def decode_all(messages: list[bytes]) -> list[Any]:
    return [msgspec.msgpack.decode(m) for m in messages]


def server(**settings: Any) -> ServerProtocol:
    return ServerProtocol(registry, Settings(**settings))


def feed(protocol: ServerProtocol | ClientProtocol, *frames: Any) -> None:
    for frame in frames:
        protocol.receive_data(encode(frame))


# Server: opening calls.


def test_hello_carries_the_settings() -> None:
    s = server(max_message_size=100, max_concurrent_calls=3, client_window=4)
    s.send_hello()
    [hello] = decode_all(s.data_to_send())
    assert hello == [
        8,
        0,
        {"version": 1, "max_message_size": 100, "max_concurrent_calls": 3, "client_window": 4, "server": "swill"},
    ]


def test_each_connection_announces_its_own_settings() -> None:
    # HELLO's bytes are made once per Settings and shared by the connections that announce them.
    for window in (4, 5, 4):
        s = server(client_window=window)
        s.send_hello()
        [hello] = decode_all(s.data_to_send())
        assert hello[2]["client_window"] == window


def test_request_opens_a_call() -> None:
    s = server()
    feed(s, [0, 1, "add", {"k": "v"}, {"timeout": 50, "window": 2}, [1, 2]])
    [event] = s.events_received()
    assert isinstance(event, CallOpened)
    assert (event.id, event.rpc, event.metadata, event.timeout_ms, event.window) == (1, "add", {"k": "v"}, 50, 2)
    assert event.data is not None and msgspec.msgpack.decode(event.data) == [1, 2]
    assert s.data_to_send() == []


def test_single_request_without_data_still_opens_the_call() -> None:
    # The application answers INVALID_ARGUMENT, so that its hooks see the call.
    s = server()
    feed(s, [0, 1, "add"])
    [event] = s.events_received()
    assert isinstance(event, CallOpened) and event.data is None


def test_nil_data_is_data() -> None:
    s = server()
    feed(s, [0, 7, "add", None, None, None])
    [event] = s.events_received()
    assert isinstance(event, CallOpened) and event.data is not None and bytes(event.data) == b"\xc0"


def test_unknown_rpc_is_unimplemented_and_opens_nothing() -> None:
    s = server()
    feed(s, [0, 1, "nope", None, None, 1])
    assert s.events_received() == []
    assert decode_all(s.data_to_send()) == [[5, 1, "UNIMPLEMENTED", "no rpc named 'nope'", None, None]]
    assert s.calls == {}


def test_ids_must_grow_and_refusals_count_as_seen() -> None:
    s = server()
    feed(s, [0, 5, "nope"], [0, 5, "add", None, None, 1], [0, 3, "add", None, None, 1])
    frames = decode_all(s.data_to_send())
    assert [f[:3] for f in frames] == [[5, 5, "UNIMPLEMENTED"], [5, 0, "INVALID_ARGUMENT"], [5, 0, "INVALID_ARGUMENT"]]
    assert s.events_received() == []


def test_too_many_open_calls() -> None:
    s = server(max_concurrent_calls=1)
    feed(s, [0, 1, "add", None, None, 1], [0, 2, "add", None, None, 1])
    assert [type(e) for e in s.events_received()] == [CallOpened]
    assert decode_all(s.data_to_send())[0][:3] == [5, 2, "RESOURCE_EXHAUSTED"]
    s.send_response(1, 2)
    feed(s, [0, 3, "add", None, None, 1])
    assert [type(e) for e in s.events_received()] == [CallOpened]


def test_request_after_goaway_is_unavailable() -> None:
    s = server()
    s.send_goaway("bye")
    feed(s, [0, 1, "add", None, None, 1])
    assert decode_all(s.data_to_send()) == [
        [11, 0, "bye"],
        [5, 1, "UNAVAILABLE", "the server is shutting down", None, None],
    ]


# Server: frames within calls.


def test_streamed_request_messages_and_end() -> None:
    s = server()
    feed(s, [0, 1, "total", None, None, 1], [1, 1, 2], [3, 1])
    opened, message, end = s.events_received()
    assert isinstance(opened, CallOpened) and isinstance(message, MessageReceived) and isinstance(end, EndOfStream)
    assert msgspec.msgpack.decode(message.data) == 2


@pytest.mark.parametrize(
    ("frames", "code"),
    [
        ([[0, 1, "add", None, None, 1], [1, 1, 2]], "INVALID_ARGUMENT"),  # DATA on a single request
        ([[0, 1, "add", None, None, 1], [3, 1]], "INVALID_ARGUMENT"),
        ([[0, 1, "total"], [3, 1], [1, 1, 2]], "INVALID_ARGUMENT"),  # DATA after END_OF_STREAM
        ([[0, 1, "total"], [1, 1]], "INVALID_ARGUMENT"),  # malformed DATA on an open call
        ([[0, 1, "total"], [6, 1, 2]], "INVALID_ARGUMENT"),  # a frame clients never send
    ],
)
def test_rule_broken_on_an_open_call_fails_that_call(frames: list[Any], code: str) -> None:
    s = server()
    feed(s, *frames)
    failed = [e for e in s.events_received() if isinstance(e, CallFailed)]
    assert [(e.id, e.error.code) for e in failed] == [(1, Code(code))]
    assert s.data_to_send() == []  # the application sends the ERROR, through its hooks
    feed(s, [1, 1, 3], [3, 1])  # further frames for the failing call are ignored
    assert s.events_received() == []
    s.send_error(1, failed[0].error)
    assert decode_all(s.data_to_send())[0][:3] == [5, 1, code]
    assert s.calls == {}


def test_client_credit_overrun() -> None:
    s = server(client_window=2)
    feed(s, [0, 1, "total", None, None, 1], [1, 1, 2], [1, 1, 3])
    events = s.events_received()
    assert isinstance(events[-1], CallFailed) and events[-1].error.code is Code.RESOURCE_EXHAUSTED
    assert len([e for e in events if isinstance(e, MessageReceived)]) == 1


def test_granting_credit_lets_the_client_send_more() -> None:
    s = server(client_window=1)
    feed(s, [0, 1, "total", None, None, 1])
    s.grant_credit(1, 2)
    assert decode_all(s.data_to_send()) == [[7, 1, 2]]
    feed(s, [1, 1, 2], [1, 1, 3])
    assert [type(e) for e in s.events_received()] == [CallOpened, MessageReceived, MessageReceived]


def test_close_cancels_and_is_never_answered() -> None:
    s = server()
    feed(s, [0, 1, "add", None, None, 1], [4, 1, "bored"], [4, 1], [4, 99])
    assert s.events_received()[1:] == [CallCancelled(1, "bored")]
    assert s.data_to_send() == []
    with pytest.raises(LocalProtocolError):
        s.send_response(1, 2)


def test_frames_for_calls_that_are_not_open_are_ignored() -> None:
    s = server()
    feed(s, [1, 9, 1], [3, 9], [7, 9, 1], [4, 9])
    assert s.events_received() == [] and s.data_to_send() == []


def test_ping_is_answered_with_the_same_nonce() -> None:
    s = server()
    feed(s, [9, 0], [9, 2**40])
    assert decode_all(s.data_to_send()) == [[10, 0], [10, 2**40]]


def test_text_and_garbage_are_answered_on_id_zero() -> None:
    s = server()
    s.receive_text("hello")
    s.receive_data(b"\xc1")
    feed(s, [13, 1], {"no": 1})
    frames = decode_all(s.data_to_send())
    assert [f[:3] for f in frames] == [[5, 0, "INVALID_ARGUMENT"]] * 4


def test_malformed_request_with_a_fresh_id_is_answered_on_it() -> None:
    s = server()
    feed(s, [0, 4, 5])  # rpc is not a string
    assert decode_all(s.data_to_send())[0][:3] == [5, 4, "INVALID_ARGUMENT"]
    feed(s, [0, 4, "add", None, None, 1])  # id 4 counts as seen
    assert decode_all(s.data_to_send())[0][:3] == [5, 0, "INVALID_ARGUMENT"]


def test_malformed_request_reusing_an_open_id_does_not_end_that_call() -> None:
    s = server()
    feed(s, [0, 1, "add", None, None, 1], [0, 1, 5])
    assert decode_all(s.data_to_send())[0][:3] == [5, 0, "INVALID_ARGUMENT"]
    assert 1 in s.calls and not [e for e in s.events_received() if isinstance(e, CallFailed)]


def test_extension_frames_are_ignored() -> None:
    s = server()
    feed(s, [32, 1, "x"], [200])
    assert s.events_received() == [] and s.data_to_send() == []


def test_message_size_limit_is_inclusive() -> None:
    frame = encode([0, 1, "add", None, None, "x" * 50])
    s = server(max_message_size=len(frame))
    s.receive_data(frame)
    assert [type(e) for e in s.events_received()] == [CallOpened]
    s = server(max_message_size=len(frame) - 1)
    s.receive_data(frame)
    assert s.events_received() == []
    assert decode_all(s.data_to_send())[0][:3] == [5, 1, "RESOURCE_EXHAUSTED"]


def test_oversized_data_fails_its_call_and_unreadable_goes_to_id_zero() -> None:
    s = server(max_message_size=64)
    feed(s, [0, 1, "total"], [1, 1, "y" * 100])
    assert isinstance(s.events_received()[-1], CallFailed)
    s.receive_data(b"\xff" * 100)
    assert decode_all(s.data_to_send())[0][:3] == [5, 0, "RESOURCE_EXHAUSTED"]


# Server: what it sends.


def test_response_rules() -> None:
    s = server()
    feed(s, [0, 1, "add", None, None, 1], [0, 2, "add", None, None, 1], [0, 3, "add", None, None, 1])
    s.send_metadata(1, {"a": 1})
    with pytest.raises(LocalProtocolError):
        s.send_metadata(1, {"a": 2})  # at most once
    s.send_data(2, 1)
    with pytest.raises(LocalProtocolError):
        s.send_response(2, 5)  # RESPONSE may not follow DATA
    with pytest.raises(LocalProtocolError):
        s.send_metadata(2, {})  # nor METADATA
    s.send_end(2, {"t": 1})
    s.send_response(1, 2, None, {"t": 2})
    s.send_error(3, Error(Code.NOT_FOUND, "gone", {"x": 1}, {"e": 1}))
    assert decode_all(s.data_to_send()) == [
        [2, 1, {"a": 1}],
        [1, 2, 1],
        [3, 2, {"t": 1}],
        [6, 1, 2, None, {"t": 2}],
        [5, 3, "NOT_FOUND", "gone", {"x": 1}, {"e": 1}],
    ]
    assert s.calls == {}


def test_error_with_data_msgpack_cannot_hold_still_goes_out() -> None:
    s = server()
    feed(s, [0, 1, "add", None, None, 1])
    s.send_error(1, Error(Code.INTERNAL, "x", data=object()))
    assert decode_all(s.data_to_send()) == [[5, 1, "INTERNAL", "x", None, None]]


def test_server_window_limits_data_until_credit() -> None:
    s = server()
    feed(s, [0, 1, "add", None, {"window": 1}, 1])
    s.send_data(1, 0)
    assert not s.can_send_data(1)
    with pytest.raises(LocalProtocolError):
        s.send_data(1, 1)
    feed(s, [7, 1, 2])
    assert s.events_received()[-1] == CreditGranted(1, 2)
    s.send_data(1, 1)
    s.send_data(1, 2)
    assert not s.can_send_data(1)
    feed(s, [7, 1, UNLIMITED])
    for i in range(100):
        s.send_data(1, i)


def test_try_send_data_sends_within_the_credit_and_else_sends_nothing() -> None:
    s = server()
    feed(s, [0, 1, "add", None, {"window": 2}, 1])
    s.data_to_send()
    assert s.try_send_data(1, "a") == len(msgspec.msgpack.encode([1, 1, "a"]))  # the first DATA
    assert s.try_send_data(1, "b") > 0
    assert s.try_send_data(1, "c") == -1  # out of credit: nothing queued, nothing changed
    assert decode_all(s.data_to_send()) == [[1, 1, "a"], [1, 1, "b"]]
    feed(s, [7, 1, 1])
    assert s.try_send_data(1, "c") > 0
    assert decode_all(s.data_to_send()) == [[1, 1, "c"]]
    assert s.try_send_data(99, "x") == -1  # no such call
    s.send_end(1)
    assert s.try_send_data(1, "d") == -1  # ended


# Call state table.


def test_call_state_table() -> None:
    call = CallState(1, Role.SERVER, Half.OPEN)
    call.receive(FrameType.DATA)
    call.receive(FrameType.END_OF_STREAM)
    assert call.request is Half.DONE
    with pytest.raises(RemoteProtocolError):
        call.receive(FrameType.DATA)
    call.send(FrameType.METADATA)
    call.send(FrameType.DATA)
    call.send(FrameType.ERROR)
    assert call.done
    with pytest.raises(LocalProtocolError):
        call.send(FrameType.DATA)


def test_credit_grant_to_unlimited() -> None:
    call = CallState(1, Role.CLIENT, Half.OPEN, send_credit=1, receive_credit=1)
    call.granted(UNLIMITED)
    call.grant(UNLIMITED)
    assert call.send_credit is None and call.receive_credit is None


# Client.


def client_with_hello(**settings: Any) -> ClientProtocol:
    c = ClientProtocol()
    feed(c, [8, 0, {"version": 1, "max_message_size": 1 << 20, "client_window": 2, **settings}])
    return c


def test_client_reads_hello() -> None:
    c = client_with_hello(max_message_size=40, future_key=1)
    [event] = c.events_received()
    assert isinstance(event, HelloReceived)
    assert (c.settings.max_message_size, c.settings.client_window) == (40, 2)
    with pytest.raises(Error) as info:
        c.send_request("add", "x" * 100)
    assert info.value.code is Code.RESOURCE_EXHAUSTED
    assert c.calls == {} and c.data_to_send() == []


def test_client_unary_round_trip() -> None:
    c = client_with_hello()
    id = c.send_request("add", [1, 2], metadata={"m": 1}, timeout_ms=100)
    assert decode_all(c.data_to_send()) == [[0, 1, "add", {"m": 1}, {"timeout": 100}, [1, 2]]]
    feed(c, [6, id, 3, {"l": 1}, {"t": 1}])
    [_, event] = c.events_received()
    assert isinstance(event, ResponseReceived)
    assert (msgspec.msgpack.decode(event.data), event.leading, event.trailing) == (3, {"l": 1}, {"t": 1})
    assert c.calls == {}


def test_client_stream_with_window_and_credit() -> None:
    c = client_with_hello()
    id = c.send_request("count", 3, window=1)
    feed(c, [2, id, {"l": 1}], [1, id, 0])
    c.grant_credit(id, 1)
    feed(c, [1, id, 1], [3, id, {"t": 1}])
    events = c.events_received()[1:]
    assert [type(e) for e in events] == [MetadataReceived, MessageReceived, MessageReceived, EndOfStream]
    assert decode_all(c.data_to_send())[1:] == [[7, id, 1]]


def test_client_stream_messages_beyond_the_window_fail_the_call() -> None:
    c = client_with_hello()
    id = c.send_request("count", 3, window=2)
    feed(c, [1, id, 0], [1, id, 1], [1, id, 2], [1, id, 3])
    events = c.events_received()[1:]
    assert [type(e) for e in events] == [MessageReceived, MessageReceived, CallFailed]
    assert isinstance(events[2], CallFailed)
    assert events[2].error.message == "protocol violation: DATA beyond the granted credit"
    assert id not in c.calls  # what follows it is ignored


def test_client_response_after_stream_messages_fails_the_call() -> None:
    c = client_with_hello()
    id = c.send_request("count", 3)
    feed(c, [2, id, {"l": 1}], [1, id, 0], [6, id, 1, {}, {}], [1, id, 1])
    events = c.events_received()[1:]
    assert [type(e) for e in events] == [MetadataReceived, MessageReceived, CallFailed]
    assert isinstance(events[2], CallFailed)
    assert events[2].error.message == "protocol violation: unexpected RESPONSE in state STREAMING"
    assert id not in c.calls


def test_client_streams_within_the_servers_window() -> None:
    c = client_with_hello()
    id = c.send_request("total", 1)
    c.send_data(id, 2)
    assert not c.can_send_data(id)
    with pytest.raises(LocalProtocolError):
        c.send_data(id, 3)
    feed(c, [7, id, 5])
    c.send_data(id, 3)
    c.send_end(id)
    with pytest.raises(LocalProtocolError):
        c.send_data(id, 4)


def test_client_close_ignores_what_still_arrives() -> None:
    c = client_with_hello()
    id = c.send_request("count", 3)
    c.send_close(id, "enough")
    c.send_close(id)
    feed(c, [1, id, 0], [3, id])
    assert c.events_received()[1:] == []
    assert decode_all(c.data_to_send())[1:] == [[4, id, "enough"]]


def test_client_errors_and_connection_frames() -> None:
    c = client_with_hello()
    id = c.send_request("add", 1)
    feed(
        c,
        [5, id, "NOT_FOUND", "gone", {"x": 1}],
        [5, 0, "INVALID_ARGUMENT", "bad"],
        [10, 7],
        [11, 0, "bye"],
        [5, 1, "NEW_CODE", "?"],
    )
    events = c.events_received()[1:]
    assert isinstance(events[0], ErrorReceived) and events[0].error.code is Code.NOT_FOUND
    assert events[0].error.data == {"x": 1}
    assert isinstance(events[1], ErrorReceived) and events[1].id == 0
    assert events[2:] == [PongReceived(7), GoAwayReceived("bye")]


def test_client_sees_server_protocol_violations_as_call_failures() -> None:
    c = client_with_hello()
    id = c.send_request("count", 1)
    feed(c, [1, id, 0], [6, id, 1])  # RESPONSE after DATA
    events = c.events_received()[1:]
    assert isinstance(events[-1], CallFailed) and events[-1].error.code is Code.INTERNAL
    # The server's handler may still run: CLOSE stops it.
    assert [frame[:2] for frame in decode_all(c.data_to_send())[1:]] == [[4, id]]
    feed(c, [1, 99], "garbage")
    assert all(isinstance(e, ErrorReceived) and e.id == 0 for e in c.events_received())


# Properties.

client_frame = st.one_of(
    st.tuples(
        st.just(0),
        st.integers(-1, 6),
        st.sampled_from(["add", "total", "x", 1]),
        st.none(),
        st.none(),
        st.integers(-5, 5),
    ),
    st.tuples(st.just(0), st.integers(-1, 6), st.sampled_from(["add", "total"])),
    st.tuples(st.sampled_from([1, 3, 4, 7]), st.integers(-1, 6), st.integers(-1, 3)),
    st.tuples(st.integers(0, 40), st.integers(-1, 6)),
    st.binary(max_size=12),
)


@settings(max_examples=300)
@given(st.lists(client_frame, max_size=25))
def test_any_sequence_of_client_frames_only_yields_documented_outcomes(frames: list[Any]) -> None:
    s = server(client_window=2, max_concurrent_calls=3)
    for frame in frames:
        s.receive_data(frame if isinstance(frame, bytes) else encode(list(frame)))
        for event in s.events_received():
            if isinstance(event, CallFailed):
                assert event.error.code in (Code.INVALID_ARGUMENT, Code.RESOURCE_EXHAUSTED)
                s.send_error(event.id, event.error)
        for out in decode_all(s.data_to_send()):
            assert out[0] in (5, 10)
            if out[0] == 5:
                assert out[2] in ("INVALID_ARGUMENT", "UNIMPLEMENTED", "RESOURCE_EXHAUSTED")
        assert len(s.calls) <= 3


def test_client_ping_and_text_from_the_server() -> None:
    c = client_with_hello()
    c.send_ping(5)
    assert decode_all(c.data_to_send()) == [[9, 5]]
    assert not c.has_data_to_send()
    c.receive_text("hi")
    feed(c, [40, 1])  # an extension frame: ignored
    events = c.events_received()[1:]
    assert len(events) == 1 and isinstance(events[0], ErrorReceived) and events[0].id == 0


def test_client_malformed_frame_on_an_open_call_fails_it() -> None:
    c = client_with_hello()
    id = c.send_request("count", 1)
    feed(c, [1, id])  # DATA without its value
    [_, event] = c.events_received()
    assert isinstance(event, CallFailed) and event.id == id and event.error.code is Code.INTERNAL
    assert id not in c.calls
    assert decode_all(c.data_to_send())[-1][:2] == [4, id]


def test_client_message_over_the_receive_limit_fails_only_its_call() -> None:
    c = ClientProtocol(max_receive_size=200)
    feed(c, [8, 0, {"version": 1}])
    first, second = c.send_request("count", 1), c.send_request("add", [1, 2])
    c.data_to_send()
    big = msgspec.msgpack.encode([1, first, "x" * 300])
    c.receive_data(big)
    [_, event] = c.events_received()
    assert isinstance(event, CallFailed) and event.id == first and event.error.code is Code.RESOURCE_EXHAUSTED
    assert event.error.message == f"message of {len(big)} bytes exceeds the client's limit (200)"
    assert decode_all(c.data_to_send())[0][:2] == [4, first]  # CLOSE: the server stops the call
    feed(c, [6, second, 3])  # the connection goes on
    [event] = c.events_received()
    assert isinstance(event, ResponseReceived) and event.id == second


def test_client_message_over_the_receive_limit_without_an_open_call_is_a_connection_error() -> None:
    c = ClientProtocol(max_receive_size=10)
    c.receive_data(msgspec.msgpack.encode([6, 77, "x" * 20]))  # a call that is not open
    c.receive_data(msgspec.msgpack.encode("x" * 20))  # no id to read
    events = c.events_received()
    assert [type(e) for e in events] == [ErrorReceived, ErrorReceived]
    assert all(e.id == 0 and e.error.code is Code.RESOURCE_EXHAUSTED for e in events if isinstance(e, ErrorReceived))
    assert c.data_to_send() == []
    unlimited = ClientProtocol()
    unlimited.receive_data(msgspec.msgpack.encode([8, 0, {"version": 1, "server": "x" * 1000}]))
    assert isinstance(unlimited.events_received()[0], HelloReceived)


def test_error_str_and_repr() -> None:
    assert str(Error(Code.NOT_FOUND, "gone")) == "NOT_FOUND: gone"
    assert str(Error("NOT_FOUND")) == "NOT_FOUND"
    assert repr(Error(Code.ABORTED, "x")) == "Error('ABORTED', 'x')"
    assert Error("SOMETHING_NEW").code is Code.UNKNOWN


def test_buffered_size_counts_what_data_to_send_returns() -> None:
    s = server()
    s.send_hello()
    feed(s, [9, 1], [0, 1, "nope"])
    assert s.buffered_size() == sum(map(len, s.data_to_send())) > 0
    assert s.buffered_size() == 0


def test_the_core_owns_the_call_lifecycle() -> None:
    protocol = server(client_window=4)
    feed(protocol, [0, 1, "total"], [0, 2, "add", None, None, [1, 2]])
    protocol.events_received()
    assert protocol.is_open(1) and protocol.is_open(2)
    assert protocol.grant(1, 2)  # the request stream is open: CREDIT goes out
    assert decode_all(protocol.data_to_send()) == [[7, 1, 2]]
    assert not protocol.grant(2, 1)  # a single request takes no credit
    feed(protocol, [3, 1])
    assert not protocol.grant(1, 1)  # nor a stream the client ended
    assert protocol.data_to_send() == []
    protocol.forget(2)  # ended without a final frame (its socket died): no longer counted
    assert not protocol.is_open(2)
    protocol.forget(2)
    protocol.send_end(1)
    assert not protocol.is_open(1)
