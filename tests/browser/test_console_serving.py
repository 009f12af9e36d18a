"""api/console.py on its own: SPA fallback for deep links, security headers, hashed assets, and a clear 503 page
when the console is not built — without shadowing the API."""

from __future__ import annotations

from pathlib import Path

import httpx
from fastapi import FastAPI

from api.console import install_console


def app_with(dist: Path) -> httpx.AsyncClient:
    app = FastAPI()

    @app.get("/api/v1/ping")
    async def ping() -> dict:
        return {"pong": True}

    install_console(app, "/api/v1", dist=dist)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


async def test_deep_links_answer_the_app_with_its_security_headers(tmp_path: Path):
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text('<div id="root"></div><script type="module" src="/assets/app.js"></script>')
    (tmp_path / "assets" / "app.js").write_text("console.log('console')")
    async with app_with(tmp_path) as client:
        for path in ("/", "/login", "/compliance/dashboard", "/compliance/hosts", "/compliance/approvals"):
            page = await client.get(path)
            assert page.status_code == 200 and 'id="root"' in page.text, path
            assert "script-src 'self'" in page.headers["content-security-policy"]
            assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
            assert page.headers["x-content-type-options"] == "nosniff"
        asset = await client.get("/assets/app.js")
        assert asset.status_code == 200 and "immutable" in asset.headers["cache-control"]
        assert asset.headers["x-content-type-options"] == "nosniff"
        assert (await client.get("/api/v1/ping")).json() == {"pong": True}
        assert (await client.get("/api/v1/unknown")).status_code == 404
        assert (await client.get("/assets/missing.js")).status_code == 404


async def test_without_a_build_the_api_still_answers_and_the_console_says_so(tmp_path: Path):
    async with app_with(tmp_path / "missing") as client:
        page = await client.get("/compliance/dashboard")
        assert page.status_code == 503 and "console is not built" in page.text
        assert (await client.get("/assets/app.js")).status_code == 404
        assert (await client.get("/api/v1/ping")).json() == {"pong": True}
