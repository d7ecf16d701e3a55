"""Each of the five services starts with health, readiness and metrics, on its own migrated database."""

from __future__ import annotations

import importlib
import tempfile
from pathlib import Path

import pytest
from fastapi import FastAPI

from common.clock import FrozenClock
from common.config import AppEnv
from common.embedded_nats import free_port
from common.serve import SERVICES
from common.testing.apps import app_client, wait_for
from common.testing.databases import Databases


def build(service: str, databases: Databases, nats_url: str, clock: FrozenClock) -> FastAPI:
    module = importlib.import_module(f"{service}.app")
    settings = importlib.import_module(f"{service}.config").Settings(
        database_url=databases.url(service),
        nats_url=nats_url,
        app_env=AppEnv.TEST,
        var_dir=Path(tempfile.mkdtemp(prefix="ybj-var-")),
    )
    app: FastAPI = module.create_app(settings, clock=clock)
    return app


DOMAIN = [service for service in SERVICES if service != "gateway"]


@pytest.mark.parametrize("service", DOMAIN)
async def test_a_service_is_alive_ready_and_measured(
    service: str, databases: Databases, nats_url: str, clock: FrozenClock
) -> None:
    app = build(service, databases, nats_url, clock)
    async with app_client(app, principal=None) as client:
        alive = await client.get("/healthz")
        assert alive.json() == {"status": "ok", "service": service}
        ready = await wait_for(lambda: _ready(client), what=f"{service} ready")
        assert ready == {"status": "ready", "service": service, "checks": {"database": "ok", "nats": "ok"}}
        metrics = await client.get("/metrics")
        assert metrics.status_code == 200
        assert f'http_request_duration_seconds_count{{method="GET",route="/healthz",service="{service}"' in (
            metrics.text
        )
        docs = await client.get("/openapi.json")
        assert docs.status_code == 200
        assert "/healthz" in docs.json()["paths"]


async def _ready(client) -> dict | None:  # type: ignore[no-untyped-def, type-arg]
    response = await client.get("/readyz")
    return response.json() if response.status_code == 200 else None  # type: ignore[no-any-return]


@pytest.mark.parametrize("service", DOMAIN)
async def test_a_service_without_nats_is_alive_but_not_ready(
    service: str, databases: Databases, clock: FrozenClock
) -> None:
    app = build(service, databases, f"nats://127.0.0.1:{free_port()}", clock)
    async with app_client(app, principal=None) as client:
        assert (await client.get("/healthz")).status_code == 200
        ready = await client.get("/readyz")
        assert ready.status_code == 503
        assert ready.headers["content-type"] == "application/problem+json"
        assert ready.json()["code"] == "NOT_READY"
        assert ready.json()["checks"] == {"database": "ok", "nats": "unavailable"}


@pytest.mark.parametrize("service", DOMAIN)
async def test_the_dead_letter_endpoints_are_for_ops_through_the_gateway_only(
    service: str, databases: Databases, nats_url: str, clock: FrozenClock
) -> None:
    from common.principal import Principal, Role

    app = build(service, databases, nats_url, clock)
    async with app_client(app, principal=None) as anonymous:
        response = await anonymous.get("/dead-letters")
        assert (response.status_code, response.json()["code"]) == (401, "PRINCIPAL_MISSING")
    async with app_client(app, principal=Principal("his-1", Role.HIS, "H1")) as his:
        response = await his.get("/dead-letters")
        assert (response.status_code, response.json()["code"]) == (403, "ROLE_FORBIDDEN")
    async with app_client(app) as ops:
        await wait_for(lambda: app.state.nats.connected, what="NATS")
        response = await ops.get("/dead-letters")
        assert response.status_code == 200
        assert response.json() == {"items": [], "next_cursor": None}
