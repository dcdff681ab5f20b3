"""docs/protocol.md's walkthrough, run by examples/raw_client.py against the quickstart app."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from examples import quickstart, raw_client


async def test_raw_client_sees_the_frames_the_page_shows(
    serve: Callable[..., str], capsys: pytest.CaptureFixture[str]
) -> None:
    frames = await raw_client.main(serve(quickstart.app))
    hello, *rest = frames
    assert hello[:2] == [8, 0]
    assert {"version", "max_message_size", "max_concurrent_calls", "client_window", "server"} <= set(hello[2])
    assert hello[2]["version"] == 1
    assert rest == [[6, 1, 3, None, None], [1, 3, 0], [1, 3, 1], [1, 3, 2], [3, 3, None]]
    printed = capsys.readouterr().out.splitlines()
    assert printed[1] == "c→s [0, 1, 'add', None, None, [1, 2]]"
