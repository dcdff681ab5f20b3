"""Handler registration: a function's signature becomes a frozen `HandlerSpec`, once.

The kind of a handler comes from its annotations: the first parameter is `Request[T]` or
`StreamingRequest[T]`; a return annotation of `AsyncIterator[T]` / `AsyncGenerator[T, None]` (or
an async generator function) streams the response; a second parameter annotated `Response` gets
the response controls. A plain `def` runs in a worker thread (a `def` generator streams, each step
in a worker thread).
"""

from __future__ import annotations

import collections.abc
import inspect
import typing
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import Enum
from typing import Any, Final

from ._declared import DeclaredError, check_declared
from ._request import Request, Response, StreamingRequest
from ._validation import TypeCodec

__all__ = ["RESERVED_PREFIX", "HandlerSpec", "Invoke", "check_name", "spec_from_function"]

RESERVED_PREFIX: Final = "swill."

_STREAM_RETURNS: Final = {
    collections.abc.AsyncIterator,
    collections.abc.AsyncGenerator,
    collections.abc.AsyncIterable,
}
_SYNC_STREAM_RETURNS: Final = {
    collections.abc.Iterator,
    collections.abc.Generator,
    collections.abc.Iterable,
}


class Invoke(Enum):
    """How a handler is called."""

    ASYNC = "async"  # async def returning a value
    ASYNC_GEN = "async_gen"  # async generator
    ASYNC_ITER = "async_iter"  # async def returning an async iterator
    THREAD = "thread"  # def, run in a worker thread
    THREAD_GEN = "thread_gen"  # def generator, each step in a worker thread


@dataclass(frozen=True, slots=True)
class HandlerSpec:
    """Everything Swill needs to know about a handler, computed once at registration."""

    name: str
    endpoint: Callable[..., Any]
    doc: str | None
    request_stream: bool
    response_stream: bool
    request_type: Any
    response_type: Any
    request_codec: TypeCodec[Any]
    takes_response: bool
    invoke: Invoke
    builtin: bool = False
    errors: tuple[type[DeclaredError[Any]], ...] = ()

    @property
    def function_name(self) -> str:
        return f"{getattr(self.endpoint, '__module__', '?')}.{getattr(self.endpoint, '__qualname__', '?')}"


def check_name(name: str, *, builtin: bool = False) -> None:
    """Refuse names that can't be rpc names, and `swill.` names for user handlers."""
    if not name or not isinstance(name, str):
        raise ValueError(f"rpc name must be a non-empty string, got {name!r}")
    if not builtin and (name == "swill" or name.startswith(RESERVED_PREFIX)):
        raise ValueError(f"rpc names under {RESERVED_PREFIX!r} are reserved: {name!r}")


def spec_from_function(
    fn: Callable[..., Any], name: str, *, builtin: bool = False, errors: Iterable[Any] = ()
) -> HandlerSpec:
    """Read a handler's signature into a `HandlerSpec`.

    Raises:
        TypeError: The signature is not one Swill can call, or `errors` holds something that is
            not a declared error class.
        ValueError: Two declared errors have the same name.
    """
    check_name(name, builtin=builtin)
    where = getattr(fn, "__qualname__", repr(fn))
    try:
        hints = typing.get_type_hints(fn, include_extras=True)
    except Exception as exc:
        raise TypeError(f"can't resolve the annotations of handler {where}: {exc}") from exc
    params = list(inspect.signature(fn).parameters.values())
    if not params or params[0].kind not in (params[0].POSITIONAL_ONLY, params[0].POSITIONAL_OR_KEYWORD):
        raise TypeError(f"handler {where} must take the request as its first parameter")
    request_stream, request_type = _request_kind(hints.get(params[0].name), where)
    takes_response = _takes_response(params[1:], hints, where)
    invoke = _invoke(fn, hints.get("return"))
    response_stream, response_type = _response_kind(hints.get("return", Any), invoke)
    return HandlerSpec(
        name=name,
        endpoint=fn,
        doc=inspect.getdoc(fn),
        request_stream=request_stream,
        response_stream=response_stream,
        request_type=request_type,
        response_type=response_type,
        request_codec=TypeCodec(request_type),
        takes_response=takes_response,
        invoke=invoke,
        builtin=builtin,
        errors=check_declared(errors, where),
    )


def _request_kind(annotation: Any, where: str) -> tuple[bool, Any]:
    origin = typing.get_origin(annotation) or annotation
    args = typing.get_args(annotation)
    if origin is Request:
        return False, args[0] if args else Any
    if origin is StreamingRequest:
        return True, args[0] if args else Any
    raise TypeError(
        f"the first parameter of handler {where} must be annotated "
        f"swill.Request[T] or swill.StreamingRequest[T], not {annotation!r}"
    )


def _takes_response(params: list[inspect.Parameter], hints: dict[str, Any], where: str) -> bool:
    required = [p for p in params if p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    if not params:
        return False
    if hints.get(params[0].name) is Response and len(required) <= 1:
        return True
    if required:
        raise TypeError(f"handler {where} may take only the request and an optional `response: swill.Response`")
    return False


def _invoke(fn: Callable[..., Any], returns: Any) -> Invoke:
    if inspect.isasyncgenfunction(fn):
        return Invoke.ASYNC_GEN
    if inspect.iscoroutinefunction(fn):
        origin = typing.get_origin(returns)
        return Invoke.ASYNC_ITER if origin in _STREAM_RETURNS else Invoke.ASYNC
    if inspect.isgeneratorfunction(fn):
        return Invoke.THREAD_GEN
    return Invoke.THREAD


def _response_kind(returns: Any, invoke: Invoke) -> tuple[bool, Any]:
    origin = typing.get_origin(returns)
    args = typing.get_args(returns)
    item = args[0] if args else Any
    if invoke in (Invoke.ASYNC_GEN, Invoke.ASYNC_ITER):
        return True, item if origin in _STREAM_RETURNS else Any
    if invoke is Invoke.THREAD_GEN:
        return True, item if origin in _SYNC_STREAM_RETURNS else Any
    if returns is None or returns is type(None):
        return False, None
    return False, returns
