"""Scopes end to end through the gateway: each role tried on what it must not reach, against live services."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from common.clock import FrozenClock
from common.config import AppEnv
from common.testing.apps import LiveServer
from common.testing.databases import Databases
from enrollment.app import create_app as create_enrollment
from enrollment.config import Settings as EnrollmentSettings
from gateway.app import create_app as create_gateway
from settlement.app import create_app as create_settlement
from settlement.config import Settings as SettlementSettings
from tests.gateway.test_proxy import bearer, gateway_client, gateway_settings
from tests.settlement.seed import credit_account, seed_catalog, seed_institution, seed_person

HOSPITAL_A, HOSPITAL_B, PHARMACY = "H42010000001", "H42010000002", "P42010000001"


@dataclass
class Clients:
    client: httpx.AsyncClient
    keys: dict[str, str]


@pytest.fixture
async def platform(
    databases: Databases, nats_url: str, clock: FrozenClock, tmp_path: Path
) -> AsyncIterator[tuple[FastAPI, Path]]:
    enrollment = LiveServer(
        create_enrollment(
            EnrollmentSettings(
                database_url=databases.url("enrollment"), nats_url=nats_url, app_env=AppEnv.TEST
            ),
            clock=clock,
        )
    )
    settlement = LiveServer(
        create_settlement(
            SettlementSettings(
                database_url=databases.url("settlement"),
                nats_url=nats_url,
                app_env=AppEnv.TEST,
                review_enabled=False,
            ),
            clock=clock,
        )
    )
    await enrollment.start()
    await settlement.start()
    db = settlement.app.state.db
    for code, kind in ((HOSPITAL_A, "hospital"), (HOSPITAL_B, "hospital"), (PHARMACY, "pharmacy")):
        await seed_institution(db, code, fixmedins_type=kind)
    await seed_catalog(db, "A01", "01")
    await seed_person(db, "P1")
    await credit_account(db, "P1", 10_000)
    gateway = create_gateway(
        gateway_settings(
            databases, nats_url, tmp_path, enrollment_url=enrollment.url, settlement_url=settlement.url
        ),
        clock=clock,
    )
    try:
        yield gateway, tmp_path
    finally:
        await enrollment.stop()
        await settlement.stop()


@pytest.fixture
async def clients(platform: tuple[FastAPI, Path]) -> AsyncIterator[Clients]:
    gateway, var_dir = platform
    async with gateway_client(gateway, var_dir) as (client, ops_key):
        keys = {"ops": ops_key}
        for name, role, scope in (
            ("his-a", "his", HOSPITAL_A),
            ("his-b", "his", HOSPITAL_B),
            ("pos", "pos", PHARMACY),
            ("public", "public", None),
        ):
            issued = await client.post(
                "/admin/clients",
                headers=bearer(ops_key),
                json={"name": name, "role": role, **({"scope": scope} if scope else {})},
            )
            assert issued.status_code == 201, issued.text
            keys[name] = issued.json()["api_key"]
        yield Clients(client, keys)


def claim(code: str, medins_setl_id: str, med_type: str = "11") -> dict[str, Any]:
    return {
        "fixmedins_code": code,
        "medins_setl_id": medins_setl_id,
        "psn_no": "P1",
        "insutype": "310",
        "med_type": med_type,
        "begntime": "2026-03-02T09:30:00+08:00",
        "acct_used_flag": 1,
        "feedetail": [
            {
                "feedetl_sn": "1",
                "med_list_codg": "A01",
                "cnt": "1",
                "pric": "20",
                "det_item_fee_sumamt": "20.00",
                "fee_ocur_time": "2026-03-02T09:40:00+08:00",
            }
        ],
    }


async def test_a_hospital_settles_and_sees_only_as_itself(clients: Clients) -> None:
    client, keys = clients.client, clients.keys
    made = await client.post(
        "/settlement/settlements", headers=bearer(keys["his-a"]), json=claim(HOSPITAL_A, "A-1")
    )
    assert made.status_code == 201, made.text
    setl_id = made.json()["setlinfo"]["setl_id"]
    mdtrt_id = made.json()["setlinfo"]["mdtrt_id"]
    as_b = bearer(keys["his-b"])
    forbidden = {
        "settle as another": await client.post(
            "/settlement/settlements", headers=as_b, json=claim(HOSPITAL_A, "B-1")
        ),
        "another's settlement": await client.get(f"/settlement/settlements/{setl_id}", headers=as_b),
        "another's visit": await client.get(f"/settlement/visits/{mdtrt_id}", headers=as_b),
        "another's reversal": await client.post(
            f"/settlement/settlements/{setl_id}/reversal", headers=as_b, json={"reason": "x"}
        ),
        "another's settlement list": await client.get(
            "/settlement/settlements", headers=as_b, params={"fixmedins_code": HOSPITAL_A}
        ),
        "another's statements": await client.get(
            "/settlement/daily-statements", headers=as_b, params={"fixmedins_code": HOSPITAL_A}
        ),
        "another's disbursements": await client.get(
            "/settlement/disbursements", headers=as_b, params={"fixmedins_code": HOSPITAL_A}
        ),
        "another's institution": await client.get(f"/settlement/institutions/{HOSPITAL_A}", headers=as_b),
        "another's day": await client.get(f"/settlement/institutions/{HOSPITAL_A}/activity", headers=as_b),
        "another's totals": await client.post(
            "/settlement/reconciliations/totals",
            headers=as_b,
            json={
                "fixmedins_code": HOSPITAL_A,
                "begndate": "2026-03-01",
                "enddate": "2026-03-02",
                "medfee_sumamt": "20.00",
                "fund_pay_sumamt": "0.00",
                "acct_pay": "20.00",
                "fixmedins_setl_cnt": 1,
            },
        ),
        "another's details": await client.post(
            "/settlement/reconciliations/details",
            headers=as_b,
            json={
                "fixmedins_code": HOSPITAL_A,
                "begndate": "2026-03-01",
                "enddate": "2026-03-02",
                "items": [
                    {
                        "setl_id": setl_id,
                        "medfee_sumamt": "20.00",
                        "fund_pay_sumamt": "0.00",
                        "acct_pay": "20.00",
                    }
                ],
            },
        ),
    }
    assert {name: (r.status_code, r.json()["code"]) for name, r in forbidden.items()} == {
        name: (403, "SCOPE_FORBIDDEN") for name in forbidden
    }
    own = await client.get(f"/settlement/settlements/{setl_id}", headers=bearer(keys["his-a"]))
    assert own.status_code == 200
    listed = await client.get("/settlement/settlements", headers=as_b)
    assert listed.json()["items"] == []


async def test_institution_clients_cannot_do_the_bureaus_work(clients: Clients) -> None:
    client, keys = clients.client, clients.keys
    for name in ("his-a", "pos"):
        headers = bearer(keys[name])
        refused = {
            "list persons": await client.get("/enrollment/persons", headers=headers),
            "ledger check": await client.get("/settlement/ledger/check", headers=headers),
            "close a day": await client.post(
                "/settlement/day-closes", headers=headers, json={"date": "2026-03-01"}
            ),
            "change the catalogue": await client.put(
                "/settlement/catalog/A01", headers=headers, json={"name": "x", "chrgitm_lv": "03"}
            ),
            "add a policy": await client.post("/settlement/policies", headers=headers, json={}),
        }
        assert {what: r.status_code for what, r in refused.items()} == {what: 403 for what in refused}, name


async def test_a_pharmacy_settles_only_for_itself_and_the_public_reaches_no_claims(clients: Clients) -> None:
    client, keys = clients.client, clients.keys
    pos = bearer(keys["pos"])
    sold = await client.post(
        "/settlement/settlements", headers=pos, json=claim(PHARMACY, "POS-1", med_type="41")
    )
    assert sold.status_code == 201, sold.text
    as_hospital = await client.post("/settlement/settlements", headers=pos, json=claim(HOSPITAL_A, "POS-2"))
    assert (as_hospital.status_code, as_hospital.json()["code"]) == (403, "SCOPE_FORBIDDEN")
    public = bearer(keys["public"])
    for method, path in (
        ("GET", "/settlement/settlements"),
        ("POST", "/settlement/settlements"),
        ("GET", "/enrollment/persons/P1"),
    ):
        response = await client.request(method, path, headers=public, json={} if method == "POST" else None)
        assert response.status_code == 403, (method, path)
    assert (await client.get("/settlement/ledger/check", headers=bearer(keys["ops"]))).json()[
        "balanced"
    ] is True
