"""Forwarding /<service>/* to the services over one pooled httpx client."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import APIRouter, FastAPI, Request, Response

from common.errors import GatewayTimeout, ServiceUnavailable
from common.logs import request_id_var
from common.principal import PRINCIPAL_HEADER, SIGNATURE_HEADER
from gateway.config import Settings

log = logging.getLogger("gateway.proxy")

METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]
# Hop-by-hop headers (RFC 9110 §7.6.1) are the connection's, not the message's; the length is recomputed.
_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "content-length",
    }
)
# Never from the client to a service: its host, a request id we set ourselves, and above all a principal.
_DROP_REQUEST = _HOP_BY_HOP | {"host", "x-request-id", PRINCIPAL_HEADER.lower(), SIGNATURE_HEADER.lower()}
# The gateway answers with its own request id, server and date headers.
_DROP_RESPONSE = _HOP_BY_HOP | {"x-request-id", "server", "date"}


@asynccontextmanager
async def upstream_client(app: FastAPI) -> AsyncIterator[None]:
    """One pooled client for the life of the gateway."""
    settings: Settings = app.state.settings
    timeout = httpx.Timeout(settings.upstream_timeout_s, connect=settings.upstream_connect_timeout_s)
    limits = httpx.Limits(
        max_connections=settings.upstream_max_connections,
        max_keepalive_connections=settings.upstream_max_connections,
    )
    async with httpx.AsyncClient(timeout=timeout, limits=limits, follow_redirects=False) as client:
        app.state.upstream = client
        yield


async def forward(request: Request, service: str, path: str) -> Response:
    """Send the request on to `service` and hand its answer back unchanged."""
    settings: Settings = request.app.state.settings
    client: httpx.AsyncClient = request.app.state.upstream
    url = f"{settings.upstreams()[service]}/{path}"
    headers = [(k, v) for k, v in request.headers.items() if k.lower() not in _DROP_REQUEST]
    headers.append(("x-request-id", request_id_var.get() or ""))
    try:
        upstream = await client.request(
            request.method,
            url,
            params=request.url.query or None,
            headers=headers,
            content=await request.body(),
        )
    except httpx.TimeoutException as exc:
        raise GatewayTimeout(
            f"The {service} service did not answer in time.", code="UPSTREAM_TIMEOUT", service=service
        ) from exc
    except httpx.TransportError as exc:
        log.warning("%s unreachable: %s", service, type(exc).__name__)
        raise ServiceUnavailable(
            f"The {service} service is unavailable; retry shortly.",
            code="SERVICE_UNAVAILABLE",
            service=service,
            headers={"Retry-After": "1"},
        ) from exc
    response_headers = {k: v for k, v in upstream.headers.items() if k.lower() not in _DROP_RESPONSE}
    return Response(content=upstream.content, status_code=upstream.status_code, headers=response_headers)


def proxy_router(services: list[str]) -> APIRouter:
    """Catch-all routes /<service>/{path} for each service."""
    router = APIRouter()
    for service in services:

        async def route(request: Request, path: str, _service: str = service) -> Response:
            return await forward(request, _service, path)

        router.add_api_route(
            f"/{service}/{{path:path}}",
            route,
            methods=METHODS,
            include_in_schema=False,
            name=f"proxy_{service}",
        )
    return router
