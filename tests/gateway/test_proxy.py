"""The gateway forwards /<service>/* to live services, strips forged principals, survives a dead service."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from fastapi import FastAPI

from common.clock import FrozenClock
from common.config import AppEnv
from common.logs import request_id_var
from common.principal import sign_principal
from common.testing.apps import OPS, LiveServer, app_client, wait_for
from common.testing.databases import Databases
from enrollment.app import create_app as create_enrollment
from enrollment.config import Settings as EnrollmentSettings
from fraud.app import create_app as create_fraud
from fraud.config import Settings as FraudSettings
from gateway.app import create_app as create_gateway
from gateway.config import Settings as GatewaySettings


@dataclass
class Platform:
    gateway: FastAPI
    enrollment: LiveServer
    fraud: LiveServer


@pytest.fixture
async def platform(databases: Databases, nats_url: str, clock: FrozenClock) -> AsyncIterator[Platform]:
    enrollment = LiveServer(
        create_enrollment(
            EnrollmentSettings(
                database_url=databases.url("enrollment"), nats_url=nats_url, app_env=AppEnv.TEST
            ),
            clock=clock,
        )
    )
    fraud = LiveServer(
        create_fraud(
            FraudSettings(database_url=databases.url("fraud"), nats_url=nats_url, app_env=AppEnv.TEST),
            clock=clock,
        )
    )
    await enrollment.start()
    await fraud.start()
    gateway = create_gateway(
        GatewaySettings(
            database_url=databases.url("gateway"),
            nats_url=nats_url,
            app_env=AppEnv.TEST,
            enrollment_url=enrollment.url,
            fraud_url=fraud.url,
            # Nothing listens on these: the settlement and pricing routes are "down".
            settlement_url="http://127.0.0.1:9",
            pricing_url="http://127.0.0.1:9",
            upstream_connect_timeout_s=0.5,
        ),
        clock=clock,
    )
    try:
        yield Platform(gateway, enrollment, fraud)
    finally:
        await enrollment.stop()
        await fraud.stop()


async def test_requests_reach_the_service_behind_the_prefix(platform: Platform) -> None:
    async with app_client(platform.gateway, principal=None) as client:
        for service in ("enrollment", "fraud"):
            response = await client.get(f"/{service}/healthz")
            assert response.status_code == 200
            assert response.json() == {"status": "ok", "service": service}
        wrong_method = await client.post("/enrollment/healthz")
        assert (wrong_method.status_code, wrong_method.json()["code"]) == (405, "METHOD_NOT_ALLOWED")
        missing = await client.get("/enrollment/no/such/route")
        assert missing.status_code == 404
        assert missing.headers["content-type"] == "application/problem+json"
        assert missing.json()["instance"] == "/no/such/route"


async def test_a_stopped_service_is_503_for_its_routes_only(platform: Platform) -> None:
    async with app_client(platform.gateway, principal=None) as client:
        down = await client.get("/settlement/healthz")
        assert down.status_code == 503
        assert down.headers["content-type"] == "application/problem+json"
        assert down.headers["retry-after"] == "1"
        assert (down.json()["code"], down.json()["service"]) == ("SERVICE_UNAVAILABLE", "settlement")
        await platform.fraud.stop()
        stopped = await client.get("/fraud/healthz")
        assert (stopped.status_code, stopped.json()["service"]) == (503, "fraud")
        still_up = await client.get("/enrollment/healthz")
        assert still_up.status_code == 200


async def test_a_principal_sent_by_a_client_never_reaches_a_service(
    platform: Platform, clock: FrozenClock
) -> None:
    secret = platform.gateway.state.settings.internal_secret
    forged = sign_principal(OPS, secret=secret, method="GET", path="/dead-letters", now=clock.now())
    async with app_client(platform.gateway, principal=None) as client:
        through_gateway = await client.get("/enrollment/dead-letters", headers=forged)
        assert (through_gateway.status_code, through_gateway.json()["code"]) == (401, "PRINCIPAL_MISSING")
    # The same headers sent straight to the service are valid: only the gateway's stripping stopped them.
    import httpx

    await wait_for(lambda: _connected(platform.enrollment.app), what="enrollment connected to NATS")
    async with httpx.AsyncClient(base_url=platform.enrollment.url) as direct:
        assert (await direct.get("/dead-letters", headers=forged)).status_code == 200
        unsigned = await direct.get("/dead-letters")
        assert (unsigned.status_code, unsigned.json()["code"]) == (401, "PRINCIPAL_MISSING")


def _connected(app: FastAPI) -> bool:
    return bool(app.state.nats.connected)


class _RequestIds(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[str, str | None]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.seen.append((record.getMessage(), request_id_var.get()))


async def test_the_request_id_travels_from_client_to_service_and_back(platform: Platform) -> None:
    recorder = _RequestIds()
    access = logging.getLogger("access")
    access.addHandler(recorder)
    access.setLevel(logging.INFO)
    try:
        async with app_client(platform.gateway, principal=None) as client:
            response = await client.get("/enrollment/no-such-thing", headers={"X-Request-ID": "his-7f3a"})
    finally:
        access.removeHandler(recorder)
    assert response.headers["x-request-id"] == "his-7f3a"
    assert ("GET /no-such-thing 404", "his-7f3a") in recorder.seen  # logged by enrollment
    assert ("GET /enrollment/no-such-thing 404", "his-7f3a") in recorder.seen  # logged by the gateway


async def test_the_gateway_root_leads_to_the_docs(platform: Platform) -> None:
    async with app_client(platform.gateway, principal=None) as client:
        root = await client.get("/")
        assert (root.status_code, root.headers["location"]) == (307, "/docs")
        docs = await client.get("/docs")
        assert docs.status_code == 200
        assert "swagger" in docs.text.lower()
