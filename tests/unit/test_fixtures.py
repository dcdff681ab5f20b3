"""The shared frame fixtures (tests/fixtures/frames.json), read and written by the Python peer.

The TypeScript client's unit tests check the same file, so both peers stay byte-compatible.
Each fixture is `{"name", "direction", "canonical", "hex", "frame"}`: `hex` is the MessagePack
bytes, `frame` what they mean (`null` for an extension frame a peer ignores), `direction` who
sends it (`c2s`, `s2c` or `both`), and `canonical` whether these are the exact bytes an encoder
writes for that meaning (short forms that omit trailing `nil` fields are not).

In `frame`, `{"$bin": hex}` is bin, `{"$timestamp": ISO 8601}` the timestamp extension and
`{"$bigint": decimal}` an integer beyond ±2^53; a REQUEST without a `"data"` key carries no data.
"""

from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import Any

import msgspec
import pytest

from swill._frames import (
    CLIENT_FRAMES,
    NO_DATA,
    SERVER_FRAMES,
    AuthFrame,
    CloseFrame,
    CreditFrame,
    DataFrame,
    EndOfStreamFrame,
    ErrorFrame,
    Frame,
    FrameDecoder,
    FrameType,
    GoAwayFrame,
    HelloFrame,
    MetadataFrame,
    Options,
    PingFrame,
    PongFrame,
    RequestFrame,
    ResponseFrame,
    encode,
    encode_request,
    payload,
)

FIXTURES: list[dict[str, Any]] = json.loads(
    (Path(__file__).parents[1] / "fixtures" / "frames.json").read_text(encoding="utf-8")
)
DECODERS = {
    "c2s": [FrameDecoder(CLIENT_FRAMES)],
    "s2c": [FrameDecoder(SERVER_FRAMES)],
    "both": [FrameDecoder(CLIENT_FRAMES), FrameDecoder(SERVER_FRAMES)],
}
_any = msgspec.msgpack.Decoder()


def revive(value: Any) -> Any:
    """The Python value a fixture's JSON stands for."""
    if isinstance(value, list):
        return [revive(item) for item in value]
    if isinstance(value, dict):
        if isinstance(value.get("$bin"), str):
            return bytes.fromhex(value["$bin"])
        if isinstance(value.get("$timestamp"), str):
            return datetime.datetime.fromisoformat(value["$timestamp"].replace("Z", "+00:00"))
        if isinstance(value.get("$bigint"), str):
            return int(value["$bigint"])
        return {key: revive(item) for key, item in value.items()}
    return value


def _value(raw: msgspec.Raw | None) -> Any:
    return None if raw is None else _any.decode(raw)


def meaning(frame: Frame) -> dict[str, Any]:
    """A decoded frame as its fixture meaning, with `data` decoded."""
    tag = type(frame).__struct_config__.tag
    assert isinstance(tag, int)
    fields: dict[str, Any] = {"type": FrameType(tag).name}
    for name in frame.__struct_fields__:
        fields[name] = getattr(frame, name)
    if isinstance(frame, RequestFrame):
        if frame.options is not None:
            fields["options"] = msgspec.structs.asdict(frame.options)
            fields["options"] = {k: v for k, v in fields["options"].items() if v is not None}
        if len(frame.data) == 0:
            del fields["data"]
        else:
            fields["data"] = _value(frame.data)
    elif isinstance(frame, DataFrame | ResponseFrame | ErrorFrame):
        fields["data"] = _value(frame.data)
    elif isinstance(frame, AuthFrame):
        fields["credentials"] = _value(frame.credentials)
    return fields


def build(fields: dict[str, Any]) -> bytes:
    """Encode the frame a fixture's meaning stands for, with the Python peer's encoder."""
    f = revive(fields)
    match f["type"]:
        case "REQUEST":
            options = None if f["options"] is None else Options(**f["options"])
            data = payload(f["data"]) if "data" in f else NO_DATA
            return encode_request(f["id"], f["rpc"], f["metadata"], options, data)
        case "DATA":
            return encode(DataFrame(f["id"], payload(f["data"])))
        case "METADATA":
            return encode(MetadataFrame(f["id"], f["metadata"]))
        case "END_OF_STREAM":
            return encode(EndOfStreamFrame(f["id"], f["metadata"]))
        case "CLOSE":
            return encode(CloseFrame(f["id"], f["reason"]))
        case "ERROR":
            return encode(ErrorFrame(f["id"], f["code"], f["message"], payload(f["data"]), f["metadata"]))
        case "RESPONSE":
            return encode(ResponseFrame(f["id"], payload(f["data"]), f["leading"], f["trailing"]))
        case "CREDIT":
            return encode(CreditFrame(f["id"], f["n"]))
        case "HELLO":
            return encode(HelloFrame(f["id"], f["settings"]))
        case "PING":
            return encode(PingFrame(f["nonce"]))
        case "PONG":
            return encode(PongFrame(f["nonce"]))
        case "GOAWAY":
            return encode(GoAwayFrame(f["id"], f["reason"]))
        case "AUTH":
            return encode(AuthFrame(f["id"], payload(f["credentials"])))
    raise AssertionError(f"unknown frame type {f['type']}")


def _ids(fixtures: list[dict[str, Any]]) -> list[str]:
    return [fixture["name"] for fixture in fixtures]


def test_fixtures_cover_every_frame_type() -> None:
    names = {fixture["frame"]["type"] for fixture in FIXTURES if fixture["frame"] is not None}
    assert names == {t.name for t in FrameType}
    assert any(not fixture["canonical"] for fixture in FIXTURES)
    assert any(fixture["frame"] is None for fixture in FIXTURES)


@pytest.mark.parametrize("fixture", FIXTURES, ids=_ids(FIXTURES))
def test_decodes_fixture(fixture: dict[str, Any]) -> None:
    message = bytes.fromhex(fixture["hex"])
    for decoder in DECODERS[fixture["direction"]]:
        frame = decoder.decode(message)
        if fixture["frame"] is None:
            assert frame is None
        else:
            assert frame is not None
            assert meaning(frame) == revive(fixture["frame"])


CANONICAL = [fixture for fixture in FIXTURES if fixture["canonical"] and fixture["frame"] is not None]


@pytest.mark.parametrize("fixture", CANONICAL, ids=_ids(CANONICAL))
def test_encodes_fixture_to_the_same_bytes(fixture: dict[str, Any]) -> None:
    assert build(fixture["frame"]).hex() == fixture["hex"]
