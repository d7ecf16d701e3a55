"""API keys at the gateway: who may call, what the public may reach, limits, and the bootstrap key."""

from __future__ import annotations

from pathlib import Path

import pytest

from common.clock import FrozenClock
from common.testing.apps import app_client
from common.testing.databases import Databases
from gateway.app import create_app as create_gateway
from tests.gateway.conftest import bearer, gateway_client, gateway_settings

HIS = {"name": "协和医院 HIS", "role": "his", "scope": "H42010200001"}


@pytest.fixture
def gateway(databases: Databases, nats_url: str, clock: FrozenClock, tmp_path: Path):  # type: ignore[no-untyped-def]
    return create_gateway(
        gateway_settings(
            databases, nats_url, tmp_path, rate_limit_per_s=1.0, rate_limit_burst=3, max_body_bytes=1000
        ),
        clock=clock,
    )


async def test_no_key_or_a_wrong_key_is_401_with_the_bearer_challenge(gateway, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    async with gateway_client(gateway, tmp_path) as (client, key):
        missing = await client.get("/enrollment/persons")
        assert (missing.status_code, missing.json()["code"], missing.headers["www-authenticate"]) == (
            401,
            "API_KEY_MISSING",
            "Bearer",
        )
        for wrong in ("nonsense", key[:-1] + ("A" if key[-1] != "A" else "B"), "Basic abc"):
            response = await client.get("/enrollment/persons", headers={"Authorization": f"Bearer {wrong}"})
            assert (response.status_code, response.json()["code"]) == (401, "API_KEY_INVALID"), wrong


async def test_ops_issue_a_key_shown_once_list_without_it_and_revoke_it(
    gateway,
    tmp_path: Path,  # type: ignore[no-untyped-def]
    clock: FrozenClock,
) -> None:
    async with gateway_client(gateway, tmp_path) as (client, key):
        clock.advance(seconds=5)
        issued = await client.post("/admin/clients", headers=bearer(key), json=HIS)
        assert issued.status_code == 201
        body = issued.json()
        assert (body["role"], body["scope"], body["revoked_at"]) == ("his", "H42010200001", None)
        assert body["api_key"].startswith(f"ybj_{body['key_prefix']}_")
        listed = await client.get("/admin/clients", headers=bearer(key))
        assert [c["name"] for c in listed.json()] == ["协和医院 HIS", "bootstrap-ops"]
        assert all("api_key" not in c and "key_hash" not in c for c in listed.json())
        assert body["api_key"] not in listed.text
        again = await client.post("/admin/clients", headers=bearer(key), json=HIS)
        assert (again.status_code, again.json()["code"]) == (409, "CLIENT_EXISTS")

        his_key = body["api_key"]
        forbidden = await client.get("/admin/clients", headers=bearer(his_key))
        assert (forbidden.status_code, forbidden.json()["code"]) == (403, "ROLE_FORBIDDEN")
        revoked = await client.post(f"/admin/clients/{body['client_id']}/revoke", headers=bearer(key))
        assert revoked.json()["revoked_at"] is not None
        after = await client.get("/enrollment/persons", headers=bearer(his_key))
        assert (after.status_code, after.json()["code"]) == (401, "API_KEY_INVALID")
        self_revoke = await client.get("/admin/clients", headers=bearer(key))
        ops_id = next(c["client_id"] for c in self_revoke.json() if c["role"] == "ops")
        refused = await client.post(f"/admin/clients/{ops_id}/revoke", headers=bearer(key))
        assert (refused.status_code, refused.json()["code"]) == (409, "CANNOT_REVOKE_SELF")
        unknown = await client.post("/admin/clients/cli_nope/revoke", headers=bearer(key))
        assert (unknown.status_code, unknown.json()["code"]) == (404, "CLIENT_NOT_FOUND")


@pytest.mark.parametrize(
    "body",
    [
        {"name": "x", "role": "his"},  # an HIS without its institution
        {"name": "x", "role": "ops", "scope": "H1"},
        {"name": "x", "role": "root"},
        {"name": "", "role": "public"},
        {"name": "x", "role": "pos", "scope": "药店 1"},
    ],
)
async def test_bad_client_requests_are_422_and_issue_nothing(
    gateway, tmp_path: Path, body: dict[str, str]
) -> None:  # type: ignore[no-untyped-def]
    async with gateway_client(gateway, tmp_path) as (client, key):
        response = await client.post("/admin/clients", headers=bearer(key), json=body)
        assert (response.status_code, response.json()["code"]) == (422, "VALIDATION_ERROR")
        assert len((await client.get("/admin/clients", headers=bearer(key))).json()) == 1


async def test_the_public_reaches_only_price_comparison_and_drug_search(gateway, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    async with gateway_client(gateway, tmp_path) as (client, key):
        public = (
            await client.post(
                "/admin/clients", headers=bearer(key), json={"name": "比价网站", "role": "public"}
            )
        ).json()["api_key"]
        for path in ("/pricing/compare?med_list_codg=X", "/pricing/drugs?q=阿莫西林"):
            admitted = await client.get(path, headers=bearer(public))
            assert admitted.json()["code"] == "SERVICE_UNAVAILABLE", path  # let through; pricing is down here
        for method, path in (
            ("GET", "/enrollment/persons"),
            ("GET", "/pricing/alerts"),
            ("POST", "/pricing/compare"),
            ("GET", "/pricing/comparewhatever"),
            ("GET", "/settlement/settlements"),
        ):
            refused = await client.request(method, path, headers=bearer(public))
            assert (refused.status_code, refused.json()["code"]) == (403, "ROLE_FORBIDDEN"), path
        sneaky = await client.get("/pricing/compare/%2E%2E/alerts", headers=bearer(public))
        assert (sneaky.status_code, sneaky.json()["code"]) == (400, "INVALID_PATH")


async def test_each_client_is_rate_limited_with_retry_after(gateway, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    async with gateway_client(gateway, tmp_path) as (client, key):
        answers = [await client.get("/fraud/healthz", headers=bearer(key)) for _ in range(4)]
    assert [a.status_code for a in answers] == [503, 503, 503, 429]  # burst 3; the fraud service is down
    assert answers[3].json()["code"] == "RATE_LIMITED"
    assert answers[3].headers["retry-after"] == "1"


async def test_a_body_over_the_limit_is_413(gateway, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    async with gateway_client(gateway, tmp_path) as (client, key):
        too_big = await client.post("/enrollment/persons", headers=bearer(key), content=b"x" * 1001)
        assert (too_big.status_code, too_big.json()["code"]) == (413, "PAYLOAD_TOO_LARGE")

        async def chunks():  # type: ignore[no-untyped-def]
            for _ in range(3):
                yield b"y" * 400

        streamed = await client.post("/enrollment/persons", headers=bearer(key), content=chunks())
        assert (streamed.status_code, streamed.json()["code"]) == (413, "PAYLOAD_TOO_LARGE")


async def test_the_bootstrap_key_is_created_once(
    databases: Databases, nats_url: str, clock: FrozenClock, tmp_path: Path
) -> None:
    first = create_gateway(gateway_settings(databases, nats_url, tmp_path), clock=clock)
    async with gateway_client(first, tmp_path) as (client, key):
        assert (await client.get("/admin/clients", headers=bearer(key))).status_code == 200
    assert key.startswith("ybj_")
    assert (tmp_path / "bootstrap-ops-key").stat().st_mode & 0o777 == 0o600
    (tmp_path / "bootstrap-ops-key").unlink()
    second = create_gateway(gateway_settings(databases, nats_url, tmp_path), clock=clock)
    async with app_client(second, principal=None) as client:
        still = await client.get("/admin/clients", headers=bearer(key))
    assert [c["name"] for c in still.json()] == ["bootstrap-ops"]
    assert not (tmp_path / "bootstrap-ops-key").exists()  # an ops client exists: no second key
