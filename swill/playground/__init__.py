"""The playground page served at `GET /swill`."""

from __future__ import annotations

from importlib import resources
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

if TYPE_CHECKING:
    from .._app import Swill

__all__ = ["routes"]


def routes(app: Swill) -> list[BaseRoute]:
    """The Starlette routes that serve the playground for `app`."""
    page = resources.files(__package__).joinpath("index.html").read_text(encoding="utf-8")

    async def playground(request: Request) -> Response:
        return HTMLResponse(page.replace("{{ws_path}}", app.path))

    return [Route("/swill", playground, methods=["GET"], name="swill_playground")]
