"""The gateway's overviews: sections fetched from the services at once, partial when one is down."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest

from common.clock import FrozenClock
from common.config import AppEnv
from common.testing.apps import LiveServer, wait_for
from common.testing.databases import Databases
from enrollment.app import create_app as create_enrollment
from enrollment.config import Settings as EnrollmentSettings
from enrollment.domain.certno import check_char
from fraud.app import create_app as create_fraud
from fraud.config import Settings as FraudSettings
from gateway.app import create_app as create_gateway
from pricing.app import create_app as create_pricing
from pricing.config import Settings as PricingSettings
from settlement.app import create_app as create_settlement
from settlement.config import Settings as SettlementSettings
from tests.gateway.conftest import HOSPITAL_A, Clients, bearer, claim, gateway_client, gateway_settings
from tests.settlement.seed import seed_catalog, seed_institution, seed_person


async def test_a_persons_overview_gathers_enrollment_and_settlement_and_marks_what_is_missing(
    clients: Clients,
) -> None:
    client, ops = clients.client, bearer(clients.keys["ops"])
    first17 = f"420102{date(1980, 5, 1):%Y%m%d}123"
    registered = await client.post(
        "/enrollment/persons",
        headers=ops,
        json={"certno": first17 + check_char(first17), "psn_name": "王五", "admdvs": "420100"},
    )
    assert registered.status_code == 201, registered.text
    psn_no = registered.json()["psn_no"]

    async def projected() -> bool:
        return (await client.get(f"/settlement/accounts/{psn_no}", headers=ops)).status_code == 200

    await wait_for(projected, timeout=15, what="settlement to learn of the person")
    overview = await client.get(f"/overview/persons/{psn_no}", headers=ops)
    assert overview.status_code == 200, overview.text
    body = overview.json()
    assert body["psn_no"] == psn_no
    assert {name: (s["service"], s["status"]) for name, s in body["sections"].items()} == {
        "person": ("enrollment", "ok"),
        "eligibility": ("enrollment", "ok"),
        "account": ("settlement", "ok"),
        "recent_settlements": ("settlement", "ok"),
        "open_findings": ("fraud", "unavailable"),  # no fraud service in this platform
    }
    assert body["partial"] is True
    assert body["sections"]["person"]["data"]["certno"] == first17 + check_char(first17)
    assert body["sections"]["account"]["data"]["balc"] == "0.00"
    assert body["sections"]["eligibility"]["data"]["reason"] == "NO_COVERAGE"
    missing = await client.get("/overview/persons/PNOBODY", headers=ops)
    assert (missing.status_code, missing.json()["code"]) == (404, "PERSON_NOT_FOUND")


async def test_an_institutions_overview_has_todays_totals_and_is_for_ops_only(
    clients: Clients,
) -> None:
    client, keys = clients.client, clients.keys
    made = await client.post(
        "/settlement/settlements", headers=bearer(keys["his-a"]), json=claim(HOSPITAL_A, "OV-1")
    )
    assert made.status_code == 201, made.text
    overview = await client.get(f"/overview/institutions/{HOSPITAL_A}", headers=bearer(keys["ops"]))
    assert overview.status_code == 200, overview.text
    sections = overview.json()["sections"]
    assert {name: s["status"] for name, s in sections.items()} == {
        "institution": "ok",
        "today": "ok",
        "last_statements": "ok",
        "open_findings": "unavailable",
        "open_alerts": "unavailable",
        "points": "ok",
    }
    assert (sections["today"]["data"]["setl_cnt"], sections["today"]["data"]["medfee_sumamt"]) == (1, "20.00")
    assert sections["institution"]["data"]["fixmedins_code"] == HOSPITAL_A
    assert overview.json()["partial"] is True
    unknown = await client.get("/overview/institutions/NOWHERE", headers=bearer(keys["ops"]))
    assert (unknown.status_code, unknown.json()["code"]) == (404, "INSTITUTION_NOT_FOUND")
    for name in ("his-a", "pos", "public"):
        refused = await client.get(f"/overview/institutions/{HOSPITAL_A}", headers=bearer(keys[name]))
        assert (refused.status_code, refused.json()["code"]) == (403, "ROLE_FORBIDDEN"), name


async def test_an_institutions_overview_shows_where_it_stands_in_each_pools_budget_this_year(
    clients: Clients,
) -> None:
    client, ops = clients.client, bearer(clients.keys["ops"])

    async def overview() -> dict[str, Any]:
        answered = await client.get(f"/overview/institutions/{HOSPITAL_A}", headers=ops)
        assert answered.status_code == 200, answered.text
        body: dict[str, Any] = answered.json()
        return body

    # No payment year yet: settlement answers 404 PAYMENT_YEAR_NOT_FOUND for each pool, which is no failure.
    before = await overview()
    assert before["sections"]["points"] == {
        "service": "settlement",
        "status": "ok",
        "data": [],
        "error": None,
    }
    assert before["sections"]["institution"]["status"] == "ok"

    year = await client.put(
        "/settlement/payment-years/2026/310", headers=ops, json={"method": "dip", "budget": "30000000.00"}
    )
    assert year.status_code == 201, year.text
    institution = (await client.get(f"/settlement/institutions/{HOSPITAL_A}", headers=ops)).json()
    flagged = await client.put(
        f"/settlement/institutions/{HOSPITAL_A}",
        headers=ops,
        json={
            **{
                key: institution[key]
                for key in ("fixmedins_name", "fixmedins_type", "hosp_lv", "admdvs", "status")
            },
            "points_payment": True,
        },
    )
    assert flagged.status_code == 200, flagged.text
    stay = claim(HOSPITAL_A, "OV-PTS-1", med_type="21") | {
        "begntime": "2026-02-27T09:30:00+08:00",
        "endtime": "2026-03-01T09:00:00+08:00",
        "dise_codg": "K80.100",
    }
    made = await client.post("/settlement/settlements", headers=bearer(clients.keys["his-a"]), json=stay)
    assert made.status_code == 201, made.text

    after = await overview()
    assert after["partial"] is True  # fraud and pricing are down in this platform, not the points
    points = after["sections"]["points"]
    assert (points["service"], points["status"], points["error"]) == ("settlement", "ok", None)
    assert [(pool["year"], pool["insutype"], pool["method"]) for pool in points["data"]] == [
        (2026, "310", "dip")
    ]
    pool = points["data"][0]
    assert pool["cases"] == 1
    # One case this early in the year: its provisional entitlement is far above what the pool paid for it.
    assert pool["colour"] == "green"
    for key in ("points", "e", "f", "overrun", "provisional_point_value"):
        assert pool[key] is not None, key


@pytest.fixture
async def full_platform(
    databases: Databases, nats_url: str, clock: FrozenClock, tmp_path: Path
) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    """All four services behind the gateway, on one NATS."""

    def settings_of(module: Any, name: str, **extra: Any) -> Any:
        return module(database_url=databases.url(name), nats_url=nats_url, app_env=AppEnv.TEST, **extra)

    servers = {
        "enrollment": LiveServer(
            create_enrollment(settings_of(EnrollmentSettings, "enrollment"), clock=clock)
        ),
        "settlement": LiveServer(
            create_settlement(
                settings_of(SettlementSettings, "settlement", review_enabled=False), clock=clock
            )
        ),
        "fraud": LiveServer(create_fraud(settings_of(FraudSettings, "fraud"), clock=clock)),
        "pricing": LiveServer(create_pricing(settings_of(PricingSettings, "pricing"), clock=clock)),
    }
    for server in servers.values():
        await server.start()
    db = servers["settlement"].app.state.db
    await seed_institution(db, HOSPITAL_A)
    await seed_catalog(db, "A01", "01")
    await seed_person(db, "P1")
    gateway = create_gateway(
        gateway_settings(
            databases,
            nats_url,
            tmp_path,
            # Every service is up here: the short connect budget of the tests of services down would only
            # turn a busy machine's slow connect into a section "unavailable".
            upstream_connect_timeout_s=10.0,
            **{f"{name}_url": server.url for name, server in servers.items()},
        ),
        clock=clock,
    )
    try:
        async with gateway_client(gateway, tmp_path) as (client, key):
            yield client, key
    finally:
        for server in servers.values():
            await server.stop()


async def test_with_every_service_up_the_overviews_are_whole(
    full_platform: tuple[httpx.AsyncClient, str],
) -> None:
    client, key = full_platform
    made = await client.post("/settlement/settlements", headers=bearer(key), json=claim(HOSPITAL_A, "FULL-1"))
    assert made.status_code == 201, made.text
    institution = (await client.get(f"/overview/institutions/{HOSPITAL_A}", headers=bearer(key))).json()
    assert institution["partial"] is False
    assert {name: s["status"] for name, s in institution["sections"].items()} == dict.fromkeys(
        ("institution", "today", "last_statements", "open_findings", "open_alerts", "points"), "ok"
    )
    assert institution["sections"]["open_findings"]["data"]["items"] == []
    assert institution["sections"]["open_alerts"]["data"]["items"] == []
    # P1 was seeded into settlement's projection only; enrollment, the owner of persons, does not know it.
    person = await client.get("/overview/persons/P1", headers=bearer(key))
    assert (person.status_code, person.json().get("code")) == (404, "PERSON_NOT_FOUND"), person.text
