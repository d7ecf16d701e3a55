"""What every service inherits: problem+json for every bad input, one transaction per request, metrics."""

from __future__ import annotations

import json
import logging

import pytest
from prometheus_client import REGISTRY

from common.clock import FrozenClock
from common.embedded_nats import free_port
from common.principal import Principal, Role
from common.testing.apps import app_client
from common.testing.databases import Databases
from tests.common.conftest import scratch_app

GOOD = {"amount": "12.30", "kind": "outpatient", "count": 2}
DEAD_NATS = f"nats://127.0.0.1:{free_port()}"


@pytest.fixture
async def client(databases: Databases, clock: FrozenClock):  # type: ignore[no-untyped-def]
    app = scratch_app(database_url=databases.url("scratch"), nats_url=DEAD_NATS, clock=clock)
    async with app_client(app) as client:
        yield client


async def _count(client) -> int:  # type: ignore[no-untyped-def]
    response = await client.get("/things/count")
    return int(response.json()["count"])


async def test_a_successful_request_commits_its_writes(client) -> None:  # type: ignore[no-untyped-def]
    response = await client.post("/things/7", json=GOOD)
    assert response.status_code == 201
    assert response.json() == {"thing_id": 7, "amount": "12.30", "by": "ops-test"}
    assert await _count(client) == 1


async def test_a_request_that_fails_rolls_back_everything_it_wrote(client) -> None:  # type: ignore[no-untyped-def]
    response = await client.post("/things/7?conflict=true", json=GOOD)
    assert response.status_code == 409
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == "THING_EXISTS"
    assert body["existing_id"] == 7
    assert body["status"] == 409
    assert body["title"] == "Conflict"
    assert body["detail"] == "That thing exists already."
    assert body["type"] == "urn:ybj:problem:thing-exists"
    assert await _count(client) == 0


@pytest.mark.parametrize(
    ("content", "code", "where"),
    [
        (b'{"amount": "1.00", "kind": ', "MALFORMED_JSON", None),
        (b"not json at all", "MALFORMED_JSON", None),
        (json.dumps({**GOOD, "count": "many"}).encode(), "VALIDATION_ERROR", ["body", "count"]),
        (json.dumps({**GOOD, "kind": "dental"}).encode(), "VALIDATION_ERROR", ["body", "kind"]),
        (json.dumps({**GOOD, "amount": "1.234"}).encode(), "VALIDATION_ERROR", ["body", "amount"]),
        (json.dumps({"kind": "outpatient", "count": 1}).encode(), "VALIDATION_ERROR", ["body", "amount"]),
        (b"[1, 2, 3]", "VALIDATION_ERROR", ["body"]),
        (b"", "VALIDATION_ERROR", ["body"]),
    ],
)
async def test_bad_input_is_a_422_problem_and_writes_nothing(
    client,
    content: bytes,
    code: str,  # type: ignore[no-untyped-def]
    where: list[str] | None,
) -> None:
    response = await client.post("/things/7", content=content, headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == code
    if where is not None:
        assert body["errors"][0]["loc"] == where
    assert all("input" not in error for error in body["errors"])
    assert await _count(client) == 0


async def test_a_wrongly_typed_path_parameter_is_a_422_problem(client) -> None:  # type: ignore[no-untyped-def]
    response = await client.post("/things/seven", json=GOOD)
    assert response.status_code == 422
    assert response.json()["code"] == "VALIDATION_ERROR"


async def test_unknown_routes_and_methods_are_problems_too(client) -> None:  # type: ignore[no-untyped-def]
    missing = await client.get("/nothing-here")
    assert (missing.status_code, missing.json()["code"]) == (404, "NOT_FOUND")
    assert missing.headers["content-type"] == "application/problem+json"
    wrong = await client.delete("/things/7")
    assert (wrong.status_code, wrong.json()["code"]) == (405, "METHOD_NOT_ALLOWED")


async def test_a_bug_is_a_500_problem_that_leaks_nothing(client, caplog: pytest.LogCaptureFixture) -> None:  # type: ignore[no-untyped-def]
    with caplog.at_level(logging.ERROR):
        response = await client.get("/boom")
    assert response.status_code == 500
    body = response.json()
    assert body["code"] == "INTERNAL_ERROR"
    assert "certno" not in body["detail"] and "4201" not in response.text


async def test_requests_without_the_gateways_signature_are_refused(
    databases: Databases, clock: FrozenClock
) -> None:
    app = scratch_app(database_url=databases.url("scratch"), nats_url=DEAD_NATS, clock=clock)
    async with app_client(app, principal=None) as client:
        response = await client.post("/things/7", json=GOOD)
        assert (response.status_code, response.json()["code"]) == (401, "PRINCIPAL_MISSING")
        assert await _count(client) == 0


async def test_a_role_not_allowed_is_forbidden(databases: Databases, clock: FrozenClock) -> None:
    app = scratch_app(database_url=databases.url("scratch"), nats_url=DEAD_NATS, clock=clock)
    async with app_client(app, principal=Principal("pub", Role.PUBLIC)) as client:
        response = await client.post("/things/7", json=GOOD)
        assert (response.status_code, response.json()["code"]) == (403, "ROLE_FORBIDDEN")


async def test_the_database_being_unreachable_is_a_503_problem(clock: FrozenClock, tmp_path) -> None:  # type: ignore[no-untyped-def]
    url = f"postgresql+asyncpg://nobody@127.0.0.1:{free_port()}/none"
    app = scratch_app(database_url=url, nats_url=DEAD_NATS, clock=clock)
    async with app_client(app) as client:
        response = await client.post("/things/7", json=GOOD)
        assert response.status_code == 503
        assert response.json()["code"] == "DATABASE_UNAVAILABLE"
        assert response.headers["retry-after"] == "1"
        ready = await client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["checks"] == {"database": "unavailable", "nats": "unavailable"}


async def test_request_id_is_passed_through_or_generated(client) -> None:  # type: ignore[no-untyped-def]
    given = await client.get("/healthz", headers={"X-Request-ID": "his-abc-123"})
    assert given.headers["x-request-id"] == "his-abc-123"
    generated = await client.get("/healthz", headers={"X-Request-ID": "bad id with spaces\n"})
    assert len(generated.headers["x-request-id"]) == 32
    assert generated.headers["x-request-id"] != "bad id with spaces"


async def test_latency_is_measured_by_route_template_not_raw_path(client) -> None:  # type: ignore[no-untyped-def]
    def observed(route: str, status: str) -> float:
        value = REGISTRY.get_sample_value(
            "http_request_duration_seconds_count",
            {"service": "scratch", "method": "POST", "route": route, "status": status},
        )
        return value or 0.0

    before = observed("/things/{thing_id}", "201")
    await client.post("/things/1", json=GOOD)
    await client.post("/things/2", json=GOOD)
    assert observed("/things/{thing_id}", "201") == before + 2
    assert observed("/things/1", "201") == 0.0
    metrics = await client.get("/metrics")
    assert metrics.status_code == 200
    assert 'route="/things/{thing_id}"' in metrics.text


async def test_the_access_log_never_carries_the_query_string(
    client, caplog: pytest.LogCaptureFixture
) -> None:  # type: ignore[no-untyped-def]
    with caplog.at_level(logging.INFO, logger="access"):
        await client.get("/things/count?certno=420102199003071234")
    lines = [record.getMessage() for record in caplog.records if record.name == "access"]
    assert lines == ["GET /things/count 200"]
