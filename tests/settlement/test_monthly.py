"""Month reconciliation (月核算): daily statements against settlements, deductions, prepayments, the lifecycle."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import nats
import pytest
import sqlalchemy as sa
from fastapi import FastAPI

from common.clock import FrozenClock
from common.events.contracts import Subject
from common.events.envelope import EventEnvelope, new_event
from common.events.fraud import FindingConfirmed
from common.events.tables import inbox_event, outbox_event
from common.principal import Principal, Role
from common.testing.apps import wait_for
from settlement.events import FRAUD_DURABLE, on_fraud_event
from settlement.models import (
    DailyStatement,
    Deduction,
    Journal,
    JournalLeg,
    MonthlyReconciliation,
    Prepayment,
)
from tests.settlement.conftest import as_client, at_shanghai
from tests.settlement.seed import count, credit_account, seed_catalog, seed_institution, seed_person

H1, H2, Y1 = "H1", "H2", "Y1"
MARCH = "2026-03"


def claim(
    medins_setl_id: str, amount: str, *, day: int, code: str = H1, psn_no: str = "P1"
) -> dict[str, Any]:
    return {
        "fixmedins_code": code,
        "medins_setl_id": medins_setl_id,
        "psn_no": psn_no,
        "insutype": "310",
        "med_type": "41" if code == Y1 else "11",
        "begntime": f"2026-03-{day:02d}T08:00:00+08:00",
        "acct_used_flag": 1,
        "feedetail": [
            {
                "feedetl_sn": "1",
                "med_list_codg": "A01",
                "cnt": "1",
                "pric": amount,
                "det_item_fee_sumamt": amount,
                "fee_ocur_time": f"2026-03-{day:02d}T08:10:00+08:00",
            }
        ],
    }


def finding(
    finding_id: str, code: str, amount: str, confirmed_at: datetime, *, setl_id: str | None = None
) -> FindingConfirmed:
    return FindingConfirmed(
        finding_id=finding_id,
        rule_id="R-SPLIT-1",
        rule_version=2,
        family="split_admission",
        setl_id=setl_id,
        psn_no="P2" if setl_id else None,
        fixmedins_code=code,
        amount_to_recover=Decimal(amount),
        note="分解住院，追回统筹基金",
        confirmed_at=confirmed_at,
        confirmed_by="auditor-1",
    )


def finding_event(data: FindingConfirmed, clock: FrozenClock) -> EventEnvelope:
    return new_event(
        type=Subject.FINDING_CONFIRMED,
        source="fraud",
        subject=data.finding_id,
        data=data.model_dump(mode="json"),
        clock=clock,
    )


async def publish(app: FastAPI, nats_url: str, *events: EventEnvelope) -> None:
    """Publish to JetStream as the fraud service's relay would (Nats-Msg-Id = event id)."""
    await wait_for(lambda: app.state.nats.connected, what="settlement connected to NATS")
    publisher = await nats.connect(nats_url)
    try:
        js = publisher.jetstream()
        for event in events:
            await js.publish(event.type, event.to_bytes(), headers={"Nats-Msg-Id": str(event.id)})
    finally:
        await publisher.close()


async def applied_findings(app: FastAPI) -> int:
    async with app.state.db.transaction(readonly=True) as session:
        found = await session.scalar(
            sa.select(sa.func.count()).where(inbox_event.c.consumer == FRAUD_DURABLE)
        )
    return int(found or 0)


async def deliver(app: FastAPI, nats_url: str, *events: EventEnvelope, distinct: int | None = None) -> None:
    """Publish and wait until the consumer has applied the distinct events."""
    before = await applied_findings(app)
    await publish(app, nats_url, *events)
    want = before + (len(events) if distinct is None else distinct)

    async def applied() -> bool:
        return await applied_findings(app) == want

    await wait_for(applied, what=f"{want} findings applied")


async def deductions(app: FastAPI) -> dict[str, tuple[str, int, str | None]]:
    async with app.state.db.transaction(readonly=True) as session:
        rows = (await session.scalars(sa.select(Deduction))).all()
    return {row.finding_id: (row.fixmedins_code, row.amount_fen, row.month_applied) for row in rows}


async def prepayment_months(app: FastAPI) -> dict[int, str | None]:
    async with app.state.db.transaction(readonly=True) as session:
        rows = (await session.scalars(sa.select(Prepayment))).all()
    return {row.prepayment_id: row.recovered_month for row in rows}


async def month_events(app: FastAPI) -> list[dict[str, Any]]:
    async with app.state.db.transaction(readonly=True) as session:
        rows = (await session.execute(sa.select(outbox_event.c.type, outbox_event.c.payload))).all()
    return [json.loads(payload)["data"] for kind, payload in rows if kind == Subject.MONTH_RECONCILED]


async def close_days(api: httpx.AsyncClient, clock: FrozenClock, first: date, last: date) -> None:
    """Close each day from first to last in order, with the clock just after the last one ended."""
    clock.set(at_shanghai(last.year, last.month, last.day, 1) + timedelta(days=1))
    day = first
    while day <= last:
        closed = await api.post("/day-closes", json={"date": day.isoformat()})
        assert closed.status_code == 201, closed.text
        day += timedelta(days=1)


async def settle(api: httpx.AsyncClient, body: dict[str, Any]) -> str:
    response = await api.post("/settlements", json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["setlinfo"]["setl_id"])


async def prepay(api: httpx.AsyncClient, code: str, amount: str, paid_date: str) -> int:
    response = await api.post(
        "/prepayments", json={"fixmedins_code": code, "amount": amount, "paid_date": paid_date}
    )
    assert response.status_code == 201, response.text
    return int(response.json()["prepayment_id"])


def zero_totals(**amounts: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "setl_cnt": 0,
        "reversal_cnt": 0,
        "medfee_sumamt": "0.00",
        "inscp_scp_amt": "0.00",
        "hifp_pay": "0.00",
        "hifmi_pay": "0.00",
        "hifob_pay": "0.00",
        "maf_pay": "0.00",
        "fund_pay_sumamt": "0.00",
        "acct_pay": "0.00",
        "acct_mulaid_pay": "0.00",
        "psn_cash_pay": "0.00",
    }
    return {**base, **amounts}


# H1 over March: A (P1, 800.00: 700 deductible, 60.00 pool, 100.00 account) and B (P2, 1,000.00: 180.00 pool)
# on 2 March; A reversed on 3 March; C (P2, 100.00: 60.00 pool) on 15 March.
H1_MARCH = zero_totals(
    setl_cnt=3,
    reversal_cnt=1,
    medfee_sumamt="1100.00",
    inscp_scp_amt="1100.00",
    hifp_pay="240.00",
    fund_pay_sumamt="240.00",
    psn_cash_pay="860.00",
)
# H2: L (P2, 200.00 at level 3: 100.00 pool), settled on 2 March after that day was closed → closed 3 March.
H2_MARCH = zero_totals(
    setl_cnt=1,
    medfee_sumamt="200.00",
    inscp_scp_amt="200.00",
    hifp_pay="100.00",
    fund_pay_sumamt="100.00",
    psn_cash_pay="100.00",
)


@pytest.fixture
async def city(settlement_app: FastAPI, api: httpx.AsyncClient, clock: FrozenClock) -> FastAPI:
    db = settlement_app.state.db
    await seed_institution(db, H1, hosp_lv=2)
    await seed_institution(db, H2, hosp_lv=3)
    await seed_institution(db, Y1, fixmedins_type="pharmacy")
    await seed_catalog(db, "A01", "01")
    await seed_person(db, "P1")
    await seed_person(db, "P2", coverage_id=2)
    await credit_account(db, "P1", 10_000)  # 100.00
    clock.set(at_shanghai(2026, 3, 2, 9))
    return settlement_app


async def live_march(api: httpx.AsyncClient, clock: FrozenClock) -> dict[str, str]:
    """March as it happens: settlements over several days, a late one, a reversal; every day closed."""
    ids = {
        "A": await settle(api, claim("A", "800.00", day=2)),
        "B": await settle(api, claim("B", "1000.00", day=2, psn_no="P2")),
    }
    clock.set(at_shanghai(2026, 3, 3, 0, 40))
    assert (await api.post("/day-closes", json={"date": "2026-03-02"})).status_code == 201
    # A replica whose clock still says 2 March commits after that day was closed: it lands on 3 March.
    clock.set(at_shanghai(2026, 3, 2, 23, 59))
    ids["L"] = await settle(api, claim("L", "200.00", day=2, code=H2, psn_no="P2"))
    clock.set(at_shanghai(2026, 3, 3, 10))
    reversal = await api.post(f"/settlements/{ids['A']}/reversal", json={"reason": "患者退费"})
    assert reversal.status_code == 201, reversal.text
    ids["A-"] = reversal.json()["setl_id"]
    clock.set(at_shanghai(2026, 3, 15, 10))
    ids["C"] = await settle(api, claim("C", "100.00", day=15, psn_no="P2"))
    await close_days(api, clock, date(2026, 3, 3), date(2026, 3, 31))
    return ids


# --- the month's figures --------------------------------------------------------------------------------


async def test_a_month_sums_its_closed_days_against_its_settlements_and_nets_deductions_and_prepayments(
    city: FastAPI, api: httpx.AsyncClient, clock: FrozenClock, nats_url: str
) -> None:
    advance = await prepay(api, H1, "5000.00", "2026-03-01")
    pharmacy_advance = await prepay(api, Y1, "300.00", "2026-03-02")
    ids = await live_march(api, clock)
    await deliver(
        city,
        nats_url,
        finding_event(finding("F1", H1, "50.00", at_shanghai(2026, 3, 20), setl_id=ids["B"]), clock),
        # Confirmed at 00:30 on 1 April in Shanghai (still 31 March in UTC): April's.
        finding_event(finding("F4", H1, "20.00", at_shanghai(2026, 4, 1, 0, 30)), clock),
    )

    computed = await api.post("/monthly-reconciliations", json={"month": MARCH})
    assert computed.status_code == 201, computed.text
    body = computed.json()
    assert (body["month"], body["status"], body["balanced"], body["computed_by"]) == (
        MARCH,
        "draft",
        True,
        "ops-test",
    )
    assert (body["confirmed_at"], body["locked_at"]) == (None, None)
    by_code = {s["fixmedins_code"]: s for s in body["statements"]}
    assert list(by_code) == [H1, H2, Y1]
    h1 = by_code[H1]
    assert (h1["statements"], h1["settlements"], h1["mismatches"], h1["balanced"]) == (
        H1_MARCH,
        H1_MARCH,
        [],
        True,
    )
    assert (h1["deductions"], h1["deduction_ids"], h1["prepayments"], h1["prepayment_ids"]) == (
        "50.00",
        ["F1"],
        "5000.00",
        [advance],
    )
    # Negative: H1 owes the bureau 5,050.00, withheld from its next disbursements.
    assert h1["net_adjustment"] == "-5050.00"
    h2 = by_code[H2]
    assert (h2["statements"], h2["settlements"], h2["deductions"], h2["net_adjustment"]) == (
        H2_MARCH,
        H2_MARCH,
        "0.00",
        "0.00",
    )
    # An institution with no activity but an outstanding prepayment has a statement too.
    y1 = by_code[Y1]
    assert (y1["statements"], y1["settlements"], y1["prepayment_ids"], y1["net_adjustment"]) == (
        zero_totals(),
        zero_totals(),
        [pharmacy_advance],
        "-300.00",
    )

    # A finding confirmed on the month's last evening arrives; the draft is recomputed and takes it.
    await deliver(
        city, nats_url, finding_event(finding("F2", H2, "30.00", at_shanghai(2026, 3, 31, 23)), clock)
    )
    recomputed = await api.post("/monthly-reconciliations", json={"month": MARCH})
    assert recomputed.status_code == 200, recomputed.text
    again = {s["fixmedins_code"]: s for s in recomputed.json()["statements"]}
    assert (again[H2]["deductions"], again[H2]["deduction_ids"], again[H2]["net_adjustment"]) == (
        "30.00",
        ["F2"],
        "-30.00",
    )
    assert again[H1] | {"computed_at": None} == h1 | {"computed_at": None}
    # A draft takes nothing yet.
    assert {k: v[2] for k, v in (await deductions(city)).items()} == {"F1": None, "F2": None, "F4": None}
    assert await prepayment_months(city) == {advance: None, pharmacy_advance: None}
    assert (await api.get(f"/monthly-reconciliations/{MARCH}")).json() == recomputed.json()
    statement = await api.get(f"/monthly-reconciliations/{MARCH}/statements/{H2}")
    assert statement.json() == again[H2]


async def test_confirm_takes_deductions_and_prepayments_lock_freezes_and_later_ones_land_in_the_next_month(
    city: FastAPI, api: httpx.AsyncClient, clock: FrozenClock, nats_url: str
) -> None:
    advance = await prepay(api, H1, "5000.00", "2026-03-01")
    await live_march(api, clock)
    await deliver(
        city,
        nats_url,
        finding_event(finding("F1", H1, "50.00", at_shanghai(2026, 3, 20)), clock),
        finding_event(finding("F4", H1, "20.00", at_shanghai(2026, 4, 1, 0, 30)), clock),
    )
    assert (await api.post("/monthly-reconciliations", json={"month": MARCH})).status_code == 201
    # April cannot be computed while March is open.
    april_first = await api.post("/monthly-reconciliations", json={"month": "2026-04"})
    assert (april_first.status_code, april_first.json()["code"], april_first.json()["open_months"]) == (
        409,
        "PREVIOUS_MONTH_OPEN",
        [MARCH],
    )
    early_lock = await api.post(f"/monthly-reconciliations/{MARCH}/lock")
    assert (early_lock.status_code, early_lock.json()["code"]) == (409, "MONTH_NOT_CONFIRMED")

    confirmed = await api.post(f"/monthly-reconciliations/{MARCH}/confirm")
    assert confirmed.status_code == 200, confirmed.text
    assert (confirmed.json()["status"], confirmed.json()["confirmed_by"]) == ("confirmed", "ops-test")
    assert {k: v[2] for k, v in (await deductions(city)).items()} == {"F1": MARCH, "F4": None}
    assert await prepayment_months(city) == {advance: MARCH}
    outstanding = (await api.get("/prepayments", params={"outstanding": "true"})).json()["items"]
    assert outstanding == []
    (event,) = await month_events(city)
    assert (event["month"], event["confirmed_by"]) == (MARCH, "ops-test")
    assert [
        (i["fixmedins_code"], i["net_adjustment"], i["deduction_ids"]) for i in event["institutions"]
    ] == [
        (H1, "-5050.00", ["F1"]),
        (H2, "0.00", []),
    ]
    assert event["institutions"][0]["statements"] == H1_MARCH
    # The deduction and the prepayment are journals of the ledger, and it still balances.
    async with city.state.db.transaction(readonly=True) as session:
        journals = (
            await session.execute(
                sa.select(Journal.kind, Journal.ref, JournalLeg.account, JournalLeg.amount_fen)
                .join(JournalLeg, JournalLeg.journal_id == Journal.journal_id)
                .where(Journal.kind.in_(("deduction", "prepayment")))
                .order_by(JournalLeg.leg_id)
            )
        ).all()
    assert [tuple(row) for row in journals] == [
        ("prepayment", f"prepayment:{advance}", f"inst_payable:{H1}", 500_000),
        ("prepayment", f"prepayment:{advance}", "bank:fund", -500_000),
        ("deduction", "deduction:F1", f"inst_payable:{H1}", 5_000),
        ("deduction", "deduction:F1", "fund:recovered", -5_000),
    ]
    assert (await api.get("/ledger/check")).json()["balanced"] is True
    # Confirming again is a retry: the same month, no second event.
    assert (await api.post(f"/monthly-reconciliations/{MARCH}/confirm")).json() == confirmed.json()
    assert len(await month_events(city)) == 1
    not_draft = await api.post("/monthly-reconciliations", json={"month": MARCH})
    assert (not_draft.status_code, not_draft.json()["code"]) == (409, "MONTH_NOT_DRAFT")

    locked = await api.post(f"/monthly-reconciliations/{MARCH}/lock")
    assert locked.status_code == 200, locked.text
    assert (locked.json()["status"], locked.json()["locked_by"]) == ("locked", "ops-test")
    assert (await api.post(f"/monthly-reconciliations/{MARCH}/lock")).json() == locked.json()
    for refused in (
        await api.post("/monthly-reconciliations", json={"month": MARCH}),
        await api.post(f"/monthly-reconciliations/{MARCH}/confirm"),
    ):
        assert (refused.status_code, refused.json()["code"], refused.json()["month_status"]) == (
            409,
            "MONTH_NOT_DRAFT",
            "locked",
        )

    # A finding confirmed in March but arriving after the lock changes nothing in March: April takes it.
    await deliver(city, nats_url, finding_event(finding("F3", H2, "12.34", at_shanghai(2026, 3, 25)), clock))
    assert (await api.get(f"/monthly-reconciliations/{MARCH}")).json() == locked.json()
    await close_days(api, clock, date(2026, 4, 1), date(2026, 4, 30))
    april = await api.post("/monthly-reconciliations", json={"month": "2026-04"})
    assert april.status_code == 201, april.text
    assert [
        (s["fixmedins_code"], s["statements"], s["deduction_ids"], s["deductions"], s["net_adjustment"])
        for s in april.json()["statements"]
    ] == [
        (H1, zero_totals(), ["F4"], "20.00", "-20.00"),
        (H2, zero_totals(), ["F3"], "12.34", "-12.34"),
    ]


async def test_a_corrupted_daily_statement_is_reported_with_its_settlements_and_blocks_confirmation(
    city: FastAPI, api: httpx.AsyncClient, clock: FrozenClock, nats_url: str
) -> None:
    ids = await live_march(api, clock)
    await deliver(city, nats_url, finding_event(finding("F1", H1, "50.00", at_shanghai(2026, 3, 20)), clock))
    db = city.state.db
    async with db.transaction() as session:
        await session.execute(
            sa.update(DailyStatement)
            .where(DailyStatement.fixmedins_code == H1, DailyStatement.business_date == date(2026, 3, 2))
            .values(medfee_fen=DailyStatement.medfee_fen + 1000, setl_cnt=3)
        )
    body = (await api.post("/monthly-reconciliations", json={"month": MARCH})).json()
    assert body["balanced"] is False
    h1, h2 = body["statements"][0], body["statements"][1]
    assert (h1["balanced"], h2["balanced"]) == (False, True)
    assert h1["settlements"] == H1_MARCH
    assert (h1["statements"]["setl_cnt"], h1["statements"]["medfee_sumamt"]) == (4, "1110.00")
    (mismatch,) = h1["mismatches"]
    assert (mismatch["business_date"], mismatch["fields"], mismatch["setl_id_count"]) == (
        "2026-03-02",
        ["setl_cnt", "medfee_sumamt"],
        2,
    )
    assert mismatch["setl_ids"] == sorted([ids["A"], ids["B"]])
    assert (mismatch["statements"]["medfee_sumamt"], mismatch["settlements"]["medfee_sumamt"]) == (
        "1810.00",
        "1800.00",
    )
    refused = await api.post(f"/monthly-reconciliations/{MARCH}/confirm")
    assert (refused.status_code, refused.json()["code"], refused.json()["institutions"]) == (
        409,
        "MONTH_UNBALANCED",
        [H1],
    )
    assert (await deductions(city))["F1"][2] is None
    assert (await api.get(f"/monthly-reconciliations/{MARCH}")).json()["status"] == "draft"
    assert await month_events(city) == []

    # Repaired and recomputed it balances; a statement changed after the computation is caught at confirm.
    async with db.transaction() as session:
        await session.execute(
            sa.update(DailyStatement)
            .where(DailyStatement.fixmedins_code == H1, DailyStatement.business_date == date(2026, 3, 2))
            .values(medfee_fen=DailyStatement.medfee_fen - 1000, setl_cnt=2)
        )
    assert (await api.post("/monthly-reconciliations", json={"month": MARCH})).json()["balanced"] is True
    async with db.transaction() as session:
        await session.execute(
            sa.update(DailyStatement)
            .where(DailyStatement.fixmedins_code == H2)
            .values(psn_cash_pay_fen=DailyStatement.psn_cash_pay_fen - 1)
        )
    stale = await api.post(f"/monthly-reconciliations/{MARCH}/confirm")
    assert (stale.status_code, stale.json()["code"], stale.json()["fixmedins_code"]) == (
        409,
        "RECONCILIATION_STALE",
        H2,
    )
    assert (await deductions(city))["F1"][2] is None


# --- preconditions: closed days, months in order ------------------------------------------------------


async def test_months_are_computed_only_when_closed_and_in_order(
    city: FastAPI, api: httpx.AsyncClient, clock: FrozenClock
) -> None:
    await settle(api, claim("A", "800.00", day=2))
    await close_days(api, clock, date(2026, 3, 2), date(2026, 3, 2))
    open_days = await api.post("/monthly-reconciliations", json={"month": MARCH})
    assert (open_days.status_code, open_days.json()["code"]) == (422, "MONTH_NOT_CLOSED")
    assert open_days.json()["open_dates"] == [f"2026-03-{d:02d}" for d in range(3, 32)]
    # March had activity and was never reconciled: April must wait for it.
    april = await api.post("/monthly-reconciliations", json={"month": "2026-04"})
    assert (april.status_code, april.json()["code"], april.json()["open_months"]) == (
        409,
        "PREVIOUS_MONTH_OPEN",
        [MARCH],
    )
    assert await count(city.state.db, MonthlyReconciliation) == 0

    # February is before the first close (so closed) and had nothing: an empty month, reconciled in order.
    february = await api.post("/monthly-reconciliations", json={"month": "2026-02"})
    assert (february.status_code, february.json()["statements"], february.json()["balanced"]) == (
        201,
        [],
        True,
    )
    await close_days(api, clock, date(2026, 3, 3), date(2026, 3, 31))
    while_draft = await api.post("/monthly-reconciliations", json={"month": MARCH})
    assert (while_draft.status_code, while_draft.json()["code"], while_draft.json()["open_months"]) == (
        409,
        "PREVIOUS_MONTH_OPEN",
        ["2026-02"],
    )
    assert (await api.post("/monthly-reconciliations/2026-02/confirm")).status_code == 200
    assert (await api.post("/monthly-reconciliations/2026-02/lock")).status_code == 200
    march = await api.post("/monthly-reconciliations", json={"month": MARCH})
    assert march.status_code == 201, march.text
    january = await api.post("/monthly-reconciliations", json={"month": "2026-01"})
    assert (january.status_code, january.json()["code"], january.json()["later_month"]) == (
        409,
        "LATER_MONTH_RECONCILED",
        "2026-02",
    )


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        pytest.param("POST", "/monthly-reconciliations", {"month": "2026-3"}, id="one-digit month"),
        pytest.param("POST", "/monthly-reconciliations", {"month": "2026-13"}, id="month 13"),
        pytest.param("POST", "/monthly-reconciliations", {"month": "202603"}, id="no dash"),
        pytest.param("POST", "/monthly-reconciliations", {"month": 202603}, id="a number"),
        pytest.param("POST", "/monthly-reconciliations", {}, id="no month"),
        pytest.param("POST", "/monthly-reconciliations", {"month": MARCH, "x": 1}, id="unknown field"),
        pytest.param("POST", "/monthly-reconciliations/2026-3/confirm", None, id="confirm bad month"),
        pytest.param("POST", "/monthly-reconciliations/1999-12/lock", None, id="lock out of range"),
        pytest.param("GET", "/monthly-reconciliations/March", None, id="get bad month"),
    ],
)
async def test_a_bad_month_is_422_and_writes_nothing(
    city: FastAPI, api: httpx.AsyncClient, method: str, path: str, body: dict[str, Any] | None
) -> None:
    response = await api.request(method, path, json=body)
    assert (response.status_code, response.json()["code"]) == (422, "VALIDATION_ERROR")
    assert response.headers["content-type"] == "application/problem+json"
    assert await count(city.state.db, MonthlyReconciliation) == 0


async def test_a_month_never_computed_is_404(city: FastAPI, api: httpx.AsyncClient) -> None:
    for response in (
        await api.get(f"/monthly-reconciliations/{MARCH}"),
        await api.get(f"/monthly-reconciliations/{MARCH}/statements/{H1}"),
        await api.post(f"/monthly-reconciliations/{MARCH}/confirm"),
        await api.post(f"/monthly-reconciliations/{MARCH}/lock"),
    ):
        assert (response.status_code, response.json()["code"]) == (404, "MONTH_NOT_FOUND")


# --- who sees what ----------------------------------------------------------------------------------------


async def test_an_institution_sees_only_its_own_monthly_statement(
    city: FastAPI, api: httpx.AsyncClient, clock: FrozenClock
) -> None:
    await settle(api, claim("S1", "100.00", day=2))
    await settle(api, claim("S2", "100.00", day=2, code=H2, psn_no="P2"))
    await prepay(api, H2, "100.00", "2026-03-02")
    # The first close ever is on the month's last day: it takes every earlier day with it.
    await close_days(api, clock, date(2026, 3, 31), date(2026, 3, 31))
    assert (await api.post("/monthly-reconciliations", json={"month": MARCH})).status_code == 201
    async with as_client(city, Principal("his-h1", Role.HIS, scope=H1)) as his:
        own = (await his.get(f"/monthly-reconciliations/{MARCH}")).json()
        assert [s["fixmedins_code"] for s in own["statements"]] == [H1]
        assert own["statements"][0]["statements"]["medfee_sumamt"] == "100.00"
        mine = await his.get(f"/monthly-reconciliations/{MARCH}/statements/{H1}")
        assert mine.json() == own["statements"][0]
        other = await his.get(f"/monthly-reconciliations/{MARCH}/statements/{H2}")
        assert (other.status_code, other.json()["code"]) == (403, "SCOPE_FORBIDDEN")
        assert (await his.get("/prepayments")).json()["items"] == []
        other_prepayments = await his.get("/prepayments", params={"fixmedins_code": H2})
        assert (other_prepayments.status_code, other_prepayments.json()["code"]) == (403, "SCOPE_FORBIDDEN")
        for write in (
            await his.post("/monthly-reconciliations", json={"month": MARCH}),
            await his.post(f"/monthly-reconciliations/{MARCH}/confirm"),
            await his.post(f"/monthly-reconciliations/{MARCH}/lock"),
            await his.post(
                "/prepayments", json={"fixmedins_code": H1, "amount": "1", "paid_date": "2026-03-01"}
            ),
        ):
            assert (write.status_code, write.json()["code"]) == (403, "ROLE_FORBIDDEN")
    missing = await api.get(f"/monthly-reconciliations/{MARCH}/statements/{Y1}")
    assert (missing.status_code, missing.json()["code"]) == (404, "STATEMENT_NOT_FOUND")


# --- prepayments --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        pytest.param(
            {"fixmedins_code": "H9", "amount": "10", "paid_date": "2026-03-01"}, 404, "INSTITUTION_NOT_FOUND"
        ),
        pytest.param(
            {"fixmedins_code": H1, "amount": "0", "paid_date": "2026-03-01"}, 422, "VALIDATION_ERROR"
        ),
        pytest.param(
            {"fixmedins_code": H1, "amount": "-5", "paid_date": "2026-03-01"}, 422, "VALIDATION_ERROR"
        ),
        pytest.param(
            {"fixmedins_code": H1, "amount": "1.234", "paid_date": "2026-03-01"}, 422, "VALIDATION_ERROR"
        ),
        pytest.param(
            {"fixmedins_code": H1, "amount": "10", "paid_date": "2026-03-03"}, 422, "PAID_DATE_IN_FUTURE"
        ),
        pytest.param(
            {"fixmedins_code": H1, "amount": "10", "paid_date": "2026-02-30"}, 422, "VALIDATION_ERROR"
        ),
        pytest.param({"fixmedins_code": H1, "amount": "10"}, 422, "VALIDATION_ERROR"),
        pytest.param(
            {"fixmedins_code": H1, "amount": "10", "paid_date": "2026-03-01", "x": 1}, 422, "VALIDATION_ERROR"
        ),
    ],
)
async def test_a_bad_prepayment_is_refused_and_writes_nothing(
    city: FastAPI, api: httpx.AsyncClient, body: dict[str, Any], status: int, code: str
) -> None:
    response = await api.post("/prepayments", json=body)
    assert (response.status_code, response.json()["code"]) == (status, code)
    assert await count(city.state.db, Prepayment) == 0


async def test_a_prepayment_retried_with_its_idempotency_key_is_recorded_once(
    city: FastAPI, api: httpx.AsyncClient
) -> None:
    body = {"fixmedins_code": H1, "amount": "5000.00", "paid_date": "2026-03-01"}
    key = {"Idempotency-Key": "treasury-2026-03-01-0007"}
    first = await api.post("/prepayments", json=body, headers=key)
    assert first.status_code == 201, first.text
    assert "Idempotent-Replay" not in first.headers
    again = await api.post("/prepayments", json=body, headers=key)
    assert (again.status_code, again.headers["Idempotent-Replay"], again.json()) == (
        200,
        "true",
        first.json(),
    )
    other = await api.post("/prepayments", json=body | {"amount": "5000.01"}, headers=key)
    assert (other.status_code, other.json()["code"]) == (409, "IDEMPOTENCY_KEY_CONFLICT")
    assert other.json()["prepayment_id"] == first.json()["prepayment_id"]
    # Eight copies of a new one racing: one prepayment, seven replays of it.
    raced = await asyncio.gather(
        *(api.post("/prepayments", json=body, headers={"Idempotency-Key": "race-1"}) for _ in range(8))
    )
    assert sorted(r.status_code for r in raced) == [200] * 7 + [201]
    assert len({r.json()["prepayment_id"] for r in raced}) == 1
    # Without a key each call is its own prepayment (two advances of one amount on a day are legitimate).
    assert (await api.post("/prepayments", json=body)).status_code == 201
    assert await count(city.state.db, Prepayment) == 3
    async with city.state.db.transaction(readonly=True) as session:
        journals = await session.scalar(
            sa.select(sa.func.count()).select_from(Journal).where(Journal.kind == "prepayment")
        )
    assert journals == 3
    check = (await api.get("/ledger/check")).json()
    assert check["balanced"] is True, check


@pytest.mark.parametrize("key", ["", "x" * 65, "has space", "中文"])
async def test_a_malformed_idempotency_key_is_refused_and_writes_nothing(
    city: FastAPI, api: httpx.AsyncClient, key: str
) -> None:
    body = {"fixmedins_code": H1, "amount": "10", "paid_date": "2026-03-01"}
    response = await api.post("/prepayments", json=body, headers={"Idempotency-Key": key.encode()})
    assert (response.status_code, response.json()["code"]) == (422, "VALIDATION_ERROR")
    assert await count(city.state.db, Prepayment) == 0


async def test_prepayments_are_listed_newest_first_and_filtered_by_outstanding(
    city: FastAPI, api: httpx.AsyncClient, clock: FrozenClock
) -> None:
    created = await api.post(
        "/prepayments",
        json={"fixmedins_code": H1, "amount": 1234.5, "paid_date": "2026-03-01", "note": " 周转金 "},
    )
    assert created.status_code == 201, created.text
    assert created.json() | {"prepayment_id": 0} == {
        "prepayment_id": 0,
        "fixmedins_code": H1,
        "amount": "1234.50",
        "paid_date": "2026-03-01",
        "note": "周转金",
        "created_by": "ops-test",
        "created_at": "2026-03-02T01:00:00Z",
        "recovered_month": None,
    }
    second = await prepay(api, H2, "10.00", "2026-03-02")
    third = await prepay(api, H1, "20.00", "2026-03-02")
    first_page = (await api.get("/prepayments", params={"limit": 2})).json()
    assert [p["prepayment_id"] for p in first_page["items"]] == [third, second]
    rest = (await api.get("/prepayments", params={"limit": 2, "cursor": first_page["next_cursor"]})).json()
    assert ([p["prepayment_id"] for p in rest["items"]], rest["next_cursor"]) == (
        [created.json()["prepayment_id"]],
        None,
    )
    h1 = (await api.get("/prepayments", params={"fixmedins_code": H1, "outstanding": "true"})).json()
    assert [p["amount"] for p in h1["items"]] == ["20.00", "1234.50"]
    assert (await api.get("/prepayments", params={"outstanding": "false"})).json()["items"] == []
    bad = await api.get("/prepayments", params={"cursor": "not-a-cursor"})
    assert (bad.status_code, bad.json()["code"]) == (400, "INVALID_CURSOR")


# --- deductions from fraud.finding.confirmed ----------------------------------------------------------


async def test_a_finding_redelivered_or_published_again_makes_one_deduction(
    city: FastAPI, api: httpx.AsyncClient, clock: FrozenClock, nats_url: str
) -> None:
    data = finding("F1", H1, "88.80", at_shanghai(2026, 3, 2, 9), setl_id="S000000000000000001")
    first = finding_event(data, clock)
    again = finding_event(data.model_copy(update={"amount_to_recover": Decimal("99.99")}), clock)
    # `first` twice with one id: JetStream keeps one; `again` is the same finding under a new event id.
    await deliver(city, nats_url, first, first, again, distinct=2)
    assert await deductions(city) == {"F1": (H1, 8880, None)}
    listed = (await api.get("/deductions", params={"fixmedins_code": H1, "outstanding": "true"})).json()
    assert listed["items"] == [
        {
            "finding_id": "F1",
            "fixmedins_code": H1,
            "setl_id": "S000000000000000001",
            "psn_no": "P2",
            "family": "split_admission",
            "source": "fraud",
            "amount": "88.80",
            "kind": "recovery",
            "case_id": None,
            "confirmed_at": "2026-03-02T01:00:00Z",
            "note": "分解住院，追回统筹基金",
            "month_applied": None,
            "received_at": "2026-03-02T01:00:00Z",
        }
    ]


@pytest.mark.parametrize(
    "data",
    [
        pytest.param({"amount_to_recover": "-1.00"}, id="negative amount"),
        pytest.param({"amount_to_recover": "1.001"}, id="three places"),
        pytest.param({"fixmedins_code": "H" * 31}, id="code too long"),
        pytest.param({"confirmed_at": "2026-03-02T10:00:00"}, id="naive time"),
        pytest.param({"finding_id": None}, id="no finding id"),
    ],
)
async def test_a_finding_that_cannot_be_a_deduction_raises_for_the_dead_letters(
    city: FastAPI, clock: FrozenClock, data: dict[str, Any]
) -> None:
    good = finding("F9", H1, "10.00", at_shanghai(2026, 3, 2)).model_dump(mode="json")
    event = new_event(
        type=Subject.FINDING_CONFIRMED, source="fraud", subject="F9", data=good | data, clock=clock
    )
    with pytest.raises(ValueError):
        async with city.state.db.transaction() as session:
            await on_fraud_event(session, event, clock=clock)
    assert await count(city.state.db, Deduction) == 0


async def test_a_zero_amount_finding_is_kept_with_nothing_to_recover(
    city: FastAPI, clock: FrozenClock
) -> None:
    data = finding("F0", H1, "0", datetime(2026, 3, 2, 2, tzinfo=UTC)).model_dump(mode="json")
    event = new_event(type=Subject.FINDING_CONFIRMED, source="fraud", subject="F0", data=data, clock=clock)
    async with city.state.db.transaction() as session:
        await on_fraud_event(session, event, clock=clock)
        # Another event type on the stream (raised, dismissed) is not this consumer's business.
        await on_fraud_event(
            session,
            event.model_copy(update={"id": uuid.uuid4(), "type": Subject.FINDING_DISMISSED}),
            clock=clock,
        )
    assert await deductions(city) == {"F0": (H1, 0, None)}
