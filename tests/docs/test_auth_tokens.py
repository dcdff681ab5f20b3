"""examples/auth_tokens.py and the AUTH recipe in docs/security.md, with the Python client."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable, Iterator

import pytest

import swill
from examples import auth_tokens
from examples.auth_tokens import issue, verify

from .conftest import run_python_block


@pytest.fixture
def url(serve: Callable[..., str]) -> str:
    return serve(auth_tokens.app)


def tokens(*made: str) -> Callable[[], dict[str, str]]:
    """An `auth` function that hands out `made` in turn, then the last one again."""
    items: Iterator[str] = iter(made)
    last = [made[0]]

    def auth() -> dict[str, str]:
        last[0] = next(items, last[0])
        return {"token": last[0]}

    return auth


def test_tokens_are_signed_and_expire() -> None:
    assert verify(issue("ada", 60))["sub"] == "ada"
    with pytest.raises(swill.Error, match="token expired"):
        verify(issue("ada", -1))
    header, claims, _ = issue("ada", 60).split(".")
    forged = f"{header}.{issue('eve', 60).split('.')[1]}.{issue('ada', 60).split('.')[2]}"
    for bad in (forged, f"{header}.{claims}", "not a token", None):
        with pytest.raises(swill.Error, match="invalid token"):
            verify(bad)


async def test_the_recipe_snippet_calls_as_the_token_s_user(url: str) -> None:
    class Session:
        def access_token(self) -> str:
            return issue("ada", 60)

    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        replace = {"wss://api.example.com/ws": url}
        await run_python_block("security.md", "auth=lambda", replace=replace, swill=swill, session=Session())
    assert printed.getvalue() == "ada\n"


async def test_an_expired_token_gets_one_refresh(url: str) -> None:
    async with swill.Client(url, auth=tokens(issue("ada", -1), issue("ada", 60))) as client:
        with pytest.raises(swill.Error) as refused:
            await client.call("whoami")
        assert refused.value.code == swill.Code.UNAUTHENTICATED
        assert "token expired" in refused.value.message
        assert await client.call("whoami") == "ada"


async def test_a_refresh_that_is_refused_too_stops_the_client(url: str) -> None:
    async with swill.Client(url, auth=tokens(issue("ada", -1), "revoked")) as client:
        for message in ("token expired", "invalid token", "invalid token"):
            with pytest.raises(swill.Error) as refused:
                await client.call("whoami")
            assert refused.value.code == swill.Code.UNAUTHENTICATED
            assert message in refused.value.message


async def test_a_fresh_token_renews_the_connection(url: str) -> None:
    async with swill.Client(url, auth=tokens(issue("ada", 60), issue("bob", 60))) as client:
        assert await client.call("whoami") == "ada"
        await client.reauthenticate()
        assert await client.call("whoami") == "bob"
