"""The observer seam: what the call path tells an observer (`swill.metrics`) about each call.

`Swill.observer` is `None` (nothing is told, at the cost of one attribute read per call) or an
object whose `call_ended(call, error, seconds, stats)` is called from each call's task, once,
(connections read `Swill.observer` when they open, so set it before serving),
after its final frame was written and `after_request` ran, just after the call stopped counting
against its connection's limits (it is no longer in `Swill.open_calls()`):

- `error` is `None` for a call that succeeded (a call whose connection went away may also end
  with `None`: `call.closed` is then true); `seconds` is its duration;
- `stats` its counts: messages in, messages out, bytes in, bytes out, seconds spent waiting for
  the client's credit (what `call.stats` gives while it is open).

There is no "started": a call that opened is open or has ended, so an observer counts the open
ones when it is read (`Swill.open_calls()`). The method runs on the event loop, in the call path:
it must be cheap and must not raise.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from ._call import ServerCall
    from ._errors import Error

__all__ = ["Observer"]


class Observer(Protocol):
    """What `Swill.observer` must have."""

    def call_ended(self, call: ServerCall, error: Error | None, seconds: float, stats: list[Any]) -> None:
        """A call ended, with `error` (or `None`), after `seconds`, having counted `stats`."""
