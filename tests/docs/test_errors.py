"""examples/errors.py and the frames docs/errors.md shows."""

from __future__ import annotations

from collections.abc import Callable

import pytest

import swill
from examples import errors

from .conftest import open_raw


@pytest.fixture(autouse=True)
def stock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(errors, "STOCK", dict(errors.STOCK))  # each test starts from the example's data


async def test_raising_an_error_with_data_and_metadata(serve: Callable[..., str]) -> None:
    async with open_raw(serve(errors.app)) as client:
        await client.send([0, 1, "get_user", None, None, 7])
        assert await client.until_end(1) == [[5, 1, "NOT_FOUND", "no user with id 7", {"id": 7}, {"retryable": False}]]
        await client.send([0, 2, "get_user", None, None, 1])
        assert await client.until_end(2) == [[6, 2, "ada", None, None]]


async def test_exception_handlers_along_the_mro(serve: Callable[..., str]) -> None:
    async with open_raw(serve(errors.app)) as client:
        await client.send([0, 1, "buy", None, None, {"item": "apple", "qty": 5}])
        assert await client.until_end(1) == [[5, 1, "FAILED_PRECONDITION", "only 3 apple left", {"left": 3}, None]]
        await client.send([0, 2, "buy", None, None, {"item": "pear", "qty": 1}])
        assert await client.until_end(2) == [[5, 2, "NOT_FOUND", "no such item: 'pear'", None, None]]
        await client.send([0, 3, "buy", None, None, {"item": "apple", "qty": 2}])
        assert await client.until_end(3) == [[6, 3, 1, None, None]]


async def test_a_declared_error_is_sent_with_its_name_and_detail(serve: Callable[..., str]) -> None:
    async with open_raw(serve(errors.app)) as client:
        await client.send([0, 1, "reserve", None, None, {"item": "apple", "qty": 5}])
        detail = {"error": "SoldOut", "detail": {"item": "apple", "left": 3}}
        assert await client.until_end(1) == [[5, 1, "FAILED_PRECONDITION", "only 3 apple left", detail, None]]
        await client.send([0, 2, "reserve", None, None, {"item": "apple", "qty": 2}])
        assert await client.until_end(2) == [[6, 2, 1, None, None]]
    async with swill.Client(serve(errors.app)) as typed:
        with pytest.raises(errors.SoldOut) as sold_out, swill.DeclaredError.narrowing(errors.SoldOut, errors.Closed):
            await typed.call("reserve", {"item": "pear", "qty": 1})
    assert sold_out.value.detail == errors.Shortage("pear", 0)


async def test_unmapped_exceptions_are_internal_and_logged(
    serve: Callable[..., str], caplog: pytest.LogCaptureFixture
) -> None:
    async with open_raw(serve(errors.app)) as client:
        await client.send([0, 1, "divide", None, None, [1, 0]])
        assert await client.until_end(1) == [[5, 1, "INTERNAL", "internal error", None, None]]
    [record] = [r for r in caplog.records if r.name == "swill" and r.exc_info]
    assert record.exc_info is not None and record.exc_info[0] is ZeroDivisionError


async def test_debug_sends_the_traceback(serve: Callable[..., str]) -> None:
    app = swill.Swill(debug=True)
    app.handle()(errors.divide)
    async with open_raw(serve(app)) as client:
        await client.send([0, 1, "divide", None, None, [1, 0]])
        [[_, _, code, message, data, _]] = await client.until_end(1)
    assert (code, message) == ("INTERNAL", "internal error")
    assert data["traceback"].startswith("Traceback (most recent call last):")
    assert "ZeroDivisionError" in data["traceback"]
