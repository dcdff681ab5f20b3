"""Declared errors: the errors an rpc may end with, each a name, a code and a typed detail.

```python
class Stock(msgspec.Struct):
    sku: str
    available: int

class OutOfStock(swill.DeclaredError[Stock], code=swill.Code.FAILED_PRECONDITION):
    \"\"\"Not enough of an item is in stock.\"\"\"

@app.handle(errors=[OutOfStock])
async def order(request: swill.Request[Order]) -> Receipt:
    raise OutOfStock(Stock(sku="a1", available=0))
```

Rules:

1. A declared error is a `swill.Error`: raising one ends the call with ERROR, its class's code,
   a message (given, or the class docstring's first line) and `data` =
   `{"error": <name>, "detail": <detail>}`. The name is the class name unless `name=` says
   otherwise; the envelope keeps the detail whole, whatever its type, and lets clients tell
   declared errors apart by `data.error` alone.
2. Declaring is what introspection, codegen and the playground see. The server sends whatever is
   raised: a declared error an rpc did not declare still goes out as it is, undeclared errors as
   before.
3. On the client side `OutOfStock.from_error(error)` gives the typed error back (its detail
   decoded into the declared type), or `None` when `error` is not one;
   `DeclaredError.narrowing(OutOfStock, ...)` does it for every error a block raises.
"""

from __future__ import annotations

import contextlib
import inspect
import typing
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, ClassVar, Generic, TypeVar

import msgspec

from ._errors import Code, Error

__all__ = ["DeclaredError", "check_declared"]

D = TypeVar("D")


class DeclaredError(Error, Generic[D]):
    """Base class of declared errors; subclass it with the detail type and a code.

    `class OutOfStock(swill.DeclaredError[Stock], code=swill.Code.FAILED_PRECONDITION)` declares
    an error named `OutOfStock` whose detail is a `Stock`; `name="..."` in the class line gives it
    another name. A subclass without a type argument has no detail (`None`).

    Args:
        detail: The error's typed payload, sent in `data["detail"]`.
        message: A message meant for people; defaults to the first line of the class docstring.
        metadata: Trailing metadata to send with the ERROR frame.
    """

    error_name: ClassVar[str]
    """The name the error travels under, in `data["error"]`."""
    error_code: ClassVar[Code]
    """The code every instance is sent with."""
    detail_type: ClassVar[Any] = None
    """The type of `detail`, for introspection and for `from_error`."""

    detail: D

    def __init_subclass__(cls, *, code: Code | str | None = None, name: str | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for base in getattr(cls, "__orig_bases__", ()):
            if typing.get_origin(base) is DeclaredError:
                (cls.detail_type,) = typing.get_args(base)
        if code is not None:
            cls.error_code = Code(code)
        elif not hasattr(cls, "error_code"):
            raise TypeError(f"declared error {cls.__name__} needs a code: class {cls.__name__}(..., code=Code.X)")
        cls.error_name = name or cls.__name__

    def __init__(
        self,
        detail: D = None,  # type: ignore[assignment]  # None for errors declared without a detail
        message: str | None = None,
        *,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        if not hasattr(type(self), "error_name"):
            raise TypeError("raise a subclass of DeclaredError, not DeclaredError itself")
        super().__init__(
            self.error_code,
            self.summary() if message is None else message,
            {"error": self.error_name, "detail": detail},
            metadata,
        )
        self.detail = detail

    @classmethod
    def summary(cls) -> str:
        """The first line of the class docstring, or the error's name."""
        doc = inspect.getdoc(cls) if cls.__doc__ else None
        return doc.strip().splitlines()[0] if doc else cls.error_name

    @classmethod
    def describe(cls) -> dict[str, Any]:
        """`{"name", "code", "doc"}` for the introspection document (without the schema)."""
        doc = inspect.getdoc(cls) if cls.__doc__ else None
        return {"name": cls.error_name, "code": cls.error_code.value, "doc": doc}

    @classmethod
    def from_error(cls, error: Error) -> typing.Self | None:
        """`error` as this declared error, its detail decoded, or `None` when it is not one.

        For clients: `swill.Error` arrives with `data` as plain values.

        Raises:
            msgspec.ValidationError: The error has this one's name and code, but its detail does
                not fit the declared type.
        """
        if isinstance(error, cls):
            return error
        data = error.data
        if error.code is not cls.error_code or not isinstance(data, Mapping) or data.get("error") != cls.error_name:
            return None
        detail: Any = data.get("detail")
        if cls.detail_type is not None:
            detail = msgspec.convert(detail, cls.detail_type, strict=False)
        return cls(detail, error.message, metadata=error.metadata)

    @staticmethod
    @contextlib.contextmanager
    def narrowing(*errors: type[DeclaredError[Any]]) -> Iterator[None]:
        """Within the block, a `swill.Error` that is one of `errors` is raised as that class.

        ```python
        with swill.DeclaredError.narrowing(OutOfStock, Closed):
            receipt = await client.call("order", order)
        ```

        Other errors go through as they are; the typed one has the original as its context.
        """
        try:
            yield
        except Error as error:
            for declared in errors:
                typed = declared.from_error(error)
                if typed is not None and typed is not error:
                    raise typed from error
            raise

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.detail!r}, {self.message!r})"


def check_declared(errors: Iterable[Any], where: str) -> tuple[type[DeclaredError[Any]], ...]:
    """The declared errors of a handler, checked: subclasses of `DeclaredError`, names unique.

    Raises:
        TypeError: An item is not a declared error class.
        ValueError: Two have the same name.
    """
    out: list[type[DeclaredError[Any]]] = []
    names: set[str] = set()
    for item in errors:
        if not (isinstance(item, type) and issubclass(item, DeclaredError) and item is not DeclaredError):
            raise TypeError(f"errors= of handler {where} takes subclasses of swill.DeclaredError, not {item!r}")
        if item.error_name in names:
            raise ValueError(f"handler {where} declares two errors named {item.error_name!r}")
        names.add(item.error_name)
        out.append(item)
    return tuple(out)
