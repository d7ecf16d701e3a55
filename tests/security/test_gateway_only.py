"""The services answer only what came through the gateway, and the gateway keeps keys as hashes.

Every route of every service, called directly on its port: no principal, a forged one, one signed with the
wrong secret, one signed for another path or method, one that has expired: 401 problem+json each time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa
from fastapi.routing import iter_route_contexts

from common.clock import FrozenClock
from common.db import create_engine
from common.principal import Principal, Role, sign_principal
from gateway.service import keys as gateway_keys
from tests.security.conftest import Platform, bearer
from tests.security.test_route_matrix import DECLARED_OPEN

OPS = Principal(client_id="intruder", role=Role.OPS)


def _routes(platform: Platform, service: str) -> list[tuple[str, str]]:
    """(method, concrete path) of every documented route of the service but its probes."""
    found = []
    for route in iter_route_contexts(platform.services[service].app.routes):
        path, methods = route.path, route.methods or set()
        if not path or path in DECLARED_OPEN or path in ("/metrics", "/openapi.json", "/docs", "/redoc"):
            continue
        if path.startswith(("/docs", "/redoc")):  # the docs pages and their assets are public by design
            continue
        concrete = "/".join("1" if part.startswith("{") else part for part in path.split("/"))
        found += [(method, concrete) for method in sorted(methods - {"HEAD", "OPTIONS"})]
    return found


@pytest.mark.parametrize("service", ["enrollment", "settlement", "pricing", "fraud"])
async def test_a_service_refuses_every_request_that_did_not_come_through_the_gateway(
    platform: Platform, service: str, clock: FrozenClock
) -> None:
    server = platform.services[service]
    secret = server.app.state.settings.internal_secret
    now = clock.now()
    routes = _routes(platform, service)
    assert len(routes) >= 10
    client = platform.client
    for method, path in routes:

        def signed(
            *, secret: str = secret, method: str = method, path: str = path, now: datetime = now
        ) -> dict[str, str]:
            return sign_principal(OPS, secret=secret, method=method, path=path, now=now)

        genuine = signed()
        forged_payload = base64.urlsafe_b64encode(
            json.dumps({"sub": "x", "role": "ops", "scope": None, "iat": int(now.timestamp())}).encode()
        ).decode()
        attempts = {
            "no principal": ({}, "PRINCIPAL_MISSING"),
            "payload without signature": (
                {"X-Internal-Principal": genuine["X-Internal-Principal"]},
                "PRINCIPAL_MISSING",
            ),
            "forged signature": (
                {"X-Internal-Principal": forged_payload, "X-Internal-Signature": "0" * 64},
                "PRINCIPAL_INVALID",
            ),
            "wrong secret": (signed(secret="not-the-secret-" * 3), "PRINCIPAL_INVALID"),
            "signed for another path": (signed(path=path + "/x"), "PRINCIPAL_INVALID"),
            "signed for another method": (
                signed(method="DELETE" if method != "DELETE" else "GET"),
                "PRINCIPAL_INVALID",
            ),
            "claims swapped under a real signature": (
                {
                    "X-Internal-Principal": forged_payload,
                    "X-Internal-Signature": genuine["X-Internal-Signature"],
                },
                "PRINCIPAL_INVALID",
            ),
            "expired": (signed(now=now - timedelta(seconds=61)), "PRINCIPAL_EXPIRED"),
        }
        for name, (headers, code) in attempts.items():
            response = await client.request(
                method,
                f"{server.url}{path}",
                headers=headers,
                json={} if method in ("POST", "PUT", "PATCH") else None,
            )
            assert (response.status_code, response.headers["content-type"], response.json()["code"]) == (
                401,
                "application/problem+json",
                code,
            ), (name, method, path, response.text[:200])


async def test_the_gateway_keeps_only_a_hash_of_each_key(platform: Platform) -> None:
    engine = create_engine(platform.database_urls["gateway"], pool_size=1, max_overflow=0)
    try:
        async with engine.connect() as connection:
            rows = (await connection.execute(sa.text("SELECT * FROM api_client"))).mappings().all()
    finally:
        await engine.dispose()
    assert len(rows) == 4  # the bootstrap ops key and the three the fixture issued
    stored = "\n".join(repr(dict(row)) for row in rows)
    for key in platform.keys.values():
        assert key not in stored
        assert key.split("_", 2)[2] not in stored  # not even the secret part (which may hold "_")
        assert hashlib.sha256(key.encode()).hexdigest() in stored


async def test_keys_are_compared_in_constant_time(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    compared: list[tuple[str, str]] = []
    real = hmac.compare_digest

    def recording(a: str, b: str) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(gateway_keys.hmac, "compare_digest", recording)
    store = platform.gateway.app.state.keys
    monkeypatch.setattr(store, "cache_s", 0.0)
    monkeypatch.setattr(store, "_cache", {})  # what the fixture's calls left cached
    ops_key = platform.keys["ops"]
    wrong = ops_key[:-1] + ("A" if ops_key[-1] != "A" else "B")  # same prefix, another secret
    right = await platform.client.get("/admin/clients", headers=bearer(ops_key))
    refused = await platform.client.get("/admin/clients", headers=bearer(wrong))
    assert right.status_code == 200
    assert (refused.status_code, refused.json()["code"]) == (401, "API_KEY_INVALID")
    digest = hashlib.sha256(ops_key.encode()).hexdigest()
    assert compared == [(digest, digest), (digest, hashlib.sha256(wrong.encode()).hexdigest())]
