"""The gateway app: the one entry point in front of the four services."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import RedirectResponse

from common.app import create_service_app
from common.clock import Clock
from gateway.config import Settings
from gateway.proxy import proxy_router, upstream_client

DESCRIPTION = (
    "统一入口 — the one entry point of the medical-insurance platform. Routes `/enrollment/*`, "
    "`/settlement/*`, `/pricing/*` and `/fraud/*` to the services."
)


def create_app(settings: Settings | None = None, *, clock: Clock | None = None) -> FastAPI:
    """The gateway as an ASGI app (uvicorn's factory)."""
    settings = settings or Settings()
    app = create_service_app(
        settings=settings,
        title="医保平台 Medical-insurance platform",
        description=DESCRIPTION,
        routers=[proxy_router(list(settings.upstreams()))],
        clock=clock,
        resources=[upstream_client],
        with_dead_letters=False,
    )

    @app.get("/", include_in_schema=False)
    async def root() -> RedirectResponse:
        return RedirectResponse("/docs")

    return app
