"""Swill: RPC over one WebSocket for Python backends that talk to browsers."""

from __future__ import annotations

from ._errors import Code, Error

__all__ = ["Code", "Error"]
__version__ = "0.1.0"
