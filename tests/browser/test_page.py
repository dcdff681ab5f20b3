"""What the server sends for the playground: the page, its assets, and what ships in the wheel."""

from __future__ import annotations

import re
import subprocess
import sys
import zipfile
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

import swill
from swill.playground import CONTENT_SECURITY_POLICY, MEDIA_TYPES

REPO = Path(__file__).parents[2]
PACKAGE = REPO / "swill" / "playground"
STATIC = PACKAGE / "static"


def app(*, playground: bool = True) -> swill.Swill:
    rpc = swill.Swill(__name__, playground=playground)

    @rpc.handle()
    async def add(request: swill.Request[tuple[int, int]]) -> int:
        return request.data[0] + request.data[1]

    return rpc


def client(asgi: object, root_path: str = "") -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=asgi, root_path=root_path)  # type: ignore[arg-type]
    return httpx.AsyncClient(transport=transport, base_url="http://test")


def links(html: str) -> list[str]:
    return [link for link in re.findall(r'(?:href|src)="([^"]+)"', html) if not link.startswith("#")]


async def test_the_page_links_its_assets_and_endpoint() -> None:
    async with client(app()) as http:
        page = await http.get("/swill")
        assert page.status_code == 200
        assert page.headers["content-type"] == "text/html; charset=utf-8"
        assert page.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        assert 'data-ws-path="/ws"' in page.text
        assert "{{" not in page.text
        for link in links(page.text):
            asset = await http.get(link)
            assert asset.status_code == 200, link
            assert asset.headers["content-type"] in MEDIA_TYPES.values()


async def test_nothing_comes_from_elsewhere() -> None:
    """No CDN, no web font: every link in the page and in the assets is relative to the server."""
    async with client(app()) as http:
        page = await http.get("/swill")
    assert all(link.startswith("/swill/assets/") for link in links(page.text))
    for path in STATIC.iterdir():
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"""(?:url\(|import\s*\(?|from\s+)\s*["']?(?:https?:)?//""", text), path.name
        assert "@import" not in text and "@font-face" not in text, path.name
    assert "default-src 'none'" in CONTENT_SECURITY_POLICY


async def test_under_a_mount_prefix_links_and_endpoint_carry_it() -> None:
    host = Starlette(routes=[Mount("/api", app=app())])
    async with client(host) as http:
        page = await http.get("/api/swill")
        assert page.status_code == 200
        assert 'data-ws-path="/api/ws"' in page.text
        assert 'data-root="/api"' in page.text
        for link in links(page.text):
            assert link.startswith("/api/swill/assets/"), link
            assert (await http.get(link)).status_code == 200, link


async def test_a_proxy_root_path_is_escaped_into_the_page() -> None:
    async with client(app(), root_path='/a"b<c') as http:
        page = await http.get("/swill")
    assert 'data-ws-path="/a&quot;b&lt;c/ws"' in page.text
    assert '/a"b' not in page.text


async def test_playground_false_removes_the_route() -> None:
    async with client(app(playground=False)) as http:
        assert (await http.get("/swill")).status_code == 404
        assert (await http.get("/swill/assets/playground.js")).status_code == 404


@pytest.mark.parametrize("name", ["nope.js", "..%2F__init__.py", "index.html", "%2E%2E"])
async def test_only_the_assets_are_served(name: str) -> None:
    async with client(app()) as http:
        assert (await http.get(f"/swill/assets/{name}")).status_code == 404


async def test_assets_are_revalidated_by_etag() -> None:
    async with client(app()) as http:
        first = await http.get("/swill/assets/playground.js")
        assert first.headers["cache-control"] == "no-cache"
        assert first.headers["x-content-type-options"] == "nosniff"
        again = await http.get("/swill/assets/playground.js", headers={"If-None-Match": first.headers["etag"]})
        assert again.status_code == 304
        assert again.content == b""
        stale = await http.get("/swill/assets/playground.js", headers={"If-None-Match": '"stale"'})
        assert stale.status_code == 200
        assert stale.content == first.content


def test_every_module_import_is_an_asset() -> None:
    """The page's modules import one another by relative path; each target must be served."""
    served = {path.name for path in STATIC.iterdir() if path.suffix in MEDIA_TYPES}
    for path in STATIC.glob("*.js"):
        for target in re.findall(r'^(?:import|export)\b[^;]*?from\s+"([^"]+)"', path.read_text(), re.MULTILINE):
            assert target.startswith("./") and target[2:] in served, f"{path.name} imports {target}"


def test_the_committed_client_bundle_is_up_to_date() -> None:
    """static/client.js is what scripts/build-playground makes of clients/typescript/src now."""
    result = subprocess.run(
        ["scripts/build-playground", "--check"], cwd=REPO, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_wheel_serves_the_page(tmp_path: Path) -> None:
    """`pip install swill` alone serves the playground: the wheel holds the page and its assets."""
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path), "."],
        cwd=REPO,
        check=True,
        capture_output=True,
        timeout=300,
    )
    [wheel] = tmp_path.glob("swill-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        archive.extractall(tmp_path / "site")
    expected = {"swill/playground/index.html"} | {f"swill/playground/static/{p.name}" for p in STATIC.iterdir()}
    assert expected <= names
    # Serve the page from the unpacked wheel, in a fresh interpreter that imports swill from there.
    script = """
import asyncio, sys, httpx, swill
assert swill.__file__.startswith(sys.argv[1]), swill.__file__
async def main():
    transport = httpx.ASGITransport(app=swill.Swill())
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        page = await http.get("/swill")
        assert page.status_code == 200
        for name in ("playground.js", "client.js", "playground.css", "favicon.svg"):
            assert (await http.get("/swill/assets/" + name)).status_code == 200, name
asyncio.run(main())
"""
    site = str(tmp_path / "site")
    result = subprocess.run(
        [sys.executable, "-c", f"import sys; sys.path.insert(0, sys.argv[1]); exec({script!r})", site],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
