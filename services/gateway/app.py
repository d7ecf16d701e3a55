"""The gateway app: the one entry point in front of the four services."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.responses import RedirectResponse

from common.app import create_service_app
from common.clock import Clock
from common.docs import install_docs
from gateway.api.admin import router as admin_router
from gateway.api.overview import router as overview_router
from gateway.api.proxy import RateLimiter, proxy_router
from gateway.config import Settings
from gateway.console.pages import router as console_pages
from gateway.console.sessions import Sessions
from gateway.console.site import router as console_site
from gateway.national.api import router as national_router
from gateway.openapi import MergedOpenAPI, services_ready
from gateway.service.keys import KeyStore, ensure_bootstrap_key
from gateway.signature import NonceCache
from gateway.upstream import upstream_client

DESCRIPTION = (
    "统一入口 — the one entry point of the medical-insurance platform. Every service's API is here under "
    "its prefix: `/enrollment/*` 参保登记, `/settlement/*` 结算, `/pricing/*` 药品价格监测, `/fraud/*` 智能监控."
)


@asynccontextmanager
async def callers(app: FastAPI) -> AsyncIterator[None]:
    """Who may call: the API keys (a fresh install's bootstrap ops key first), TIF nonces, rate limits."""
    settings: Settings = app.state.settings
    app.state.keys = KeyStore(app.state.db, cache_s=settings.key_cache_s)
    app.state.nonces = NonceCache(settings.nonce_cache_size)
    app.state.rate_limiter = RateLimiter(settings.rate_limit_per_s, settings.rate_limit_burst)
    await ensure_bootstrap_key(db=app.state.db, var_dir=settings.var_dir, now=app.state.clock.now())
    yield


def create_app(settings: Settings | None = None, *, clock: Clock | None = None) -> FastAPI:
    """The gateway as an ASGI app (uvicorn's factory)."""
    settings = settings or Settings()
    app = create_service_app(
        settings=settings,
        title="医保平台 Medical-insurance platform",
        description=DESCRIPTION,
        routers=[admin_router, overview_router, national_router, proxy_router(list(settings.upstreams()))],
        clock=clock,
        resources=[callers, upstream_client],
        with_dead_letters=False,
        openapi_url=None,  # the gateway serves the merged document below instead of its own
    )
    # The gateway takes traffic while any service is down (each answers 503 for its own routes): a gateway
    # taken out of rotation for one service would take every service down with it. Each is reported.
    app.state.readiness_required = {"database"}
    app.state.readiness_probes.append(services_ready)
    # The bureau console's sessions: signed with a key derived from the internal secret, like the principal.
    app.state.console_sessions = Sessions(settings.internal_secret, lifetime_s=settings.console_session_s)
    app.include_router(console_site)
    app.include_router(console_pages)
    merged = MergedOpenAPI(app)

    @app.get("/openapi.json", include_in_schema=False)
    async def openapi_document() -> dict[str, Any]:
        return await merged.document()

    install_docs(app, title="医保平台 API", openapi_url="/openapi.json")

    @app.get("/", include_in_schema=False)
    async def root() -> RedirectResponse:
        return RedirectResponse("/docs")

    return app
