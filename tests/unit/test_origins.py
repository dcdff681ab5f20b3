"""The Origin rules (PROTOCOL.md section 6, swill/_origins.py): which pages may connect."""

from __future__ import annotations

import pytest

from swill._origins import origin_refusal

SETTING = "add it to Swill(allowed_origins=[...])"


@pytest.mark.parametrize(
    ("host", "origin", "accepted"),
    [
        ("app.example.com", "https://app.example.com", True),
        ("App.Example.com", "https://app.example.com", True),  # host names are case-insensitive
        ("app.example.com:8443", "https://app.example.com:8443", True),
        ("app.example.com", "https://app.example.com:8443", False),
        ("app.example.com", "ftp://app.example.com", False),
        ("app.example.com", "https://other.example.com", False),
        (None, "https://app.example.com", False),  # no Host: nothing to be the same as
    ],
)
def test_same_origin_is_decided_by_the_host_header(host: str | None, origin: str, accepted: bool) -> None:
    refusal = origin_refusal(origin, host, None)
    assert (refusal is None) == accepted
    if not accepted:
        assert refusal == f"origin {origin} is not allowed: {SETTING}"


def test_same_origin_is_accepted_whatever_the_list_says() -> None:
    assert origin_refusal("http://127.0.0.1:8000", "127.0.0.1:8000", ["https://app.example.com"]) is None
    assert origin_refusal("http://127.0.0.1:8000", "127.0.0.1:8000", []) is None


def test_a_list_names_origins_exactly() -> None:
    allowed = ["https://app.example.com"]
    assert origin_refusal("https://app.example.com", "api.example.com", allowed) is None
    assert origin_refusal("http://app.example.com", "api.example.com", allowed) is not None
    assert origin_refusal("https://app.example.com.evil.example", "api.example.com", allowed) is not None
    assert origin_refusal("null", "api.example.com", ["*"]) is None
    assert origin_refusal(None, "api.example.com", []) is None  # not a browser


@pytest.mark.parametrize("origin", ["http://localhost:5173", "http://127.0.0.1:3000", "http://[::1]:8080"])
@pytest.mark.parametrize("host", ["localhost:8000", "127.0.0.1:8000", "[::1]:8000", "LOCALHOST:8000"])
def test_local_origins_accept_loopback_pages_on_a_loopback_host(origin: str, host: str) -> None:
    assert origin_refusal(origin, host, None, local=True) is None
    refusal = origin_refusal(origin, host, None)
    assert refusal == f"origin {origin} is not allowed: serve with `swill run --dev` or add it to allowed_origins"


@pytest.mark.parametrize(
    ("origin", "host"),
    [
        ("http://localhost:5173", "api.example.com"),  # a deployed server: its Host is its name
        ("http://localhost:5173", "10.0.0.7:8000"),
        ("http://localhost.evil.example:5173", "localhost:8000"),
        ("https://evil.example", "localhost:8000"),
        ("null", "localhost:8000"),
    ],
)
def test_local_origins_accept_nothing_else(origin: str, host: str) -> None:
    assert origin_refusal(origin, host, None, local=True) is not None


def test_a_refusal_fits_in_a_close_frame() -> None:
    for origin in ("https://" + "a" * 300 + ".example", "http://localhost:" + "9" * 200):
        refusal = origin_refusal(origin, "localhost:8000", None)
        assert refusal is not None
        assert len(refusal.encode()) <= 123
        assert "allowed_origins" in refusal
