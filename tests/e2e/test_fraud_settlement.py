"""Fraud and settlement through real NATS: settlement asks fraud.review before it settles, fraud's post rules
judge what was settled, and a finding decided in a case comes back as a recovery and a penalty in the month.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, timedelta
from typing import Any

import httpx
import nats
import pytest
import sqlalchemy as sa
from fastapi import FastAPI

from common.clock import FrozenClock
from common.config import AppEnv
from common.events.contracts import Subject
from common.events.enrollment import PersonDeceased
from common.events.envelope import new_event
from common.testing.apps import app_client, wait_for
from common.testing.databases import Databases
from fraud.app import create_app as create_fraud
from fraud.config import Settings as FraudSettings
from fraud.models import CatalogLimit, ClaimRecord, TraceCodeUse
from settlement.app import create_app as create_settlement
from settlement.config import Settings as SettlementSettings
from tests.settlement.conftest import at_shanghai
from tests.settlement.seed import seed_person

H1, Y1 = "H1", "Y1"


@pytest.fixture
async def apps(
    databases: Databases, nats_url: str, clock: FrozenClock
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient, FastAPI, httpx.AsyncClient]]:
    clock.set(at_shanghai(2026, 3, 1, 9))
    fraud = create_fraud(
        FraudSettings(database_url=databases.url("fraud"), nats_url=nats_url, app_env=AppEnv.TEST),
        clock=clock,
    )
    settlement = create_settlement(
        SettlementSettings(
            database_url=databases.url("settlement"),
            nats_url=nats_url,
            app_env=AppEnv.TEST,
            review_enabled=True,
            review_timeout_ms=1000,  # generous on a loaded CI machine; the budget itself is measured by the bench
        ),
        clock=clock,
    )
    async with app_client(fraud) as fraud_api, app_client(settlement) as settle_api:
        await wait_for(lambda: fraud.state.nats.connected and settlement.state.nats.connected, what="NATS")
        for code, body in (
            (H1, {"fixmedins_name": "市第一医院", "fixmedins_type": "hospital", "hosp_lv": 3, "admdvs": "420100",
                  "status": "active"}),
            (Y1, {"fixmedins_name": "大药房", "fixmedins_type": "pharmacy", "admdvs": "420100", "status": "active"}),
        ):  # fmt: skip
            assert (await settle_api.put(f"/institutions/{code}", json=body)).status_code == 201
        for item in ("A01", "D01"):
            assert (
                await settle_api.put(f"/catalog/{item}", json={"name": item, "chrgitm_lv": "01"})
            ).status_code == 201
        for psn_no in ("P1", "P2", "P3"):
            await seed_person(settlement.state.db, psn_no, coverage_id=int(psn_no[1:]))

        async def catalogue_projected() -> bool:
            async with fraud.state.db.transaction(readonly=True) as session:
                return await session.scalar(sa.select(sa.func.count()).select_from(CatalogLimit)) == 2

        await wait_for(catalogue_projected, timeout=15, what="fraud to project the catalogue")
        yield fraud, fraud_api, settlement, settle_api


def inpatient(
    medins_setl_id: str, psn_no: str, begin: date, days: int, dise: str, amount: str
) -> dict[str, Any]:
    end = begin + timedelta(days=days)
    return {
        "fixmedins_code": H1, "medins_setl_id": medins_setl_id, "psn_no": psn_no, "insutype": "310",
        "med_type": "21", "begntime": f"{begin}T08:00:00+08:00", "endtime": f"{end}T10:00:00+08:00",
        "dise_codg": dise, "acct_used_flag": 0,
        "feedetail": [{"feedetl_sn": "1", "med_list_codg": "A01", "cnt": "1", "pric": amount,
                       "det_item_fee_sumamt": amount, "fee_ocur_time": f"{begin}T09:00:00+08:00"}],
    }  # fmt: skip


def purchase(medins_setl_id: str, psn_no: str, day: date, codes: list[str]) -> dict[str, Any]:
    return {
        "fixmedins_code": Y1, "medins_setl_id": medins_setl_id, "psn_no": psn_no, "insutype": "310",
        "med_type": "41", "begntime": f"{day}T09:30:00+08:00", "acct_used_flag": 0,
        "feedetail": [{"feedetl_sn": "1", "med_list_codg": "D01", "cnt": "1", "pric": "45.00",
                       "det_item_fee_sumamt": "45.00", "fee_ocur_time": f"{day}T09:31:00+08:00",
                       "drug_trac_codg": codes}],
    }  # fmt: skip


async def settle(
    api: httpx.AsyncClient, clock: FrozenClock, body: dict[str, Any], on: date
) -> dict[str, Any]:
    clock.set(at_shanghai(on.year, on.month, on.day, 11))
    response = await api.post("/settlements", json=body)
    assert response.status_code == 201, response.text
    setlinfo: dict[str, Any] = response.json()["setlinfo"]
    return setlinfo


async def projected(fraud: FastAPI, setl_id: str) -> bool:
    async with fraud.state.db.transaction(readonly=True) as session:
        return await session.get(ClaimRecord, setl_id) is not None


async def findings(api: httpx.AsyncClient, **query: str) -> list[dict[str, Any]]:
    response = await api.get("/findings", params=query)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def test_three_admissions_one_finding_a_case_decided_into_the_month_as_recovery_and_penalty(
    apps: tuple[FastAPI, httpx.AsyncClient, FastAPI, httpx.AsyncClient], clock: FrozenClock
) -> None:
    fraud, fraud_api, _, settle_api = apps
    stays = [
        ("IP-1", date(2026, 3, 2), "I63.900"),
        ("IP-2", date(2026, 3, 9), "J18.900"),
        ("IP-3", date(2026, 3, 16), "K35.800"),
    ]
    setl_ids = []
    for medins_setl_id, begin, dise in stays:
        info = await settle(
            settle_api,
            clock,
            inpatient(medins_setl_id, "P1", begin, 3, dise, "5000.00"),
            begin + timedelta(days=3),
        )
        setl_ids.append(info["setl_id"])
        await wait_for(
            lambda s=info["setl_id"]: projected(fraud, s), timeout=15, what="fraud to project the stay"
        )
    third = await settle_api.get(f"/settlements/{setl_ids[2]}")
    fund_pay = third.json()["setlinfo"]["fund_pay_sumamt"]

    [finding] = await findings(fraud_api, family="admission_frequency")
    seen = (finding["psn_no"], finding["setl_id"], finding["fixmedins_code"], finding["status"])
    assert (*seen, finding["fund_pay_sumamt"]) == ("P1", setl_ids[2], H1, "open", fund_pay)
    assert await findings(fraud_api, psn_no="P1") == [finding]

    async def deducted() -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = (
            await settle_api.get("/deductions", params={"fixmedins_code": H1})
        ).json()["items"]
        return items

    # 疑点成立 alone deducts nothing: the finding goes into a case, notified on Thursday 19 March.
    clock.set(at_shanghai(2026, 3, 19, 12))
    confirmed = await fraud_api.post(
        f"/findings/{finding['finding_id']}/confirm",
        json={"amount_to_recover": "1000.00", "note": "频繁住院，疑点成立"},
    )
    assert confirmed.status_code == 200, confirmed.text
    opened = await fraud_api.post(
        "/cases", json={"findings": [{"finding_id": finding["finding_id"]}], "summary": "频繁住院疑点核查"}
    )
    assert opened.status_code == 201, opened.text
    case = opened.json()
    assert (case["proposed_amount"], case["appeal_deadline"]) == ("1000.00", "2026-03-26")
    early = await fraud_api.post(
        f"/cases/{case['case_id']}/decide",
        json={"penalty_basis": "violation", "penalty_multiple": "1.5", "note": "x"},
    )
    assert (early.status_code, early.json()["code"]) == (409, "APPEAL_WINDOW_OPEN")
    assert await deducted() == []

    # No appeal by the deadline: decided on 27 March, 1.5 × the recovery as the agreement's penalty.
    clock.set(at_shanghai(2026, 3, 27, 10))
    decided = await fraud_api.post(
        f"/cases/{case['case_id']}/decide",
        json={"penalty_basis": "violation", "penalty_multiple": "1.5", "note": "频繁住院，追回并处违约金"},
    )
    assert decided.status_code == 200, decided.text
    assert (decided.json()["recovery"], decided.json()["penalty_amount"]) == ("1000.00", "1500.00")

    async def both() -> list[dict[str, Any]] | None:
        items = await deducted()
        return items if len(items) == 2 else None

    kept = await wait_for(both, timeout=15, what="settlement to record the recovery and the penalty")
    assert sorted((d["kind"], d["finding_id"], d["amount"], d["case_id"], d["family"]) for d in kept) == [
        ("penalty", f"case:{case['case_id']}", "1500.00", str(case["case_id"]), None),
        ("recovery", str(finding["finding_id"]), "1000.00", str(case["case_id"]), "admission_frequency"),
    ]

    clock.set(at_shanghai(2026, 4, 1, 1))
    day = date(2026, 3, 2)
    while day <= date(2026, 3, 31):
        closed = await settle_api.post("/day-closes", json={"date": day.isoformat()})
        assert closed.status_code == 201, closed.text
        day += timedelta(days=1)
    month = await settle_api.post("/monthly-reconciliations", json={"month": "2026-03"})
    assert month.status_code == 201, month.text
    [h1] = [s for s in month.json()["statements"] if s["fixmedins_code"] == H1]
    assert (h1["deductions"], h1["deduction_ids"], h1["penalties"], h1["penalty_case_ids"]) == (
        "1000.00",
        [str(finding["finding_id"])],
        "1500.00",
        [str(case["case_id"])],
    )
    assert h1["net_adjustment"] == "-2500.00"


async def test_a_trace_code_sold_twice_is_blocked_at_the_second_settlement(
    apps: tuple[FastAPI, httpx.AsyncClient, FastAPI, httpx.AsyncClient], clock: FrozenClock
) -> None:
    fraud, _, _, settle_api = apps
    first = await settle(
        settle_api,
        clock,
        purchase("Y1-1", "P2", date(2026, 3, 2), ["81000000000000000001"]),
        date(2026, 3, 2),
    )

    async def code_known() -> bool:
        async with fraud.state.db.transaction(readonly=True) as session:
            key = ("81000000000000000001", "settlement", "Y1", first["setl_id"])
            return await session.get(TraceCodeUse, key) is not None

    await wait_for(code_known, timeout=15, what="fraud to project the traceability code")
    clock.set(at_shanghai(2026, 3, 3, 11))
    again = await settle_api.post(
        "/settlements", json=purchase("Y1-2", "P3", date(2026, 3, 3), ["81000000000000000001"])
    )
    assert again.status_code == 422, again.text
    assert again.json()["code"] == "REVIEW_BLOCKED"
    assert [(h["family"], h["severity"], h["feedetl_sn"], h["vola_amt"]) for h in again.json()["hits"]] == [
        ("trace_code_reuse", "block", "1", "45.00")
    ]
    fresh = await settle_api.post(
        "/settlements", json=purchase("Y1-3", "P3", date(2026, 3, 3), ["81000000000000000002"])
    )
    assert fresh.status_code == 201, fresh.text
    assert fresh.json()["review"]["status"] == "passed"


async def test_a_death_registered_after_a_later_settlement_raises_an_after_death_finding(
    apps: tuple[FastAPI, httpx.AsyncClient, FastAPI, httpx.AsyncClient], clock: FrozenClock, nats_url: str
) -> None:
    fraud, fraud_api, _, settle_api = apps
    info = await settle(
        settle_api,
        clock,
        inpatient("IP-9", "P3", date(2026, 3, 10), 2, "I21.000", "3000.00"),
        date(2026, 3, 12),
    )
    await wait_for(lambda: projected(fraud, info["setl_id"]), timeout=15, what="fraud to project the stay")
    assert await findings(fraud_api, family="after_death") == []

    event = new_event(
        type=Subject.PERSON_DECEASED,
        source="enrollment",
        subject="P3",
        data=PersonDeceased(psn_no="P3", death_date=date(2026, 3, 5)).model_dump(mode="json"),
        clock=clock,
    )
    publisher = await nats.connect(nats_url)
    try:
        await publisher.jetstream().publish(
            event.type, event.to_bytes(), headers={"Nats-Msg-Id": str(event.id)}
        )
    finally:
        await publisher.close()

    found = await wait_for(
        lambda: findings(fraud_api, family="after_death"), timeout=15, what="an after_death finding"
    )
    assert [(f["psn_no"], f["setl_id"], f["status"], f["category"]) for f in found] == [
        ("P3", info["setl_id"], "open", "fraud")
    ]
