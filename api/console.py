"""The web console: serves the built single-page app (console/dist) at `/` with its security headers, and the
console's read-only settings endpoint."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse, HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel
from starlette.types import Scope

from api.deps import CurrentUser, SettingsDep

CONSOLE_DIST = Path(__file__).resolve().parent.parent / "console" / "dist"
CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    # Mantine writes its theme variables into <style> elements and components set style attributes.
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "font-src 'self' data:",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}
NOT_BUILT = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Console not built</title></head>
<body><h1>The console is not built</h1><p><code>make run</code> builds it (console/dist); the API is at
<a href="/docs">/docs</a>.</p></body></html>"""

router = APIRouter(prefix="/console", tags=["console"])


class ConsoleConfig(BaseModel):
    temporal_ui_url: str
    namespace: str


@router.get("/config", response_model=ConsoleConfig)
async def console_config(_: CurrentUser, settings: SettingsDep) -> ConsoleConfig:
    """Where the console links scans and remediations to their workflows."""
    return ConsoleConfig(temporal_ui_url=settings.temporal_ui_url.rstrip("/"), namespace=settings.temporal_namespace)


class ConsoleAssets(StaticFiles):
    """Hashed build assets: cached for a year, with the console's security headers."""

    async def check_config(self) -> None:
        """No build yet: answer 404 for assets instead of failing the request."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        response.headers.update(SECURITY_HEADERS)
        if response.status_code == 200:
            response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
        return response


def install_console(app: FastAPI, api_prefix: str = "/api/v1", dist: Path = CONSOLE_DIST) -> None:
    """Mount the console at `/` (deep links under /compliance, /vulnerabilities and /login answer index.html),
    after the API routes, so nothing under the API prefix, /docs, /openapi.json, /healthz or /readyz is shadowed."""
    app.include_router(router, prefix=api_prefix)
    index = dist / "index.html"

    def page() -> Response:
        if not index.is_file():
            return HTMLResponse(NOT_BUILT, status_code=503, headers=SECURITY_HEADERS)
        return FileResponse(index, headers=SECURITY_HEADERS | {"Cache-Control": "no-cache"})

    for path in ("/", "/login", "/compliance", "/compliance/{rest:path}", "/vulnerabilities",
                 "/vulnerabilities/{rest:path}"):
        app.add_api_route(path, page, methods=["GET"], include_in_schema=False)
    # Mounted even before the first build, so a console built while the API runs is served without a restart.
    app.mount("/assets", ConsoleAssets(directory=dist / "assets", check_dir=False), name="console-assets")

