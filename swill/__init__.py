"""Swill: RPC over one WebSocket for Python backends that talk to browsers."""

from __future__ import annotations

__version__ = "0.1.0"

from ._app import Router, Swill
from ._connection import Connection
from ._declared import DeclaredError
from ._errors import Code, Error
from ._integers import Int64, SafeInt
from ._request import Request, Response, StreamingRequest
from ._topics import Subscription, Topic, TopicEvent
from ._validation import ValidatedStruct, validator
from .client import Call, Client, SubscriptionEvent

__all__ = [
    "Call",
    "Client",
    "Code",
    "Connection",
    "DeclaredError",
    "Error",
    "Int64",
    "Request",
    "Response",
    "Router",
    "SafeInt",
    "StreamingRequest",
    "Subscription",
    "SubscriptionEvent",
    "Swill",
    "Topic",
    "TopicEvent",
    "ValidatedStruct",
    "__version__",
    "validator",
]
