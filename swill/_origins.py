"""Which browser pages may open a connection: the `Origin` check (docs/protocol.md, "Malformed
frames, limits and refusals").

Rules:

1. A handshake without `Origin` (not a browser) is never refused for its origin.
2. A same-origin handshake (its `Origin` names the `Host` it was sent to, over http or https) is
   always accepted, whatever `allowed_origins` says: the app's own playground keeps working.
3. `allowed_origins=["*"]` accepts any origin; a list accepts the origins it names, exactly.
4. Local development (`local_origins`): a page on `http://localhost:<any port>` (or 127.0.0.1,
   [::1]) is accepted when the handshake was sent to a loopback `Host` too. A browser that talks
   to a deployed server sends that server's name as `Host`, never a loopback one, so this rule
   accepts nothing there even when it is left on.

A refusal is a sentence for the developer who opens the browser console: it names the origin and
the setting to change, and fits in a close frame's reason (123 bytes).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Final
from urllib.parse import urlsplit

__all__ = ["DEV_ENVIRONMENT", "local_origins_from_environment", "origin_refusal"]

DEV_ENVIRONMENT: Final = "SWILL_DEV"
"""The environment variable `swill run --dev` sets to `1` for the app it serves."""

_LOOPBACK: Final = frozenset({"localhost", "127.0.0.1", "::1"})
_LONGEST_ORIGIN: Final = 40  # leaves room for the rest of the sentence in 123 bytes


def local_origins_from_environment() -> bool:
    """Whether `swill run --dev` asked for local development origins."""
    return os.environ.get(DEV_ENVIRONMENT) == "1"


def origin_refusal(
    origin: str | None, host: str | None, allowed: Sequence[str] | None, *, local: bool = False
) -> str | None:
    """Why a handshake's `Origin` is refused, or `None` when it is allowed.

    Args:
        origin: The handshake's `Origin` header, if any.
        host: The handshake's `Host` header, if any.
        allowed: The app's `allowed_origins`.
        local: Accept loopback pages on any port when `host` is loopback too (`local_origins`).

    Returns:
        `None`, or the reason for the close frame, naming the origin and the setting to change.
    """
    if origin is None or _same_origin(origin, host):
        return None
    if allowed is not None and ("*" in allowed or origin in allowed):
        return None
    if local and _is_loopback_page(origin) and _is_loopback_host(host):
        return None
    shown = origin if len(origin) <= _LONGEST_ORIGIN else origin[: _LONGEST_ORIGIN - 1] + "…"
    if _is_loopback_page(origin) and _is_loopback_host(host):
        return f"origin {shown} is not allowed: serve with `swill run --dev` or add it to allowed_origins"
    return f"origin {shown} is not allowed: add it to Swill(allowed_origins=[...])"


def _same_origin(origin: str, host: str | None) -> bool:
    if host is None:
        return False
    parts = urlsplit(origin)
    return parts.scheme in ("http", "https") and parts.netloc.lower() == host.lower()


def _hostname(netloc: str) -> str:
    """The host of `host[:port]`, `[v6]:port` unbracketed, lower case."""
    if netloc.startswith("["):
        return netloc[1:].partition("]")[0].lower()
    return netloc.rpartition(":")[0].lower() if ":" in netloc else netloc.lower()


def _is_loopback_page(origin: str) -> bool:
    parts = urlsplit(origin)
    return parts.scheme in ("http", "https") and _hostname(parts.netloc) in _LOOPBACK


def _is_loopback_host(host: str | None) -> bool:
    return host is not None and _hostname(host) in _LOOPBACK
