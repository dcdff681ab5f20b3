"""Lifecycle hook chains.

Each app and router keeps its own lists (never class attributes). A chain runs its functions in
registration order, sync or async; a function that returns something other than `None` replaces
the value the next one receives. For a router's handler the chains are joined once, app first,
then routers outer to inner, into a `RouteHooks` of tuples: an empty tuple costs nothing.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from typing import Any, TypeVar

__all__ = [
    "CONNECTION_HOOKS",
    "REQUEST_HOOKS",
    "ConnectionHooks",
    "HookRegistry",
    "RouteHooks",
    "run_chain",
    "run_each",
    "run_hooks",
]

logger = logging.getLogger("swill")

F = TypeVar("F", bound=Callable[..., Any])

REQUEST_HOOKS = (
    "before_request",
    "before_request_metadata",
    "before_request_data",
    "before_request_message",
    "before_leading_metadata",
    "before_response_message",
    "before_trailing_metadata",
    "after_request",
)
CONNECTION_HOOKS = ("before_connection", "before_accept", "after_connection")

Hook = Callable[..., Any]


@dataclass(frozen=True, slots=True)
class RouteHooks:
    """The request chains that apply to one handler, joined across app and routers."""

    before_request: tuple[Hook, ...] = ()
    before_request_metadata: tuple[Hook, ...] = ()
    before_request_data: tuple[Hook, ...] = ()
    before_request_message: tuple[Hook, ...] = ()
    before_leading_metadata: tuple[Hook, ...] = ()
    before_response_message: tuple[Hook, ...] = ()
    before_trailing_metadata: tuple[Hook, ...] = ()
    after_request: tuple[Hook, ...] = ()

    @classmethod
    def join(cls, registries: Sequence[HookRegistry]) -> RouteHooks:
        return cls(**{f.name: tuple(h for r in registries for h in r.hooks[f.name]) for f in fields(cls)})


@dataclass(frozen=True, slots=True)
class ConnectionHooks:
    before_connection: tuple[Hook, ...] = ()
    before_accept: tuple[Hook, ...] = ()
    authenticate: tuple[Hook, ...] = ()
    after_connection: tuple[Hook, ...] = ()


class HookRegistry:
    """The decorators that register request hooks; mixed into `Swill` and `Router`."""

    _hook_names: tuple[str, ...] = REQUEST_HOOKS

    def __init__(self) -> None:
        self.hooks: dict[str, list[Hook]] = {name: [] for name in self._hook_names}

    def _add_hook(self, name: str, fn: F) -> F:
        if not callable(fn):
            raise TypeError(f"{name} takes a function, got {fn!r}")
        self.hooks[name].append(fn)
        self._hooks_changed()
        return fn

    def _hooks_changed(self) -> None:
        """Called when a hook is added; the app drops what it compiled."""

    def before_request(self, fn: F) -> F:
        """Run `fn(request)` when a REQUEST opened a call, before the handler runs."""
        return self._add_hook("before_request", fn)

    def before_request_metadata(self, fn: F) -> F:
        """Run `fn(request, metadata)` on the call's client metadata; may return a replacement."""
        return self._add_hook("before_request_metadata", fn)

    def before_request_data(self, fn: F) -> F:
        """Run `fn(request, raw)` on each incoming `msgspec.Raw` value before it is decoded; may
        return a replacement (bytes or `Raw` to decode, or a Python value to convert)."""
        return self._add_hook("before_request_data", fn)

    def before_request_message(self, fn: F) -> F:
        """Run `fn(request, message)` on each decoded incoming message; may return a replacement."""
        return self._add_hook("before_request_message", fn)

    def before_leading_metadata(self, fn: F) -> F:
        """Run `fn(request, metadata)` just before leading metadata is sent; may return a replacement."""
        return self._add_hook("before_leading_metadata", fn)

    def before_response_message(self, fn: F) -> F:
        """Run `fn(request, message)` on each outgoing message before it is encoded; may replace it."""
        return self._add_hook("before_response_message", fn)

    def before_trailing_metadata(self, fn: F) -> F:
        """Run `fn(request, metadata)` just before trailing metadata is sent; may return a replacement."""
        return self._add_hook("before_trailing_metadata", fn)

    def after_request(self, fn: F) -> F:
        """Run `fn(request, error)` when the call ended, however it ended (`error` is `None` on success)."""
        return self._add_hook("after_request", fn)


async def run_chain(chain: tuple[Hook, ...], request: Any, value: Any) -> Any:
    """Run a chain that receives and may replace `value`; returns the final value."""
    for hook in chain:
        result = hook(request, value)
        if inspect.isawaitable(result):
            result = await result
        if result is not None:
            value = result
    return value


async def run_hooks(chain: tuple[Hook, ...], *args: Any) -> None:
    """Run a chain whose return values are ignored."""
    for hook in chain:
        result = hook(*args)
        if inspect.isawaitable(result):
            await result


async def run_each(name: str, chain: tuple[Hook, ...], *args: Any) -> None:
    """Run every function of a chain, even after one raised (each failure is logged): the
    `after_*` chains always run, so one failing function must not skip the others."""
    for hook in chain:
        try:
            result = hook(*args)
            if inspect.isawaitable(result):
                await result
        except Exception:
            logger.exception("%s hook %s failed on %r", name, getattr(hook, "__qualname__", hook), args[0])
