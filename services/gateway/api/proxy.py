"""Forwarding /<service>/* to the services over one pooled httpx client."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import AsyncIterator
from urllib.parse import quote

import httpx
from fastapi import APIRouter, Request, Response

from common.errors import (
    BadRequest,
    BodyRefused,
    Forbidden,
    GatewayTimeout,
    PayloadTooLarge,
    ServiceUnavailable,
    TooManyRequests,
)
from common.principal import PRINCIPAL_HEADER, SIGNATURE_HEADER, Principal, Role
from gateway.api.admin import caller
from gateway.config import Settings
from gateway.upstream import send

log = logging.getLogger("gateway.proxy")

METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]
# RFC 3986 pchar and "/": left as they are when the decoded path is encoded again for the upstream.
_PATH_SAFE = "/:@!$&'()*+,;=-._~"
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


# aiohttp warns (ResourceWarning) when handed more than 1 MiB of raw bytes at once; larger bodies (a bulk
# load may be 4 MiB) go out as a stream of chunks, under their known Content-Length.
_STREAM_ABOVE = 1 << 20
_CHUNK = 1 << 16


async def _chunks(body: bytes) -> AsyncIterator[bytes]:
    view = memoryview(body)
    for start in range(0, len(body), _CHUNK):
        yield bytes(view[start : start + _CHUNK])


# What the public may reach: price comparison and drug search (DESIGN.md §9).
PUBLIC_ROUTES = (("GET", "pricing", "compare"), ("GET", "pricing", "drugs"))


class RateLimiter:
    """A token bucket per API client: `rate` requests a second sustained, `burst` at once."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate, self.burst = rate, float(burst)
        self._buckets: dict[str, tuple[float, float]] = {}

    def wait_needed(self, client_id: str) -> float:
        """0 if the request may go now (a token is taken), else the seconds until one is free."""
        now = time.monotonic()
        tokens, last = self._buckets.get(client_id, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        if tokens >= 1:
            self._buckets[client_id] = (tokens - 1, now)
            return 0.0
        self._buckets[client_id] = (tokens, now)
        return (1 - tokens) / self.rate


async def admit(request: Request, service: str, path: str) -> tuple[Principal, bytes]:
    """Authenticate, authorise, rate-limit and read the body within its limit."""
    settings: Settings = request.app.state.settings
    principal = await caller(request)
    if any(segment in (".", "..") for segment in path.split("/")):
        # Dot segments would let a path that passes the checks below resolve elsewhere upstream.
        raise BadRequest("The path may not contain '.' or '..' segments.", code="INVALID_PATH")
    if principal.role is Role.PUBLIC and not any(
        request.method == method and service == svc and (path == root or path.startswith(root + "/"))
        for method, svc, root in PUBLIC_ROUTES
    ):
        raise Forbidden("The public may only compare prices and search drugs.", code="ROLE_FORBIDDEN")
    wait = request.app.state.rate_limiter.wait_needed(principal.client_id)
    if wait > 0:
        raise TooManyRequests(
            "Too many requests for this API key; slow down.",
            code="RATE_LIMITED",
            headers={"Retry-After": str(max(1, math.ceil(wait)))},
        )
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > settings.max_body_bytes:
        raise PayloadTooLarge(f"The body is over {settings.max_body_bytes} bytes.", code="PAYLOAD_TOO_LARGE")
    body = bytearray()
    try:
        async for chunk in request.stream():
            body.extend(chunk)
            if len(body) > settings.max_body_bytes:
                raise PayloadTooLarge(
                    f"The body is over {settings.max_body_bytes} bytes.", code="PAYLOAD_TOO_LARGE"
                )
    except BodyRefused as refused:  # the common body check: as a ProblemError for the national envelope too
        problem = PayloadTooLarge if refused.status_code == 413 else BadRequest
        raise problem(str(refused.detail), code=refused.problem_code) from refused
    return principal, bytes(body)


async def forward(request: Request, service: str, path: str) -> Response:
    """Admit the request, then send it on to `service` under the signed principal and hand back the answer."""
    principal, body = await admit(request, service, path)
    # Raw bytes, as the client sent them: a header value outside ASCII (latin-1 on the wire) is passed on for
    # the service to judge, where re-encoding the decoded text as ASCII would fail here with a 500.
    headers = [(k, v) for k, v in request.headers.raw if k.decode("latin-1").lower() not in _DROP_REQUEST]
    if len(body) > _STREAM_ABOVE:
        headers.append((b"content-length", str(len(body)).encode()))
    try:
        upstream = await send(
            request,
            principal,
            service,
            request.method,
            f"/{path}",
            # `path` arrives decoded; encoded again, what the client percent-encoded reaches the service as sent.
            target=f"/{quote(path, safe=_PATH_SAFE)}",
            params=request.url.query or None,
            headers=headers,
            content=body if len(body) <= _STREAM_ABOVE else _chunks(body),
        )
    except (httpx.ReadTimeout, httpx.WriteTimeout, httpx.PoolTimeout) as exc:
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
