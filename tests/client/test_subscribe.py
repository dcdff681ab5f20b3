"""`Client.subscribe` beyond the shared scripts: its pure rules, backoff attempts, typed values."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

import swill
from swill.client._subscribe import gap, resumable

from .test_scripts import Replayer, settle

HELLO = {"receive": [8, 0, {"max_concurrent_calls": 100}]}


@pytest.mark.parametrize(
    ("last", "id", "expected"),
    [(None, 7, (0, False)), (6, 7, (0, False)), (6, 10, (3, False)), (6, 6, (0, True)), (6, 1, (0, True))],
)
def test_gap(last: int | None, id: int, expected: tuple[int, bool]) -> None:
    assert gap(last, id) == expected


def test_what_resumes() -> None:
    unavailable = swill.Error(swill.Code.UNAVAILABLE, "lost")
    kicked = swill.Error(swill.Code.UNAUTHENTICATED, "expired", {"close_code": 4401})
    assert resumable(unavailable, auth_retry=False)
    assert resumable(kicked, auth_retry=True)
    assert not resumable(kicked, auth_retry=False)
    assert not resumable(swill.Error(swill.Code.UNAUTHENTICATED, "no"), auth_retry=True)
    assert not resumable(swill.Error(swill.Code.PERMISSION_DENIED, "no", {"close_code": 4403}), auth_retry=True)


class Recording(Replayer):
    """A replayer whose client records each backoff attempt it waits for."""

    def __init__(self, script: dict[str, Any], **subscribe: Any) -> None:
        super().__init__(script)
        self.attempts: list[int] = []
        self.client._backoff = self._record
        self.subscribe_options = subscribe

    def _record(self, attempt: int) -> float:
        self.attempts.append(attempt)
        return 0.0


def event(call: int, id: int, value: Any) -> dict[str, Any]:
    return {"receive": [1, call, {"id": id, "value": value}]}


async def test_attempts_count_failures_and_start_again_after_an_event() -> None:
    unavailable = "UNAVAILABLE", "the broker went away"
    steps = [
        {"subscribe": "s", "rpc": "temp", "after": None},
        {"socket": "open"},
        HELLO,
        {"receive": [5, 1, *unavailable]},
        {"receive": [5, 2, *unavailable]},
        event(3, 1, "a"),
        {"receive": [5, 3, *unavailable]},
        event(4, 2, "b"),
        {"expect": "s", "events": [{"id": 1, "value": "a", "missed": 0, "restarted": False},
                                   {"id": 2, "value": "b", "missed": 0, "restarted": False}]},
    ]
    replayer = Recording({"name": "attempts", "steps": steps})
    await replayer.run()
    assert replayer.attempts == [1, 2, 1]


async def test_values_decode_into_value_type() -> None:
    class Reading(msgspec.Struct):
        celsius: float

    replayer = Recording({"name": "typed", "steps": [{"socket": "open"}, HELLO, event(1, 1, {"celsius": 21.5})]})
    seen: list[swill.SubscriptionEvent[Reading]] = []

    async def consume() -> None:
        async for item in replayer.client.subscribe("temp", value_type=Reading):
            seen.append(item)

    replayer.start("typed", consume())
    await settle()
    await replayer.run()
    assert seen == [swill.SubscriptionEvent(1, Reading(21.5))]


@pytest.mark.parametrize("message", [7, {"id": "x", "value": 1}, {"id": 1}, {"id": True, "value": 1}])
async def test_a_message_that_is_not_an_event_ends_the_subscription(message: Any) -> None:
    steps = [
        {"subscribe": "s", "rpc": "temp", "after": None},
        {"socket": "open"},
        HELLO,
        {"receive": [1, 1, message]},
        {"expect": "s", "error": {"code": "INTERNAL", "message_includes": "not an event"}},
        {"expect_sent": [[0, 1, "temp", None, {"$any": True}, None], [4, 1, {"$any": True}]]},
    ]
    await Recording({"name": "not an event", "steps": steps}).run()


async def test_a_value_that_does_not_fit_value_type_ends_the_subscription() -> None:
    replayer = Recording({"name": "misfit", "steps": [{"socket": "open"}, HELLO, event(1, 4, "warm")]})
    errors: list[swill.Error] = []

    async def consume() -> None:
        try:
            async for _ in replayer.client.subscribe("temp", value_type=float):
                pass
        except swill.Error as error:
            errors.append(error)

    replayer.start("misfit", consume())
    await settle()
    await replayer.run()
    assert [(e.code, "event 4" in e.message) for e in errors] == [(swill.Code.INTERNAL, True)]
