"""Hostile bytes against the sans-I/O core: whatever msgspec raises is a malformed frame."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec
import pytest

from swill._frames import CLIENT_FRAMES, MAX_ID, SERVER_FRAMES, FrameDecoder, FrameError, peek
from swill._protocol import CallFailed, CallOpened, ClientProtocol, ErrorReceived, ServerProtocol


@dataclass(frozen=True)
class Info:
    request_stream: bool


registry = {"add": Info(False), "total": Info(True)}


def pack(value: Any) -> bytes:
    return msgspec.msgpack.encode(value)


DEEP = 100_000
"""Deeper than msgspec decodes on any Python (its limit follows the interpreter's recursion
limits: about 1,000 levels on 3.11, 10,000 on 3.13)."""


def nested(depth: int, inner: bytes = b"\xc0") -> bytes:
    """`depth` arrays, one inside the other, around `inner`: a few bytes per level."""
    return b"\x91" * depth + inner


def deep_map(depth: int) -> bytes:
    return b"\x81\xa1k" * depth + b"\xc0"


def frame_with(prefix: list[Any], tail: bytes) -> bytes:
    """An array of `prefix` plus one more element given as raw bytes."""
    return bytes([0x90 + len(prefix) + 1]) + b"".join(pack(x) for x in prefix) + tail


def decode_all(messages: list[bytes]) -> list[Any]:
    return [msgspec.msgpack.decode(m) for m in messages]


HOSTILE = {
    "deep request data": frame_with([0, 1, "add", None, None], nested(DEEP)),
    "deep request metadata": bytes([0x96]) + pack(0) + pack(1) + pack("add") + deep_map(DEEP) + b"\xc0\xc0",
    "deep data frame": frame_with([1, 1], nested(DEEP)),
    "deep at the top": nested(DEEP),
    "absurd array length": b"\xdd\xff\xff\xff\xff",
    "absurd str length": frame_with([0, 1], b"\xdb\xff\xff\xff\xff"),
    "absurd map length": frame_with([0, 1, "add"], b"\xdf\xff\xff\xff\xff"),
    "huge int": frame_with([0], b"\xcf\xff\xff\xff\xff\xff\xff\xff\xff"),
    "negative int id": pack([0, -(2**63), "add", None, None, 1]),
    "truncated": pack([0, 1, "add", None, None, [1, 2]])[:-1],
    "empty": b"",
}


@pytest.mark.parametrize("message", HOSTILE.values(), ids=HOSTILE.keys())
@pytest.mark.parametrize("frames", [CLIENT_FRAMES, SERVER_FRAMES], ids=["server", "client"])
def test_hostile_bytes_are_a_frame_error(message: bytes, frames: Any) -> None:
    with pytest.raises(FrameError):
        FrameDecoder(frames).decode(message)
    peek(message)  # never raises


def test_deep_nesting_in_request_is_answered_on_its_id() -> None:
    server = ServerProtocol(registry)
    server.receive_data(HOSTILE["deep request data"])
    [frame] = decode_all(server.data_to_send())
    assert frame[:3] == [5, 1, "INVALID_ARGUMENT"]
    assert server.events_received() == []
    server.receive_data(pack([0, 2, "add", None, None, [1, 2]]))  # the connection goes on
    assert isinstance(server.events_received()[0], CallOpened)


def test_deep_nesting_in_data_fails_the_open_call() -> None:
    server = ServerProtocol(registry)
    server.receive_data(pack([0, 1, "total"]))
    server.events_received()
    server.receive_data(HOSTILE["deep data frame"])
    [event] = server.events_received()
    assert isinstance(event, CallFailed) and event.id == 1 and event.error.code == "INVALID_ARGUMENT"


@pytest.mark.parametrize("id", [MAX_ID + 1, 2**64 - 1])
def test_request_id_beyond_the_range_is_answered_on_id_zero(id: int) -> None:
    server = ServerProtocol(registry)
    server.receive_data(pack([0, id, "add", None, None, [1, 2]]))
    [frame] = decode_all(server.data_to_send())
    assert frame[:3] == [5, 0, "INVALID_ARGUMENT"]
    assert server.events_received() == []
    server.receive_data(pack([0, 1, "add", None, None, [1, 2]]))  # an out-of-range id is not "seen"
    assert isinstance(server.events_received()[0], CallOpened)


def test_largest_id_is_accepted() -> None:
    server = ServerProtocol(registry)
    server.receive_data(pack([0, MAX_ID, "add", None, None, [1, 2]]))
    [event] = server.events_received()
    assert isinstance(event, CallOpened) and event.id == MAX_ID


def test_oversized_message_with_an_id_beyond_the_range_goes_on_id_zero() -> None:
    server = ServerProtocol(registry)
    server.receive_data(pack([0, MAX_ID + 1, "add", None, None, "x" * 2_000_000]))
    [frame] = decode_all(server.data_to_send())
    assert frame[:3] == [5, 0, "RESOURCE_EXHAUSTED"]


def test_peek_hides_ids_beyond_the_range() -> None:
    assert peek(pack([1, MAX_ID + 1, "x" * 100])) == (1, None)
    assert peek(pack([1, MAX_ID + 1, "x"])) == (1, None)
    assert peek(pack([1, MAX_ID, "x" * 100])) == (1, MAX_ID)


@pytest.mark.parametrize("message", HOSTILE.values(), ids=HOSTILE.keys())
def test_client_takes_hostile_bytes_as_a_protocol_violation(message: bytes) -> None:
    client = ClientProtocol()
    client.send_request("add", [1, 2])
    client.data_to_send()
    client.receive_data(message)
    [event] = client.events_received()
    assert isinstance(event, (ErrorReceived, CallFailed))
    assert event.error.code == "INTERNAL" and "protocol violation" in event.error.message


def test_client_fails_the_call_a_deep_frame_names() -> None:
    client = ClientProtocol()
    id = client.send_request("add", [1, 2])
    client.data_to_send()
    client.receive_data(frame_with([6, id], nested(DEEP)))
    [event] = client.events_received()
    assert isinstance(event, CallFailed) and event.id == id
    [close] = decode_all(client.data_to_send())
    assert close[:2] == [4, id]


def test_client_error_frame_with_undecodable_data_is_a_protocol_violation() -> None:
    client = ClientProtocol()
    id = client.send_request("add", [1, 2])
    client.receive_data(frame_with([5, id, "INTERNAL", "x"], b"\xd4\xff\x00"))
    [event] = client.events_received()
    assert isinstance(event, CallFailed) and event.id == id


def test_client_ignores_a_frame_for_a_call_that_never_existed() -> None:
    client = ClientProtocol()
    client.receive_data(pack([6, 99, 1]))
    client.receive_data(pack([1, MAX_ID + 1, 1]))
    [event] = client.events_received()  # the out-of-range id is malformed, the other ignored
    assert isinstance(event, ErrorReceived) and event.id == 0


def test_the_server_counts_protocol_errors_by_kind() -> None:
    server = ServerProtocol(registry)
    for _ in range(3):
        server.receive_data(b"\xc1")
    server.receive_text("hi")
    server.receive_data(pack([0, 2, "total"]))
    server.receive_data(pack([0, 1, "add", None, None, [1, 2]]))
    server.receive_data(pack([3, 2]))
    server.receive_data(pack([3, 2]))
    assert server.last_violation == ("frame against a call's rules", "END_OF_STREAM after the request was complete")
    assert {kind: v.count for kind, v in server.violations.items()} == {
        "malformed frame": 3,
        "text message": 1,
        "non-increasing call id": 1,
        "frame against a call's rules": 1,
    }
    assert server.violation_count == 6


def test_auth_credentials_that_cannot_be_decoded_are_malformed() -> None:
    server = ServerProtocol(registry, check_auth=True)
    server.receive_data(frame_with([12, 0], b"\xd4\xff\x00"))  # an invalid timestamp
    [frame] = decode_all(server.data_to_send())
    assert frame[:3] == [5, 0, "INVALID_ARGUMENT"]
    assert server.events_received() == []
