"""ServerProtocol with credentials checked (PROTOCOL.md section 1b): call frames wait for AUTH."""

from __future__ import annotations

from typing import Any

from swill._protocol import (
    AuthReceived,
    CallCancelled,
    CallOpened,
    ClientProtocol,
    EndOfStream,
    MessageReceived,
    ServerProtocol,
    Settings,
)

from .test_protocol import decode_all, feed, registry


def checking(**settings: Any) -> ServerProtocol:
    return ServerProtocol(registry, Settings(**settings), check_auth=True)


def test_without_a_check_auth_is_ignored() -> None:
    s = ServerProtocol(registry)
    feed(s, [12, 0, {"token": "t"}], [0, 1, "add", None, None, [1, 2]])
    assert [type(e) for e in s.events_received()] == [CallOpened]
    assert s.data_to_send() == []


def test_requests_wait_for_auth_then_run_in_order() -> None:
    s = checking()
    feed(s, [0, 1, "total", None, None, 1], [1, 1, 2], [3, 1], [0, 2, "add", None, None, [1, 2]])
    assert s.events_received() == []
    assert s.calls == {}
    feed(s, [12, 0, {"token": "t"}])
    assert s.events_received() == [AuthReceived({"token": "t"})]
    s.accept_auth()
    events = s.events_received()
    assert [type(e) for e in events] == [CallOpened, MessageReceived, EndOfStream, CallOpened]
    assert [e.id for e in events if isinstance(e, CallOpened)] == [1, 2]
    assert s.data_to_send() == []


def test_pings_are_answered_before_auth() -> None:
    s = checking()
    feed(s, [9, 7])
    assert decode_all(s.data_to_send()) == [[10, 7]]


def test_a_close_before_auth_is_held_too() -> None:
    s = checking()
    feed(s, [0, 1, "add", None, None, [1, 2]], [4, 1])
    s.accept_auth()
    assert [type(e) for e in s.events_received()] == [CallOpened, CallCancelled]


def test_held_requests_are_bounded_by_max_concurrent_calls() -> None:
    s = checking(max_concurrent_calls=2)
    feed(s, *[[0, id, "add", None, None, [id, id]] for id in (1, 2, 3)])
    assert [f[:3] for f in decode_all(s.data_to_send())] == [[5, 3, "RESOURCE_EXHAUSTED"]]
    s.accept_auth()
    assert [e.id for e in s.events_received() if isinstance(e, CallOpened)] == [1, 2]


def test_held_frames_are_bounded() -> None:
    s = checking(max_concurrent_calls=1, client_window=1)
    feed(s, [0, 1, "total", None, None, 1], [1, 1, 2], [1, 1, 3], [1, 1, 4])
    assert [f[:3] for f in decode_all(s.data_to_send())] == [[5, 0, "RESOURCE_EXHAUSTED"]]


def test_held_ids_must_grow() -> None:
    s = checking()
    feed(s, [0, 2, "add", None, None, [1, 2]], [0, 2, "add", None, None, [1, 2]])
    assert [f[:3] for f in decode_all(s.data_to_send())] == [[5, 0, "INVALID_ARGUMENT"]]
    s.accept_auth()
    assert len([e for e in s.events_received() if isinstance(e, CallOpened)]) == 1


def test_a_later_auth_is_reported_and_calls_go_on() -> None:
    s = checking()
    feed(s, [12, 0, "a"])
    s.accept_auth()
    feed(s, [0, 1, "add", None, None, [1, 2]], [12, 0, "b"])
    assert [type(e) for e in s.events_received()] == [AuthReceived, CallOpened, AuthReceived]
    s.accept_auth()  # already serving: nothing more to do
    assert s.events_received() == []
    assert 1 in s.calls


def test_malformed_auth_is_answered_on_id_zero() -> None:
    s = checking()
    feed(s, [12, 0])
    assert [f[:3] for f in decode_all(s.data_to_send())] == [[5, 0, "INVALID_ARGUMENT"]]


def test_client_sends_auth() -> None:
    c = ClientProtocol()
    c.send_auth({"token": "t"})
    assert decode_all(c.data_to_send()) == [[12, 0, {"token": "t"}]]


def test_calls_opened_after_a_later_auth_wait_for_it_while_open_calls_go_on() -> None:
    s = checking()
    feed(s, [12, 0, {"token": "a"}])
    s.accept_auth()
    feed(s, [0, 1, "total", None, None, 1])
    s.events_received()
    feed(s, [12, 0, {"token": "b"}], [0, 2, "add", None, None, [1, 2]], [1, 1, 2], [4, 2])
    assert [type(e) for e in s.events_received()] == [AuthReceived, MessageReceived]
    assert 2 not in s.calls
    s.accept_auth()
    assert [type(e) for e in s.events_received()] == [CallOpened, CallCancelled]
