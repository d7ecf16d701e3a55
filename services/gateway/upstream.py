"""The way to the services: one pooled client, the replicas of each service taken in turn, and the one
signed request every caller sends on it."""

from __future__ import annotations

import itertools
import logging
from collections.abc import AsyncIterator, Coroutine, Mapping
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import httpx
from fastapi import FastAPI, Request
from httpx_aiohttp import AiohttpTransport

from common.logs import request_id_var
from common.principal import Principal, sign_principal
from gateway.config import Settings

log = logging.getLogger("gateway.upstream")


class Upstreams:
    """The base URLs of each service's replicas and whose turn it is: round robin, one turn per request."""

    def __init__(self, urls: Mapping[str, tuple[str, ...]]) -> None:
        self.urls = dict(urls)
        self._turns = {service: itertools.count() for service in self.urls}

    def order(self, service: str) -> tuple[str, ...]:
        """The service's replicas for one request: the one whose turn it is first, then the others in turn
        (where the request goes when the first refuses the connection)."""
        urls = self.urls[service]
        if len(urls) == 1:
            return urls
        start = next(self._turns[service]) % len(urls)
        return urls[start:] + urls[:start]


def never_sent(exc: httpx.TransportError) -> bool:
    """Whether the request failed before a byte of it left: the connection was never made.

    Only then may it go to another replica without a risk of being applied twice. The aiohttp transport
    reports a refused connection and a connection dropped after the request was written alike (both
    httpx.ConnectTimeout), so its own exception decides: a connector error (refused, unreachable, no such
    host) or a connect timeout. httpx's own transport raises ConnectError / ConnectTimeout for those alone.
    """
    cause = exc.__cause__
    if isinstance(cause, aiohttp.ClientError):
        return isinstance(cause, aiohttp.ClientConnectorError | aiohttp.ConnectionTimeoutError)
    return isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout)


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
        app.state.upstreams = Upstreams(settings.upstreams())
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
    when it differs (the proxy's, percent-encoded again). `headers` go first and are extended in place. With
    one replica of the service the pooled client's own coroutine is returned, so awaiting it costs the
    proxy's hot path no extra frame; with several the request goes to the one whose turn it is, and on to the
    next only when a replica could not be connected to (`never_sent`): no request is ever applied twice.
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
    wire = path if target is None else target
    urls = state.upstreams.order(service)
    if len(urls) == 1:
        return client.request(
            method, f"{urls[0]}{wire}", params=params, json=json, content=content, headers=outgoing
        )
    return _spread(
        client,
        service,
        method,
        urls,
        wire,
        params=params,
        json=json,
        content=content,
        headers=outgoing,
    )


async def _spread(
    client: httpx.AsyncClient,
    service: str,
    method: str,
    urls: tuple[str, ...],
    wire: str,
    **request: Any,
) -> httpx.Response:
    """The request to the first of `urls` that accepts the connection; the last one's error otherwise.

    A streamed body is safe to hand on: a connection that was never made never started reading it.
    """
    *others, last = urls
    for base in others:
        try:
            return await client.request(method, f"{base}{wire}", **request)
        except httpx.TransportError as exc:
            if not never_sent(exc):
                raise
            log.warning("%s replica %s unreachable (%s); sent to the next", service, base, type(exc).__name__)
    return await client.request(method, f"{last}{wire}", **request)
