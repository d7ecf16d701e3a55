"""The gateway's merged API document and its readiness report, against live services."""

from __future__ import annotations

from typing import Any

from common.testing.apps import app_client, wait_for
from tests.gateway.conftest import Platform


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [ref for value in node.values() for ref in _refs(value)]
    if isinstance(node, list):
        return [ref for item in node for ref in _refs(item)]
    return []


async def test_one_document_covers_every_reachable_service_under_its_prefix(platform: Platform) -> None:
    async with app_client(platform.gateway, principal=None) as client:
        document = (await client.get("/openapi.json")).json()
        docs = await client.get("/docs")
    paths = document["paths"]
    assert "/enrollment/persons" in paths and "/enrollment/eligibility" in paths
    assert "/fraud/dead-letters" in paths and "/enrollment/dead-letters" in paths
    assert "/healthz" in paths  # the gateway's own
    assert not any(path.startswith(("/settlement/", "/pricing/")) for path in paths)
    assert document["x-unavailable-services"] == ["settlement", "pricing"]
    assert "settlement, pricing" in document["info"]["description"]
    schemas = document["components"]["schemas"]
    assert "EnrollmentPersonIn" in schemas
    assert {"EnrollmentDeadLetter", "FraudDeadLetter"} <= set(schemas)  # the same name from two services
    dangling = [ref for ref in _refs(document) if ref.rsplit("/", 1)[1] not in schemas]
    assert dangling == []
    operation_ids = [
        op["operationId"]
        for item in paths.values()
        for op in item.values()
        if isinstance(op, dict) and "operationId" in op
    ]
    assert len(operation_ids) == len(set(operation_ids))
    assert document["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "API key issued by the bureau: `Authorization: Bearer <key>`",
    }
    assert document["components"]["securitySchemes"]["tifSignature"]["name"] == "x-tif-signature"
    assert document["security"] == [
        {"bearerAuth": []},
        {"tifPaasid": [], "tifTimestamp": [], "tifNonce": [], "tifSignature": []},
    ]
    register = paths["/enrollment/persons"]["post"]
    assert register["tags"] == ["enrollment · persons 参保人"]
    assert register["requestBody"]["content"]["application/json"]["schema"]["$ref"] == (
        "#/components/schemas/EnrollmentPersonIn"
    )
    assert docs.status_code == 200 and "/openapi.json" in docs.text


async def test_readiness_reports_each_service_and_stays_up_while_one_is_down(platform: Platform) -> None:
    async with app_client(platform.gateway, principal=None) as client:
        await wait_for(lambda: _nats_ok(client), what="gateway and services on NATS")
        ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {
        "status": "degraded",
        "service": "gateway",
        "checks": {
            "database": "ok",
            "nats": "ok",
            "enrollment": "ok",
            "settlement": "unavailable",
            "pricing": "unavailable",
            "fraud": "ok",
        },
    }


async def _nats_ok(client) -> bool:  # type: ignore[no-untyped-def]
    checks = (await client.get("/readyz")).json()["checks"]
    return bool(checks["nats"] == "ok" and checks["enrollment"] == "ok" and checks["fraud"] == "ok")
