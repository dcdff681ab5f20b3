"""The playground page served at `GET /swill`, and its assets under `GET /swill/assets/<name>`.

Rules this module keeps:

1. Everything the page needs ships in this package (`index.html`, `static/`): no CDN, no web
   font, so `pip install swill` alone serves a page that works offline. A Content-Security-Policy
   header makes the browser refuse anything from elsewhere.
2. Links are built from the request's `root_path`, so the page works wherever the app is mounted
   (`Mount("/api", app=rpc)` serves `/api/swill` and connects to `/api/ws`).
3. The page talks to the app only through the TypeScript client (`static/client.js`, built by
   `scripts/build-playground`) and the `swill.introspect` rpc.
"""

from __future__ import annotations

import hashlib
import html
from importlib import resources
from importlib.resources.abc import Traversable
from typing import TYPE_CHECKING, Final, NamedTuple

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

if TYPE_CHECKING:
    from .._app import Swill

__all__ = ["CONTENT_SECURITY_POLICY", "Asset", "load_assets", "routes"]

MEDIA_TYPES: Final = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}

CONTENT_SECURITY_POLICY: Final = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self' ws: wss:",
        "base-uri 'none'",
        "form-action 'none'",
    ]
)


class Asset(NamedTuple):
    """A file the page loads: its bytes, media type and ETag."""

    body: bytes
    media_type: str
    etag: str


def load_assets(folder: Traversable) -> dict[str, Asset]:
    """The files of `folder` that the page may load, by name, read once."""
    assets = {}
    for item in folder.iterdir():
        suffix = "." + item.name.rpartition(".")[2]
        if item.is_file() and suffix in MEDIA_TYPES:
            body = item.read_bytes()
            etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
            assets[item.name] = Asset(body, MEDIA_TYPES[suffix], etag)
    return assets


def routes(app: Swill) -> list[BaseRoute]:
    """The Starlette routes that serve the playground for `app`.

    Args:
        app: The app whose endpoint the page connects to.

    Returns:
        `GET /swill` (the page) and `GET /swill/assets/{name}` (its scripts, styles and icon).
    """
    package = resources.files(__package__)
    page = (package / "index.html").read_text(encoding="utf-8")
    assets = load_assets(package / "static")
    version = hashlib.sha256(b"".join(asset.etag.encode() for asset in assets.values())).hexdigest()[:12]
    headers = {"Content-Security-Policy": CONTENT_SECURITY_POLICY, "Cache-Control": "no-cache"}

    async def playground(request: Request) -> Response:
        root = str(request.scope.get("root_path", "")).rstrip("/")
        values = {
            "root": root,
            "assets": f"{root}/swill/assets",
            "version": version,
            "ws_path": root + app.path,
            "title": app.import_name or "Swill",
        }
        text = page
        for key, value in values.items():
            text = text.replace("{{" + key + "}}", html.escape(value))
        return HTMLResponse(text, headers=headers)

    async def asset(request: Request) -> Response:
        found = assets.get(request.path_params["name"])
        if found is None:
            return Response("not found", status_code=404, media_type="text/plain")
        cache = {"ETag": found.etag, "Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}
        if request.headers.get("if-none-match") == found.etag:
            return Response(status_code=304, headers=cache)
        return Response(found.body, media_type=found.media_type, headers=cache)

    return [
        Route("/swill", playground, methods=["GET"], name="swill_playground"),
        Route("/swill/assets/{name}", asset, methods=["GET"], name="swill_playground_asset"),
    ]
