"""A streamed request's messages on their way from the connection's receive loop to the handler.

Rules:

1. Bounded by the client's credit, which the sans-I/O core checks (one check, there): at most
   `client_window` messages wait, since credit is granted only as the handler takes them.
2. A message is decoded when it arrives, not when the handler takes it, so that an invalid one
   fails its call at once, however busy the handler is (DESIGN.md, "Validation error data").
   Until the call's opening hooks have run (`start`), arrivals wait undecoded: hooks run in time
   order. A call with a before_request_data chain (which may await, and rewrite the bytes) takes
   them as they came instead (`take_raw`) and decodes each as the handler takes it.
3. The receive loop never waits here: `put` and `end` are plain calls.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from typing import Any

import msgspec

from ._errors import Error

__all__ = ["Incoming"]


class Incoming:
    """The messages of one streamed request."""

    __slots__ = ("_changed", "_decode", "_ended", "_raw", "_ready")

    def __init__(self) -> None:
        self._raw: deque[msgspec.Raw] = deque()  # not decoded yet
        self._ready: deque[Any] = deque()  # decoded, for the handler
        self._decode: Callable[[msgspec.Raw], Any] | None = None
        self._ended = False
        self._changed: asyncio.Event | None = None

    # From the receive loop.

    def put(self, data: msgspec.Raw) -> Error | None:
        """A message arrived. Returns the error that ends the call, if it does."""
        if self._decode is None:
            self._raw.append(data)
        else:
            try:
                self._ready.append(self._decode(data))
            except Error as error:
                return error
        self._wake()
        return None

    def end(self) -> None:
        """The client ended its stream."""
        self._ended = True
        self._wake()

    # From the call.

    def start(self, decode: Callable[[msgspec.Raw], Any]) -> None:
        """Decode from now on as messages arrive, and the ones that came before now.

        Raises:
            Error: A message that came before is invalid.
        """
        self._decode = decode
        while self._raw:
            self._ready.append(decode(self._raw.popleft()))
        self._wake()

    async def take_raw(self) -> msgspec.Raw:
        """The next message as it came, for a call that decodes as the handler takes them.

        Raises:
            StopAsyncIteration: The stream ended.
        """
        while not self._raw:
            if self._ended:
                raise StopAsyncIteration
            await self._wait()
        return self._raw.popleft()

    async def get(self) -> Any:
        """The next decoded message, for the handler.

        Raises:
            StopAsyncIteration: The stream ended.
        """
        while not self._ready:
            if self._ended and not self._raw:
                raise StopAsyncIteration
            await self._wait()
        return self._ready.popleft()

    def close(self) -> None:
        """The call is over: drop what is left."""
        self._raw.clear()
        self._ready.clear()
        self.end()

    async def _wait(self) -> None:
        if self._changed is None:
            self._changed = asyncio.Event()
        await self._changed.wait()

    def _wake(self) -> None:
        if self._changed is not None:
            self._changed.set()
            self._changed = None
