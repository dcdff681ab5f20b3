"""What a handler receives: `Request`, `StreamingRequest` and its `Response` controls."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from starlette.datastructures import State

if TYPE_CHECKING:
    from ._call import ServerCall
    from ._connection import Connection
    from ._responder import Responder

__all__ = ["Metadata", "Request", "Response", "StreamingRequest"]

T = TypeVar("T")


class _BaseRequest:
    __slots__ = ("_call", "_state", "connection", "deadline", "id", "metadata", "rpc")

    rpc: str
    """The rpc name the client called, e.g. `"users.get"`."""
    id: int
    """The call id, unique within the connection."""
    metadata: dict[str, Any]
    """The client metadata of the call (empty when there is none)."""
    connection: Connection
    """The connection the call came on."""
    deadline: float | None
    """When the call's deadline passes, in `time.monotonic()` seconds; `None` without one."""

    def __init__(self, call: ServerCall) -> None:
        self._call = call
        self.rpc = call.spec.name
        self.id = call.id
        self.metadata = call.metadata
        self.connection = call.link.connection
        self.deadline = call.deadline
        self._state: State | None = None

    @property
    def state(self) -> State:
        """A namespace for this call's own data, e.g. what a `before_request` hook found."""
        if self._state is None:
            self._state = State()
        return self._state

    @property
    def cancelled(self) -> bool:
        """True once the call was cancelled: by the client's CLOSE, a lost connection or its deadline."""
        return self._call.cancelled

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.rpc} id={self.id}>"


class Request(_BaseRequest, Generic[T]):
    """A call whose client sends a single message: `data`.

    Annotate a handler's first parameter with `Request[T]`; Swill decodes and validates `data`
    into `T` before the handler runs.
    """

    __slots__ = ("data",)

    data: T
    """The request message, decoded into `T`."""


class StreamingRequest(_BaseRequest, Generic[T], AsyncIterator[T]):
    """A call whose client sends a stream of messages: iterate it with `async for`.

    Each message is decoded and validated into `T` as the handler takes it; taking it is what
    grants the client credit to send more, so a slow handler slows down only its own client.
    """

    __slots__ = ()

    def __aiter__(self) -> StreamingRequest[T]:
        return self

    async def __anext__(self) -> T:
        message: T = await self._call.receive_message()
        return message


class Metadata(dict[str, Any]):
    """A metadata dict that refuses changes once it has been sent."""

    __slots__ = ("_sent",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._sent: str | None = None

    def seal(self, what: str) -> None:
        self._sent = what

    def _check(self) -> None:
        if self._sent is not None:
            raise RuntimeError(f"{self._sent} metadata was already sent; it can't change now")

    def __setitem__(self, key: str, value: Any) -> None:
        self._check()
        super().__setitem__(key, value)

    def __delitem__(self, key: str) -> None:
        self._check()
        super().__delitem__(key)

    def __ior__(self, other: Any) -> Metadata:  # type: ignore[override,misc]
        self._check()
        super().update(other)
        return self

    def update(self, *args: Any, **kwargs: Any) -> None:
        self._check()
        super().update(*args, **kwargs)

    def setdefault(self, key: str, default: Any = None) -> Any:
        self._check()
        return super().setdefault(key, default)

    def pop(self, key: str, *default: Any) -> Any:
        self._check()
        return super().pop(key, *default)

    def popitem(self) -> tuple[str, Any]:
        self._check()
        return super().popitem()

    def clear(self) -> None:
        self._check()
        super().clear()


class Response:
    """A handler's controls over what it sends besides messages.

    Declare a second parameter annotated `swill.Response` to get it.
    """

    __slots__ = ("_responder", "leading_metadata", "trailing_metadata")

    def __init__(self, responder: Responder) -> None:
        self._responder = responder
        self.leading_metadata: Metadata = Metadata()
        """Leading metadata: sent before the first message (or in RESPONSE for a single response)."""
        self.trailing_metadata: Metadata = Metadata()
        """Trailing metadata: sent with the frame that ends the call."""

    async def send_leading_metadata(self) -> None:
        """Send the leading metadata now, before the first message.

        Raises:
            RuntimeError: Leading metadata was already sent, or a message was.
        """
        await self._responder.send_leading_metadata(explicit=True)
