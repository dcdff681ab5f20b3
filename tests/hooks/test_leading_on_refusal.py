"""Leading metadata a unary call produced still goes out when a later hook refuses the call."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import websockets

import swill
from tests.conformance.conftest import RawClient
from tests.conftest import LiveServer


async def test_leading_metadata_precedes_a_refusal_error(live_server: Callable[..., LiveServer]) -> None:
    app = swill.Swill(__name__)

    @app.handle()
    async def greet(request: swill.Request[str], response: swill.Response) -> str:
        response.leading_metadata["greeter"] = "swill"
        return f"hello {request.data}"

    @app.before_response_message
    def refuse(request: swill.Request[Any], message: Any) -> None:
        raise swill.Error(swill.Code.PERMISSION_DENIED, "not for you")

    server = live_server(app)
    async with websockets.connect(server.url) as ws:
        client = RawClient(ws)
        assert (await client.recv())[0] == 8
        await client.send([0, 1, "greet", None, None, "ann"])
        assert await client.until_end(1) == [
            [2, 1, {"greeter": "swill"}],
            [5, 1, "PERMISSION_DENIED", "not for you", None, None],
        ]
