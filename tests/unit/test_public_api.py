"""The public names of DESIGN.md, exported explicitly."""

from __future__ import annotations

import swill
import swill.testing

DESIGN_NAMES = {
    "Swill",
    "Router",
    "Request",
    "StreamingRequest",
    "Response",
    "Error",
    "Code",
    "ValidatedStruct",
    "validator",
    "Client",
    "Call",
    "Connection",
    "Topic",
}


def test_all_lists_exactly_the_public_names() -> None:
    public = {name for name in vars(swill) if not name.startswith("_")}
    modules = {name for name in public if type(getattr(swill, name)).__name__ == "module"} | {"annotations"}
    assert set(swill.__all__) - {"__version__"} == public - modules
    names = [name for name in swill.__all__ if not name.startswith("_")]
    assert names == sorted(names, key=str.lower)


def test_design_names_are_exported() -> None:
    assert DESIGN_NAMES <= set(swill.__all__)
    assert swill.testing.TestClient.__name__ == "TestClient"


def test_codes_are_the_canonical_grpc_names() -> None:
    assert [code.value for code in swill.Code] == [
        "CANCELLED",
        "UNKNOWN",
        "INVALID_ARGUMENT",
        "DEADLINE_EXCEEDED",
        "NOT_FOUND",
        "ALREADY_EXISTS",
        "PERMISSION_DENIED",
        "RESOURCE_EXHAUSTED",
        "FAILED_PRECONDITION",
        "ABORTED",
        "OUT_OF_RANGE",
        "UNIMPLEMENTED",
        "INTERNAL",
        "UNAVAILABLE",
        "DATA_LOSS",
        "UNAUTHENTICATED",
    ]
    assert isinstance(swill.Code.NOT_FOUND, str)
