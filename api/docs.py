"""The interactive API docs (`/docs`), served with Swagger UI's own files from this app: no CDN at view time."""

from __future__ import annotations

from importlib import resources

from fastapi import FastAPI
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

# Swagger UI 5 (OpenAPI 3.1, which FastAPI writes), as shipped inside the fastapi-offline wheel.
SWAGGER_UI_FILES = resources.files("fastapi_offline") / "static"

ASSETS = "/docs/assets"

# The start-up script is a file of its own, not inline, so that the page's policy can say script-src 'self'.
INIT_JS = """window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: "%(openapi_url)s",
    dom_id: "#swagger-ui",
    deepLinking: true,
    showExtensions: true,
    showCommonExtensions: true,
    layout: "BaseLayout",
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
  });
});
"""

PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>%(title)s</title>
<link rel="stylesheet" href="%(assets)s/swagger-ui.css">
<link rel="icon" type="image/png" href="%(assets)s/favicon.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="%(assets)s/swagger-ui-bundle.js"></script>
<script src="/docs/init.js"></script>
</body>
</html>
"""


def install_docs(app: FastAPI) -> None:
    """Call on an app built with docs_url=None and redoc_url=None."""
    openapi_url = app.openapi_url or "/openapi.json"
    page = PAGE % {"title": f"{app.title} - API docs", "assets": ASSETS}
    init_js = INIT_JS % {"openapi_url": openapi_url}

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return HTMLResponse(page)

    @app.get("/docs/init.js", include_in_schema=False)
    async def docs_init() -> Response:
        return Response(init_js, media_type="application/javascript")

    app.mount(ASSETS, StaticFiles(directory=str(SWAGGER_UI_FILES)), name="docs-assets")
