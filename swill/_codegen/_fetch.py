"""Ask a live server for its introspection document."""

from __future__ import annotations

from typing import Any

import anyio

from .._introspect import INTROSPECT

__all__ = ["fetch_document"]


def fetch_document(url: str, *, timeout: float = 30.0) -> dict[str, Any]:
    """Call `swill.introspect` on the server at `url` and return the document.

    Raises:
        swill.Error: The call failed (`UNAVAILABLE` when the server can't be reached,
            `DEADLINE_EXCEEDED` after `timeout` seconds).
    """
    return anyio.run(_fetch, url, timeout)


async def _fetch(url: str, seconds: float) -> dict[str, Any]:
    from ..client import Client

    async with Client(url, timeout=seconds, connect_timeout=seconds) as client:
        document: dict[str, Any] = await client.call(INTROSPECT, None, response_type=dict[str, Any])
    return document
