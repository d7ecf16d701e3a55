"""The gateway forwards /<service>/* to live services under a signed principal, and survives a dead service."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
from fastapi import FastAPI

from common.clock import FrozenClock
from common.logs import request_id_var
from common.principal import sign_principal
from common.testing.apps import OPS, LiveServer, app_client, wait_for
from common.testing.databases import Databases
from gateway.app import create_app as create_gateway
from tests.gateway.conftest import Platform, bearer, gateway_client, gateway_settings


async def test_requests_reach_the_service_behind_the_prefix(platform: Platform) -> None:
    async with gateway_client(platform.gateway, platform.var_dir) as (client, key):
        for service in ("enrollment", "fraud"):
            response = await client.get(f"/{service}/healthz", headers=bearer(key))
            assert response.status_code == 200
            assert response.json() == {"status": "ok", "service": service}
        wrong_method = await client.post("/enrollment/healthz", headers=bearer(key))
        assert (wrong_method.status_code, wrong_method.json()["code"]) == (405, "METHOD_NOT_ALLOWED")
        missing = await client.get("/enrollment/no/such/route", headers=bearer(key))
        assert missing.status_code == 404
        assert missing.headers["content-type"] == "application/problem+json"
        assert missing.json()["instance"] == "/no/such/route"


async def test_the_gateway_signs_the_callers_principal_for_the_service(platform: Platform) -> None:
    async with gateway_client(platform.gateway, platform.var_dir) as (client, key):
        await wait_for(lambda: platform.enrollment.app.state.nats.connected, what="enrollment on NATS")
        as_ops = await client.get("/enrollment/dead-letters", headers=bearer(key))
        assert (as_ops.status_code, as_ops.json()["items"]) == (200, [])
        persons = await client.get("/enrollment/persons", headers=bearer(key))
        assert (persons.status_code, persons.json()["items"]) == (200, [])


async def test_a_stopped_service_is_503_for_its_routes_only(platform: Platform) -> None:
    async with gateway_client(platform.gateway, platform.var_dir) as (client, key):
        down = await client.get("/settlement/healthz", headers=bearer(key))
        assert down.status_code == 503
        assert down.headers["content-type"] == "application/problem+json"
        assert down.headers["retry-after"] == "1"
        assert (down.json()["code"], down.json()["service"]) == ("SERVICE_UNAVAILABLE", "settlement")
        await platform.fraud.stop()
        stopped = await client.get("/fraud/healthz", headers=bearer(key))
        assert (stopped.status_code, stopped.json()["service"]) == (503, "fraud")
        still_up = await client.get("/enrollment/healthz", headers=bearer(key))
        assert still_up.status_code == 200


async def test_a_principal_sent_by_a_client_never_reaches_a_service(
    platform: Platform, clock: FrozenClock
) -> None:
    secret = platform.gateway.state.settings.internal_secret
    forged = sign_principal(OPS, secret=secret, method="GET", path="/dead-letters", now=clock.now())
    async with gateway_client(platform.gateway, platform.var_dir) as (client, key):
        issued = await client.post(
            "/admin/clients",
            headers=bearer(key),
            json={"name": "某医院 HIS", "role": "his", "scope": "H42010200001"},
        )
        his_key = issued.json()["api_key"]
        # The forged ops headers are dropped; the service sees the HIS principal the gateway signed.
        through_gateway = await client.get("/enrollment/dead-letters", headers={**forged, **bearer(his_key)})
        assert (through_gateway.status_code, through_gateway.json()["code"]) == (403, "ROLE_FORBIDDEN")
    # The same headers sent straight to the service are valid: only the gateway's stripping stopped them.
    await wait_for(lambda: platform.enrollment.app.state.nats.connected, what="enrollment connected to NATS")
    async with httpx.AsyncClient(base_url=platform.enrollment.url) as direct:
        assert (await direct.get("/dead-letters", headers=forged)).status_code == 200
        unsigned = await direct.get("/dead-letters")
        assert (unsigned.status_code, unsigned.json()["code"]) == (401, "PRINCIPAL_MISSING")


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
        async with gateway_client(platform.gateway, platform.var_dir) as (client, key):
            response = await client.get(
                "/enrollment/no-such-thing", headers={"X-Request-ID": "his-7f3a", **bearer(key)}
            )
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


async def test_an_upstream_too_slow_to_answer_is_504_and_one_that_refuses_is_503(
    databases: Databases, nats_url: str, clock: FrozenClock, tmp_path: Path
) -> None:
    import asyncio

    slow_app = FastAPI()

    @slow_app.get("/slow")
    async def slow() -> dict[str, str]:
        await asyncio.sleep(2)
        return {"late": "yes"}

    async with LiveServer(slow_app) as slow_server:
        gateway = create_gateway(
            gateway_settings(
                databases, nats_url, tmp_path, fraud_url=slow_server.url, upstream_timeout_s=0.3
            ),
            clock=clock,
        )
        async with gateway_client(gateway, tmp_path) as (client, key):
            late = await client.get("/fraud/slow", headers=bearer(key))
            refused = await client.get("/pricing/anything", headers=bearer(key))
    assert (late.status_code, late.json()["code"], late.json()["service"]) == (
        504,
        "UPSTREAM_TIMEOUT",
        "fraud",
    )
    assert (refused.status_code, refused.json()["code"]) == (503, "SERVICE_UNAVAILABLE")


async def test_percent_encoded_paths_reach_the_service_as_sent_and_control_characters_are_400(
    platform: Platform,
) -> None:
    async with gateway_client(platform.gateway, platform.var_dir) as (client, key):
        encoded = await client.get("/enrollment/persons/P%3F1%2520x", headers=bearer(key))
        # "?" and "%20" inside the id travel as part of the path, not as a query: the service looks it up.
        assert (encoded.status_code, encoded.json()["code"]) == (404, "PERSON_NOT_FOUND")
        assert encoded.json()["instance"] == "/persons/P%3F1%20x"
        for path in (
            "/enrollment/persons/%08",
            "/enrollment/persons/P1%00",
            "/enrollment/persons?certno=%00",
        ):
            refused = await client.get(path, headers=bearer(key))
            assert (refused.status_code, refused.json()["code"]) == (400, "INVALID_CHARACTERS"), path
