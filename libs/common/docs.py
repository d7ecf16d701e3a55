"""The API docs pages, Swagger UI at /docs and ReDoc at /redoc, with every asset served by the app itself."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS = "/docs/assets"
# The bureau's network reaches no CDN: Swagger UI and ReDoc come from the installed
# fastapi-standalone-docs wheel (static/swagger, static/redoc, static/fastapi).
_PACKAGE = "fastapi_standalone_docs"


def assets_directory() -> Path:
    """Where the installed package keeps the Swagger UI and ReDoc files (found without importing it)."""
    spec = importlib.util.find_spec(_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"{_PACKAGE} is not installed: the API docs would have no scripts to load")
    return Path(spec.submodule_search_locations[0]) / "static"


def install_docs(app: FastAPI, *, title: str, openapi_url: str = "/openapi.json") -> None:
    """Serve /docs and /redoc and their assets; no URL on either page leaves this server."""
    directory = assets_directory()
    app.mount(ASSETS, StaticFiles(directory=directory), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=f"{root}{openapi_url}",
            title=title,
            swagger_js_url=f"{root}{ASSETS}/swagger/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS}/swagger/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS}/fastapi/favicon.png",
            # Swagger UI sends the document to validator.swagger.io for its badge unless the host is local.
            swagger_ui_parameters={"validatorUrl": None},
        )

    @app.get("/redoc", include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_redoc_html(
            openapi_url=f"{root}{openapi_url}",
            title=title,
            redoc_js_url=f"{root}{ASSETS}/redoc/redoc.standalone.js",
            redoc_favicon_url=f"{root}{ASSETS}/fastapi/favicon.png",
            with_google_fonts=False,
        )

    # The package's ReDoc build asks for its logo at <page path>/logo-mini.svg instead of its CDN.
    logo = directory / "redoc" / "logo-mini.svg"

    @app.get("/redoc/logo-mini.svg", include_in_schema=False)
    async def redoc_logo() -> FileResponse:
        return FileResponse(logo, media_type="image/svg+xml")
