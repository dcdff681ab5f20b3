"""The Origin rules in headless Chromium (PROTOCOL.md section 6): the playground under a list of
origins, the playground behind a proxy that drops `Host` (refused, with its reason shown), and a
page on another port refused with its reason, then allowed by the list, then by development mode.

One browser launch runs `tests/browser/origins.mjs`, which asks the test to allow the page's
origin with a `@@ allow <origin>` line.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from starlette.applications import Starlette
from starlette.responses import FileResponse, HTMLResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

import swill

from ..conftest import LiveServer
from .test_playground import origin, run_scenario

HERE = Path(__file__).parent
CLIENT = HERE.parents[1] / "swill" / "playground" / "static" / "client.js"

PAGE = """<!doctype html>
<html><body><p id="result"></p>
<script type="module">
  import {{ Client }} from "./client.js";
  const result = document.getElementById("result");
  const client = new Client("ws://127.0.0.1:{port}/ws", {{ retries: 0 }});
  try {{
    result.textContent = String(await client.call("add", [1, 2]));
  }} catch (error) {{
    result.textContent = `${{error.code}}: ${{error.message}}`;
  }}
  client.close();
  result.dataset.done = "";
</script></body></html>
"""


def make_app() -> swill.Swill:
    app = swill.Swill(__name__, allowed_origins=["https://app.example.com"])

    @app.handle()
    async def add(request: swill.Request[tuple[int, int]]) -> int:
        """Add two numbers."""
        return request.data[0] + request.data[1]

    return app


def without_host(app: swill.Swill) -> Callable[[Scope, Receive, Send], object]:
    """`app` behind a proxy that sends its own `Host` on (the mistake docs/deployment.md warns of)."""

    async def proxy(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            headers = [(k, b"backend:8000" if k == b"host" else v) for k, v in scope["headers"]]
            scope = {**scope, "headers": headers}
        await app(scope, receive, send)

    return proxy


def foreign_site(app_port: int) -> Starlette:
    """A page on another port, as a frontend dev server would serve it."""
    html = PAGE.format(port=app_port)
    return Starlette(
        routes=[
            Route("/", lambda request: HTMLResponse(html)),
            Route("/client.js", lambda request: FileResponse(CLIENT, media_type="text/javascript")),
        ]
    )


def test_origins_in_the_browser(live_server: Callable[..., LiveServer]) -> None:
    app = make_app()
    server = live_server(app)
    proxied = live_server(without_host(make_app()))
    foreign = live_server(foreign_site(server.port))
    allowed: list[str] = []

    def handle(request: str) -> None:
        assert app.allowed_origins is not None
        if request == "serve for development":
            app.allowed_origins.remove(origin(foreign))
            app.local_origins = True
            allowed.append("local")
            return
        verb, _, page = request.partition(" ")
        assert verb == "allow" and page == origin(foreign), request
        app.allowed_origins.append(page)
        allowed.append(page)

    run_scenario(
        "origins",
        origin(server),
        handle,
        script=HERE / "origins.mjs",
        PROXIED_URL=origin(proxied),
        FOREIGN_URL=origin(foreign),
    )
    assert allowed == [origin(foreign), "local"]
