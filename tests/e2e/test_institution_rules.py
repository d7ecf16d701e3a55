"""Institution-level supervision through real NATS: settlement's settled cases (with the person's assistance
category) and their DRG groups (settlement.case.grouped) reach fraud, whose month run finds the hospital that
codes complications far more than its peer (高套), and whose monthly warning goes out on fraud.warning.published.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import httpx
import nats
import pytest
import sqlalchemy as sa
from fastapi import FastAPI

from common.clock import FrozenClock
from common.config import AppEnv
from common.events.contracts import FRAUD_STREAM, Subject
from common.testing.apps import app_client, wait_for
from common.testing.databases import Databases
from fraud.app import create_app as create_fraud
from fraud.config import Settings as FraudSettings
from fraud.models import CaseGrouping
from settlement.app import create_app as create_settlement
from settlement.config import Settings as SettlementSettings
from tests.settlement.conftest import at_shanghai
from tests.settlement.seed import seed_person

DAY = date(2026, 2, 10)


@pytest.fixture
async def apps(
    databases: Databases, nats_url: str, clock: FrozenClock
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient, httpx.AsyncClient]]:
    clock.set(at_shanghai(2026, 2, 10, 9))
    fraud = create_fraud(
        FraudSettings(database_url=databases.url("fraud"), nats_url=nats_url, app_env=AppEnv.TEST),
        clock=clock,
    )
    settlement = create_settlement(
        SettlementSettings(
            database_url=databases.url("settlement"),
            nats_url=nats_url,
            app_env=AppEnv.TEST,
            review_enabled=False,
        ),
        clock=clock,
    )
    async with app_client(fraud) as fraud_api, app_client(settlement) as settle_api:
        await wait_for(lambda: fraud.state.nats.connected and settlement.state.nats.connected, what="NATS")
        for code in ("H1", "H2"):
            made = await settle_api.put(
                f"/institutions/{code}",
                json={"fixmedins_name": f"医院{code}", "fixmedins_type": "hospital", "hosp_lv": 3,
                      "admdvs": "420100", "status": "active", "points_payment": True},
            )  # fmt: skip
            assert made.status_code == 201, made.text
        assert (
            await settle_api.put("/catalog/A01", json={"name": "A01", "chrgitm_lv": "01"})
        ).status_code == 201
        for number in range(1, 5):
            await seed_person(
                settlement.state.db,
                f"P{number}",
                coverage_id=number,
                assistance="minimum_living" if number == 1 else None,
            )
        year = "/points/2026"
        for path, body in (
            ("/payment-years/2026/310", {"method": "drg", "budget": "100000.00"}),
            (
                f"{year}/groups/HC21",
                {"group_name": "胆囊手术伴重要并发症", "points": "150", "avg_cost": "20000"},
            ),
            (f"{year}/groups/HC23", {"group_name": "胆囊手术伴并发症", "points": "120", "avg_cost": "15000"}),
            (
                f"{year}/groups/HC25",
                {"group_name": "胆囊手术不伴并发症", "points": "100", "avg_cost": "10000"},
            ),
            (f"{year}/drg-adrgs/HC2", {"dise_prefixes": ["K80"], "oprn_codes": ["51.2300"], "priority": 1}),
            (f"{year}/drg-complications/J96", {"level": "mcc"}),
            (f"{year}/drg-complications/E11", {"level": "cc"}),
        ):
            assert (await settle_api.put(path, json=body)).status_code == 201, path
        yield fraud, fraud_api, settle_api


def admission(key: str, code: str, psn_no: str) -> dict[str, Any]:
    return {
        "fixmedins_code": code, "medins_setl_id": key, "psn_no": psn_no, "insutype": "310", "med_type": "21",
        "begntime": f"{DAY}T08:00:00+08:00", "endtime": "2026-02-14T10:00:00+08:00", "dise_codg": "K80.100",
        "acct_used_flag": 0,
        "feedetail": [{"feedetl_sn": "1", "med_list_codg": "A01", "cnt": "1", "pric": "10000.00",
                       "det_item_fee_sumamt": "10000.00", "fee_ocur_time": f"{DAY}T09:00:00+08:00"}],
    }  # fmt: skip


def coded(secondary: str | None) -> dict[str, Any]:
    diagnoses = [{"dise_codg": "K80.100", "main": True}]
    if secondary:
        diagnoses.append({"dise_codg": secondary, "main": False})
    return {"diagnoses": diagnoses, "procedures": [{"oprn_codg": "51.2300", "main": True}]}


async def test_a_hospital_coding_complications_far_above_its_peer_is_found_and_warned(
    apps: tuple[FastAPI, httpx.AsyncClient, httpx.AsyncClient], clock: FrozenClock, nats_url: str
) -> None:
    fraud, fraud_api, settle_api = apps
    rules = {r["family"]: r["rule_id"] for r in (await fraud_api.get("/rules")).json()}
    await fraud_api.put(f"/rules/{rules['upcoding']}", json={"params": {"min_peers": 1, "min_cases": 2}})
    await fraud_api.put(
        f"/rules/{rules['high_burden']}",
        json={"params": {"thresholds_by_category": {"minimum_living": "1000"}}},
    )
    clock.set(at_shanghai(2026, 2, 14, 11))
    for key, code, psn_no, secondary in (
        ("A", "H1", "P1", "J96.000"),
        ("B", "H1", "P2", "E11.900"),
        ("C", "H2", "P3", None),
        ("D", "H2", "P4", "E11.900"),
    ):
        settled = await settle_api.post("/settlements", json=admission(key, code, psn_no))
        assert settled.status_code == 201, settled.text
        setl_id = settled.json()["setlinfo"]["setl_id"]
        listed = await settle_api.put(f"/settlements/{setl_id}/settlement-list", json=coded(secondary))
        assert listed.status_code == 201, listed.text

    async def grouped() -> bool:
        async with fraud.state.db.transaction(readonly=True) as session:
            return await session.scalar(sa.select(sa.func.count()).select_from(CaseGrouping)) == 4

    await wait_for(grouped, timeout=15, what="fraud to project the four cases' groups")
    burdens = (await fraud_api.get("/findings", params={"family": "high_burden"})).json()["items"]
    assert [(f["psn_no"], f["message"].endswith("(threshold of minimum_living)")) for f in burdens] == [
        ("P1", True)
    ]

    clock.set(at_shanghai(2026, 3, 2, 9))
    run = await fraud_api.post("/institution-rules/run", json={"month": "2026-02"})
    assert run.status_code == 200, run.text
    [found] = (await fraud_api.get("/findings", params={"family": "upcoding"})).json()["items"]
    assert (found["fixmedins_code"], found["setl_id"], found["message"]) == (
        "H1",
        None,
        "high-severity (mcc, cc) share 100.00% of 2 grouped cases in 2026-02 above 1.5 × the mean 50.00% of 1 "
        "level-3 peers",
    )

    published = await fraud_api.post("/warnings/publish", json={"month": "2026-02"})
    assert published.status_code == 200, published.text
    subscriber = await nats.connect(nats_url)
    try:
        js = subscriber.jetstream()
        pull = await js.pull_subscribe(Subject.WARNING_PUBLISHED, stream=FRAUD_STREAM.name)
        delivered: list[dict[str, Any]] = []

        async def both_out() -> bool:
            try:
                for message in await pull.fetch(10, timeout=1):
                    delivered.append(json.loads(message.data)["data"])
                    await message.ack()
            except nats.errors.TimeoutError:
                pass
            return len(delivered) == 2

        await wait_for(both_out, timeout=15, what="the two warnings on fraud.warning.published")
    finally:
        await subscriber.close()
    h1 = next(data for data in delivered if data["fixmedins_code"] == "H1")
    assert (h1["month"], h1["version"], h1["open_findings"]["by_family"]) == (
        "2026-02",
        1,
        [{"family": "upcoding", "count": 1, "vola_amt": "0.00"}],
    )
