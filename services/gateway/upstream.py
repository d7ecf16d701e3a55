"""The way to the services: one pooled client, and the one signed request every caller sends on it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI, Request
from httpx_aiohttp import AiohttpTransport

from common.logs import request_id_var
from common.principal import Principal, sign_principal
from gateway.config import Settings


@asynccontextmanager
async def upstream_client(app: FastAPI) -> AsyncIterator[None]:
    """One pooled client for the life of the gateway."""
    settings: Settings = app.state.settings
    timeout = httpx.Timeout(settings.upstream_timeout_s, connect=settings.upstream_connect_timeout_s)
    limits = httpx.Limits(
        max_connections=settings.upstream_max_connections,
        max_keepalive_connections=settings.upstream_max_connections,
    )
    # aiohttp under httpx's API: the forwarding hop is the platform's hottest path, and httpx's own
    # transport is the slow part of it (DESIGN.md §11 measured about 3x between them).
    transport = AiohttpTransport(limits=limits)
    async with httpx.AsyncClient(timeout=timeout, transport=transport, follow_redirects=False) as client:
        app.state.upstream = client
        yield


def send(
    request: Request,
    principal: Principal,
    service: str,
    method: str,
    path: str,
    *,
    target: str | None = None,
    params: Any = None,
    json: Any = None,
    content: Any = None,
    headers: list[tuple[bytes, bytes]] | None = None,
) -> Coroutine[Any, Any, httpx.Response]:
    """A request to `service` under the caller's principal signed for (method, path), with the request id.

    `path` is what the signature covers, the path as the service reads it; `target` is the path on the wire
    when it differs (the proxy's, percent-encoded again). `headers` go first and are extended in place. The
    pooled client's own coroutine is returned, so awaiting it costs the proxy's hot path no extra frame.
    """
    state = request.app.state
    settings: Settings = state.settings
    client: httpx.AsyncClient = state.upstream
    outgoing = [] if headers is None else headers
    outgoing.append((b"x-request-id", (request_id_var.get() or "").encode()))
    signed = sign_principal(
        principal, secret=settings.internal_secret, method=method, path=path, now=state.clock.now()
    )
    outgoing.extend((k.encode(), v.encode()) for k, v in signed.items())
    return client.request(
        method,
        f"{settings.upstreams()[service]}{path if target is None else target}",
        params=params,
        json=json,
        content=content,
        headers=outgoing,
    )
