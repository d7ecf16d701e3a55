"""Several replicas of a service behind the gateway (GATEWAY_<SERVICE>_URL a comma-separated list): requests
go to each in turn, one that refuses the connection is passed over for that request, one that took the request
and then failed is never sent it again, and readiness and the merged document see every replica."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from fastapi import FastAPI, Request

from common.clock import FrozenClock
from common.embedded_nats import free_port
from common.testing.apps import LiveServer, app_client, wait_for
from common.testing.databases import Databases
from gateway.app import create_app as create_gateway
from gateway.upstream import Upstreams
from tests.gateway.conftest import bearer, gateway_client, gateway_settings

REFUSED = "http://127.0.0.1:9"  # nothing listens on port 9


def replica(name: str, seen: Counter[str]) -> FastAPI:
    """A stand-in service that says which replica answered and counts what it was sent."""
    app = FastAPI(openapi_url="/openapi.json")

    @app.get("/readyz")
    async def readyz() -> dict[str, str]:
        return {"status": "ready"}

    @app.get("/whoami")
    async def whoami() -> dict[str, str]:
        seen[f"GET {name}"] += 1
        return {"replica": name}

    @app.post("/claims")
    async def claims(request: Request) -> dict[str, object]:
        body = await request.body()
        seen[f"POST {name}"] += 1
        return {"replica": name, "bytes": len(body)}

    return app


@contextlib.asynccontextmanager
async def replicas(*names: str) -> AsyncIterator[tuple[list[LiveServer], Counter[str]]]:
    seen: Counter[str] = Counter()
    servers = [LiveServer(replica(name, seen)) for name in names]
    for server in servers:
        await server.start()
    try:
        yield servers, seen
    finally:
        for server in servers:
            await server.stop()


@contextlib.asynccontextmanager
async def dropping_server() -> AsyncIterator[tuple[str, list[bytes]]]:
    """A replica that accepts the connection, reads the request and hangs up without an answer."""
    received: list[bytes] = []

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        received.append(await reader.read(65536))
        writer.transport.abort()

    port = free_port()
    server = await asyncio.start_server(accept, "127.0.0.1", port)
    try:
        yield f"http://127.0.0.1:{port}", received
    finally:
        server.close()
        await server.wait_closed()


def test_each_request_starts_at_the_next_replica_in_turn() -> None:
    upstreams = Upstreams({"settlement": ("http://a", "http://b", "http://c"), "fraud": ("http://f",)})
    firsts = [upstreams.order("settlement")[0] for _ in range(6)]
    assert firsts == ["http://a", "http://b", "http://c"] * 2
    assert upstreams.order("settlement") == ("http://a", "http://b", "http://c")
    assert upstreams.order("settlement") == ("http://b", "http://c", "http://a")
    assert upstreams.order("fraud") == ("http://f",)


async def test_requests_are_spread_over_the_replicas_in_turn(
    databases: Databases, nats_url: str, clock: FrozenClock, tmp_path: Path
) -> None:
    async with replicas("a", "b") as (servers, seen):
        urls = ",".join(server.url for server in servers)
        gateway = create_gateway(
            gateway_settings(databases, nats_url, tmp_path, settlement_url=urls), clock=clock
        )
        async with gateway_client(gateway, tmp_path) as (client, key):
            answered = [
                (await client.get("/settlement/whoami", headers=bearer(key))).json()["replica"]
                for _ in range(6)
            ]
    assert answered == ["a", "b"] * 3
    assert seen == Counter({"GET a": 3, "GET b": 3})


async def test_a_replica_that_refuses_the_connection_is_passed_over_and_nothing_is_sent_twice(
    databases: Databases, nats_url: str, clock: FrozenClock, tmp_path: Path
) -> None:
    async with replicas("live") as (servers, seen):
        urls = f"{REFUSED},{servers[0].url}"
        gateway = create_gateway(
            gateway_settings(databases, nats_url, tmp_path, settlement_url=urls), clock=clock
        )
        large = b"x" * (3 << 20)  # over the proxy's 1 MiB: sent as a stream of chunks
        async with gateway_client(gateway, tmp_path) as (client, key):
            gets = [await client.get("/settlement/whoami", headers=bearer(key)) for _ in range(4)]
            posts = [
                await client.post("/settlement/claims", headers=bearer(key), content=body)
                for body in (b'{"n": 1}', b'{"n": 2}', large, large)
            ]
    assert [(r.status_code, r.json()["replica"]) for r in gets] == [(200, "live")] * 4
    assert [(r.status_code, r.json()["bytes"]) for r in posts] == [(200, 8), (200, 8)] + [
        (200, len(large))
    ] * 2
    # Each request reached the live replica exactly once, whichever replica's turn it was.
    assert seen == Counter({"GET live": 4, "POST live": 4})


async def test_a_replica_that_took_the_request_and_failed_is_not_retried_elsewhere(
    databases: Databases, nats_url: str, clock: FrozenClock, tmp_path: Path
) -> None:
    async with dropping_server() as (dropper, received), replicas("live") as (servers, seen):
        urls = f"{dropper},{servers[0].url}"
        gateway = create_gateway(
            gateway_settings(databases, nats_url, tmp_path, settlement_url=urls), clock=clock
        )
        async with gateway_client(gateway, tmp_path) as (client, key):
            dropped = await client.post("/settlement/claims", headers=bearer(key), json={"n": 1})
            answered = await client.post("/settlement/claims", headers=bearer(key), json={"n": 2})
    # The first went to the replica whose turn it was, which may have applied it: the caller is told, and
    # the other replica never sees it. The second is the other replica's turn.
    assert (dropped.status_code, dropped.json()["code"]) == (503, "SERVICE_UNAVAILABLE")
    assert len(received) == 1 and received[0].startswith(b"POST /claims ")
    assert (answered.status_code, answered.json()["replica"]) == (200, "live")
    assert seen == Counter({"POST live": 1})


async def test_every_replica_refusing_is_503(
    databases: Databases, nats_url: str, clock: FrozenClock, tmp_path: Path
) -> None:
    urls = f"{REFUSED},http://127.0.0.1:{free_port()}"
    gateway = create_gateway(
        gateway_settings(databases, nats_url, tmp_path, settlement_url=urls), clock=clock
    )
    async with gateway_client(gateway, tmp_path) as (client, key):
        refused = await client.get("/settlement/whoami", headers=bearer(key))
    assert (refused.status_code, refused.json()["code"]) == (503, "SERVICE_UNAVAILABLE")


@pytest.mark.parametrize(("live", "expected"), [(2, "ok"), (1, "degraded"), (0, "unavailable")])
async def test_readiness_and_the_merged_document_see_every_replica(
    databases: Databases, nats_url: str, clock: FrozenClock, tmp_path: Path, live: int, expected: str
) -> None:
    async with replicas(*(f"r{n}" for n in range(live))) as (servers, _):
        urls = ",".join([REFUSED] * (2 - live) + [server.url for server in servers])
        gateway = create_gateway(gateway_settings(databases, nats_url, tmp_path, fraud_url=urls), clock=clock)
        async with app_client(gateway, principal=None) as client:
            await wait_for(lambda: _nats_ok(client), what="the gateway on NATS")
            checks = (await client.get("/readyz")).json()["checks"]
            document = (await client.get("/openapi.json")).json()
    assert checks["fraud"] == expected
    # The document comes from the first replica that gives it.
    assert ("/fraud/whoami" in document["paths"]) is bool(live)
    assert ("fraud" in document["x-unavailable-services"]) is not bool(live)


async def _nats_ok(client) -> bool:  # type: ignore[no-untyped-def]
    return bool((await client.get("/readyz")).json()["checks"]["nats"] == "ok")
