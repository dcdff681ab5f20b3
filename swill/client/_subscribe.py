"""`Client.subscribe`: the events of a resumable stream (docs/protocol.md, "Resumable streams"), resumed by itself.

Rules (docs/client-behaviour.md; the TypeScript client follows the same ones):

1. The stream is opened with the last id delivered (`after`, then each event's id). Its messages
   are maps `{"id": int, "value": ...}`.
2. It is re-opened after a failure that a new connection can cure: `UNAVAILABLE` (a lost
   connection, a drain that ended it, the broker went away), and a 4401 close that the client's
   auth retry cured. Any other error ends the iteration with that error; END_OF_STREAM ends it.
3. Before re-opening it waits `client.backoff(attempt)`; attempts count the failures since the
   last event delivered.
4. `missed` is `id - last - 1` when ids skipped some, else 0; `restarted` is true when the id is
   not greater than the last one (the server lost its state; `missed` is then 0). The first event
   after `after=None` has neither.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import msgspec

from .._errors import Code, Error

if TYPE_CHECKING:
    from ._client import Client, _Unset

__all__ = ["SubscriptionEvent", "gap", "resumable", "subscribe"]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class SubscriptionEvent(Generic[T]):
    """One event of a subscription.

    Attributes:
        id: The event's id; ids grow (docs/protocol.md, "Resumable streams").
        value: The event's value.
        missed: How many ids were skipped just before this event (0 normally): events the
            server no longer had when the subscription resumed, or that a `"latest"` topic
            dropped for a slow subscriber.
        restarted: True when the ids began again just before this event: the server lost the
            stream's state (a restarted in-memory broker, say). `missed` is then 0.
    """

    id: int
    value: T
    missed: int = 0
    restarted: bool = False


def gap(last: int | None, id: int) -> tuple[int, bool]:
    """`(missed, restarted)` for event `id` after the last id delivered (`None`: none yet)."""
    if last is None:
        return 0, False
    if id <= last:
        return 0, True
    return id - last - 1, False


def resumable(error: Error, *, auth_retry: bool) -> bool:
    """Whether a subscription that failed with `error` is re-opened.

    Args:
        error: The failure.
        auth_retry: The client has `auth` and still tries: it was not refused for good.
    """
    if error.code == Code.UNAVAILABLE:
        return True
    if error.code == Code.UNAUTHENTICATED and auth_retry and isinstance(error.data, dict):
        return error.data.get("close_code") == 4401
    return False


def _event(message: Any, last: int | None, decode: Any) -> SubscriptionEvent[Any]:
    if not isinstance(message, dict) or type(message.get("id")) is not int or "value" not in message:
        raise Error(Code.INTERNAL, f"not an event of a resumable stream: {message!r:.80}")
    id: int = message["id"]
    value = message["value"]
    if decode is not None:
        try:
            value = msgspec.convert(value, decode, strict=False)
        except msgspec.ValidationError as exc:
            raise Error(Code.INTERNAL, f"event {id} does not fit value_type: {exc}") from None
    missed, restarted = gap(last, id)
    return SubscriptionEvent(id, value, missed, restarted)


async def subscribe(
    client: Client,
    rpc: str,
    after: int | None,
    value_type: Any,
    metadata: Mapping[str, Any] | None,
    window: int | _Unset | None,
) -> AsyncIterator[SubscriptionEvent[Any]]:
    """The iterator behind `Client.subscribe` (see there, and the rules above)."""
    last = after
    attempt = 0
    while True:
        call = client.stream(rpc, last, metadata=metadata, timeout=None, window=window)
        try:
            async for message in call:
                event = _event(message, last, value_type)
                last = event.id
                attempt = 0
                yield event
            return
        except Error as error:
            if not resumable(error, auth_retry=client.auth is not None and client._refused is None):
                raise
        finally:
            call.cancel()
        attempt += 1
        await asyncio.sleep(client.backoff(attempt))
