from __future__ import annotations

from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from swill._frames import (
    CLIENT_FRAMES,
    MAX_ID,
    NO_DATA,
    SERVER_FRAMES,
    DataFrame,
    ErrorFrame,
    FrameDecoder,
    FrameError,
    FrameType,
    Options,
    RequestFrame,
    ResponseFrame,
    encode,
    encode_request,
    payload,
    peek,
)

client_frames = FrameDecoder(CLIENT_FRAMES)
server_frames = FrameDecoder(SERVER_FRAMES)


def pack(value: Any) -> bytes:
    return msgspec.msgpack.encode(value)


def test_request_without_data_is_not_nil() -> None:
    absent = client_frames.decode(pack([0, 7, "f"]))
    nil = client_frames.decode(pack([0, 7, "f", None, None, None]))
    assert isinstance(absent, RequestFrame) and isinstance(nil, RequestFrame)
    assert absent.data is NO_DATA or len(absent.data) == 0
    assert bytes(nil.data) == b"\xc0"


def test_encode_request_leaves_data_out_unless_given() -> None:
    assert msgspec.msgpack.decode(encode_request(1, "f", None, None)) == [0, 1, "f", None, None]
    assert msgspec.msgpack.decode(encode_request(1, "f", None, None, None)) == [0, 1, "f", None, None, None]


def test_options_unknown_keys_are_ignored() -> None:
    frame = client_frames.decode(pack([0, 1, "f", None, {"timeout": 5, "window": 2, "future": 1}, 1]))
    assert isinstance(frame, RequestFrame)
    assert frame.options == Options(timeout=5, window=2)


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ([0, 1, "f", None, {"window": 0}, 1], "malformed REQUEST"),
        ([0, 0, "f"], "malformed REQUEST"),
        ([0, MAX_ID + 1, "f"], "malformed REQUEST"),
        ([1, 1], "malformed DATA"),
        ([6, 1, 2], "unexpected frame type RESPONSE"),
        ([13, 1], "unknown frame type 13"),
        ([12, 1], "malformed AUTH"),
        ([31, 1], "unknown frame type 31"),
        ({"a": 1}, "not a frame"),
        ([], "not a frame"),
        (["x", 1], "not a frame"),
        ([7, 1, 0], "malformed CREDIT"),
        ([0, 1, "f", {1: 2}], "malformed REQUEST"),
    ],
)
def test_frames_that_cannot_be_acted_on(value: Any, problem: str) -> None:
    with pytest.raises(FrameError) as info:
        client_frames.decode(pack(value))
    assert info.value.message.startswith(problem)


def test_frame_error_keeps_what_it_could_read() -> None:
    with pytest.raises(FrameError) as info:
        client_frames.decode(pack([1, 5]))
    assert (info.value.type, info.value.id) == (FrameType.DATA, 5)


def test_not_msgpack() -> None:
    with pytest.raises(FrameError) as info:
        client_frames.decode(b"\xc1\x00")
    assert info.value.id is None and info.value.message.startswith("not a frame")


@pytest.mark.parametrize("type_", [32, 33, 200, 2**16])
def test_extension_frames_are_ignored(type_: int) -> None:
    assert client_frames.decode(pack([type_, 1, "anything"])) is None
    assert server_frames.decode(pack([type_])) is None


def test_error_frame_allows_id_zero_and_trailing_fields_omitted() -> None:
    frame = server_frames.decode(pack([5, 0, "INVALID_ARGUMENT", "bad"]))
    assert frame == ErrorFrame(0, "INVALID_ARGUMENT", "bad")


def test_outgoing_frames_carry_any_value() -> None:
    message = encode(ResponseFrame(3, payload({"a": [1, 2]}), {"x": 1}, None))
    assert msgspec.msgpack.decode(message) == [6, 3, {"a": [1, 2]}, {"x": 1}, None]
    with pytest.raises(TypeError):
        encode(DataFrame(3, payload(object())))


def test_peek_reads_type_and_id_of_large_messages() -> None:
    big = pack([1, 2**40, b"x" * 5000])
    assert peek(big) == (1, 2**40)
    assert peek(pack([0, 300, "f", None, None, "y" * 100])) == (0, 300)
    assert peek(b"\x00" * 100) == (None, None)
    assert peek(pack([-1, 3])) == (None, 3)


ids = st.integers(1, MAX_ID)
metadata = st.none() | st.dictionaries(
    st.text(max_size=5), st.integers(-(2**63), 2**64 - 1) | st.text(max_size=5), max_size=3
)
values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.floats(allow_nan=False) | st.text() | st.binary(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=10,
)


@given(ids, st.text(min_size=1), metadata, values)
def test_request_frames_round_trip(id: int, rpc: str, md: dict[str, Any] | None, value: Any) -> None:
    frame = client_frames.decode(encode_request(id, rpc, md, Options(timeout=1, window=2), value))
    assert isinstance(frame, RequestFrame)
    assert (frame.id, frame.rpc, frame.metadata) == (id, rpc, md)
    assert msgspec.msgpack.decode(frame.data) == value


@given(ids, values, metadata, metadata)
def test_server_frames_round_trip(id: int, value: Any, leading: Any, trailing: Any) -> None:
    frame = server_frames.decode(encode(ResponseFrame(id, payload(value), leading, trailing)))
    assert isinstance(frame, ResponseFrame)
    assert msgspec.msgpack.decode(frame.data) == value
    assert (frame.leading, frame.trailing) == (leading, trailing)


@given(st.binary(max_size=64))
def test_random_bytes_only_raise_frame_error(message: bytes) -> None:
    for decoder in (client_frames, server_frames):
        try:
            decoder.decode(message)
        except FrameError:
            pass


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (b"\xdc\x00\x03\x01\xcd\x01\x00" + b"\x00" * 70, (1, 256)),  # array16, uint16 id
        (b"\xdd\x00\x00\x00\x03\x01\xce\x00\x01\x00\x00" + b"\x00" * 70, (1, 65536)),  # array32, uint32 id
        (b"\x93\xcc\x20\xcf" + (2**40).to_bytes(8, "big") + b"\x00" * 70, (32, 2**40)),  # uint8 type, uint64 id
        (b"\x93\xa1x\x01" + b"\x00" * 70, (None, None)),  # the type is not an integer
        (b"\x93\x01\xa1x" + b"\x00" * 70, (1, None)),  # the id is not an integer
        (b"\x93\x01\xcf\x00", (1, None)),  # truncated: the type is still read
        (b"\x91\x01\x05", (1, None)),  # a one-element array: what follows is not its id
    ],
)
def test_peek_reads_every_integer_width(message: bytes, expected: tuple[int | None, int | None]) -> None:
    assert peek(message) == expected
