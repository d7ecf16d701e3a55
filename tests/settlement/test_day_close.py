"""Day close (日结算): statements per institution, disbursements due next day, late and reversed claims."""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from datetime import date
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI

from common.clock import FrozenClock
from common.events.tables import outbox_event
from common.principal import Principal, Role
from settlement.models import Journal, JournalLeg, Settlement, SettlementReversal
from settlement.service.day_close import CloseOutcome, close_day, close_due_days
from settlement.uow import SettlementUnitOfWork
from tests.settlement.conftest import as_client, at_shanghai
from tests.settlement.seed import credit_account, seed_catalog, seed_institution, seed_person

H1, H2, Y1 = "H1", "H2", "Y1"


def claim(
    medins_setl_id: str, amount: str, *, code: str = H1, psn_no: str = "P1", **extra: Any
) -> dict[str, Any]:
    return {
        "fixmedins_code": code,
        "medins_setl_id": medins_setl_id,
        "psn_no": psn_no,
        "insutype": "310",
        "med_type": "41" if code == Y1 else "11",
        "begntime": "2026-03-02T08:00:00+08:00",
        "acct_used_flag": 1,
        "feedetail": [
            {
                "feedetl_sn": "1",
                "med_list_codg": "A01",
                "cnt": "1",
                "pric": amount,
                "det_item_fee_sumamt": amount,
                "fee_ocur_time": "2026-03-02T08:10:00+08:00",
            }
        ],
        **extra,
    }


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


async def settle(api: httpx.AsyncClient, body: dict[str, Any]) -> dict[str, Any]:
    response = await api.post("/settlements", json=body)
    assert response.status_code == 201, response.text
    return response.json()["setlinfo"]  # type: ignore[no-any-return]


async def test_a_closed_day_has_one_statement_per_institution_and_a_disbursement_due_next_day(
    city: FastAPI, api: httpx.AsyncClient, clock: FrozenClock
) -> None:
    # P1: 800.00 at H1 → 700 deductible, (800 − 700) × 0.60 = 60.00 from the pool, 100.00 from the account.
    first = await settle(api, claim("A", "800.00"))
    # P2: 1,000.00 at H1 → 700 deductible, 300 × 0.60 = 180.00; no account.
    await settle(api, claim("B", "1000.00", psn_no="P2"))
    # P2 at H2 (level 3): deductible used, 200 × 0.50 = 100.00 — then reversed the same day.
    third = await settle(api, claim("C", "200.00", code=H2, psn_no="P2"))
    assert (first["hifp_pay"], first["acct_pay"], third["hifp_pay"]) == ("60.00", "100.00", "100.00")
    assert (
        await api.post(f"/settlements/{third['setl_id']}/reversal", json={"reason": "退费"})
    ).status_code == 201
    clock.set(at_shanghai(2026, 3, 3, 1))
    closed = await api.post("/day-closes", json={"date": "2026-03-02"})
    assert closed.status_code == 201, closed.text
    body = closed.json()
    assert (body["settlement_count"], body["reversal_count"], body["institution_count"]) == (3, 1, 2)
    by_code = {s["fixmedins_code"]: s for s in body["statements"]}
    assert {
        k: by_code[H1][k]
        for k in ("setl_cnt", "reversal_cnt", "medfee_sumamt", "fund_pay_sumamt", "acct_pay")
    } == {
        "setl_cnt": 2,
        "reversal_cnt": 0,
        "medfee_sumamt": "1800.00",
        "fund_pay_sumamt": "240.00",
        "acct_pay": "100.00",
    }
    assert by_code[H1]["psn_cash_pay"] == "1460.00"
    assert by_code[H1]["fund_by_type"] == {"310100": "240.00"}
    # H2: the settlement and its reversal on the same day net to zero.
    assert (by_code[H2]["setl_cnt"], by_code[H2]["reversal_cnt"], by_code[H2]["fund_pay_sumamt"]) == (
        1,
        1,
        "0.00",
    )
    disbursements = (await api.get("/disbursements", params={"date": "2026-03-02"})).json()
    assert sorted((d["fixmedins_code"], d["amount"], d["due_date"], d["status"]) for d in disbursements) == [
        (H1, "340.00", "2026-03-03", "pending"),
        (H2, "0.00", "2026-03-03", "pending"),
    ]
    again = await api.post("/day-closes", json={"date": "2026-03-02"})
    assert again.status_code == 200
    assert again.json() == body
    async with city.state.db.transaction(readonly=True) as session:
        events = [
            json.loads(p)["data"]
            for t, p in (await session.execute(sa.select(outbox_event.c.type, outbox_event.c.payload))).all()
            if t == "settlement.day.closed"
        ]
    assert [(e["business_date"], e["settlement_count"], len(e["institutions"])) for e in events] == [
        ("2026-03-02", 3, 2)
    ]


async def test_late_settlements_and_reversals_of_closed_days_land_in_the_next_open_day(
    city: FastAPI, api: httpx.AsyncClient, clock: FrozenClock
) -> None:
    early = await settle(api, claim("E", "800.00"))
    clock.set(at_shanghai(2026, 3, 3, 0, 40))
    assert (await api.post("/day-closes", json={"date": "2026-03-02"})).json()["settlement_count"] == 1
    # A replica whose clock still says 2 March commits after the close: business date 2 March, closed day.
    clock.set(at_shanghai(2026, 3, 2, 23, 59))
    late = await settle(api, claim("L", "100.00", psn_no="P2"))
    clock.set(at_shanghai(2026, 3, 3, 10))
    assert (
        await api.post(f"/settlements/{early['setl_id']}/reversal", json={"reason": "撤销"})
    ).status_code == 201
    clock.set(at_shanghai(2026, 3, 4, 1))
    closed = (await api.post("/day-closes", json={"date": "2026-03-03"})).json()
    statement = closed["statements"][0]
    # The late one counts on 3 March; the reversal of 2 March's claim counts there too, negative.
    assert (statement["setl_cnt"], statement["reversal_cnt"]) == (1, 1)
    assert statement["medfee_sumamt"] == "-700.00"  # +100.00 late − 800.00 reversed
    assert statement["fund_pay_sumamt"] == "-60.00"
    assert statement["acct_pay"] == "-100.00"
    async with city.state.db.transaction(readonly=True) as session:
        days = dict((await session.execute(sa.select(Settlement.setl_id, Settlement.day_close_date))).all())
    assert days == {early["setl_id"]: date(2026, 3, 2), late["setl_id"]: date(2026, 3, 3)}
    disbursement = (await api.get("/disbursements", params={"date": "2026-03-03"})).json()[0]
    assert disbursement["amount"] == "-160.00"  # owed back: the reversed fund and account parts


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        pytest.param({"date": "2026-03-03"}, 422, "DAY_NOT_OVER", id="today"),
        pytest.param({"date": "2026-03-09"}, 422, "DAY_NOT_OVER", id="future"),
        pytest.param({"date": "2026-02-30"}, 422, "VALIDATION_ERROR", id="no such date"),
        pytest.param({}, 422, "VALIDATION_ERROR", id="no date"),
        pytest.param({"date": "2026-03-01", "extra": 1}, 422, "VALIDATION_ERROR", id="unknown field"),
    ],
)
async def test_a_day_that_cannot_close_is_refused(
    city: FastAPI, api: httpx.AsyncClient, clock: FrozenClock, body: dict[str, Any], status: int, code: str
) -> None:
    clock.set(at_shanghai(2026, 3, 3, 9))
    response = await api.post("/day-closes", json=body)
    assert (response.status_code, response.json()["code"]) == (status, code)
    assert (await api.get("/day-closes/2026-03-01")).json()["code"] == "DAY_NOT_CLOSED"


async def test_days_close_in_order(city: FastAPI, api: httpx.AsyncClient, clock: FrozenClock) -> None:
    clock.set(at_shanghai(2026, 3, 6, 9))
    assert (await api.post("/day-closes", json={"date": "2026-03-02"})).status_code == 201
    skipped = await api.post("/day-closes", json={"date": "2026-03-04"})
    assert (skipped.status_code, skipped.json()["code"], skipped.json()["open_date"]) == (
        409,
        "PREVIOUS_DAY_OPEN",
        "2026-03-03",
    )
    before = await api.post("/day-closes", json={"date": "2026-03-01"})
    assert (before.status_code, before.json()["code"]) == (409, "DAY_BEFORE_LAST_CLOSE")
    assert (await api.post("/day-closes", json={"date": "2026-03-03"})).status_code == 201


async def test_paying_a_disbursement_posts_its_journal_once(
    city: FastAPI, api: httpx.AsyncClient, clock: FrozenClock
) -> None:
    await settle(api, claim("P", "800.00"))
    clock.set(at_shanghai(2026, 3, 3, 9))
    await api.post("/day-closes", json={"date": "2026-03-02"})
    (order,) = (await api.get("/disbursements", params={"fixmedins_code": H1})).json()
    paid = await api.post(f"/disbursements/{order['disbursement_id']}/paid", json={"payment_ref": "BANK-1"})
    assert paid.status_code == 200, paid.text
    assert (paid.json()["status"], paid.json()["payment_ref"], paid.json()["amount"]) == (
        "paid",
        "BANK-1",
        "160.00",
    )
    twice = await api.post(f"/disbursements/{order['disbursement_id']}/paid")
    assert (twice.status_code, twice.json()["code"]) == (409, "ALREADY_PAID")
    assert (await api.post("/disbursements/999/paid")).json()["code"] == "DISBURSEMENT_NOT_FOUND"
    check = (await api.get("/ledger/check")).json()
    assert check["balanced"] is True
    # Paid out of the bank: the institution is owed nothing more for that day.
    assert check["totals"]["inst_payable"] == "0.00"
    assert (await api.get("/disbursements", params={"status": "pending"})).json() == []


async def test_every_statement_figure_is_derivable_from_the_journal(
    city: FastAPI, api: httpx.AsyncClient, clock: FrozenClock
) -> None:
    a = await settle(api, claim("J1", "800.00"))
    await settle(api, claim("J2", "1000.00", psn_no="P2"))
    await settle(api, claim("J3", "45.50", code=Y1, psn_no="P2"))
    await api.post(f"/settlements/{a['setl_id']}/reversal", json={"reason": "x"})
    await settle(api, claim("J4", "300.00"))
    clock.set(at_shanghai(2026, 3, 3, 9))
    statements = (await api.post("/day-closes", json={"date": "2026-03-02"})).json()["statements"]
    async with city.state.db.transaction(readonly=True) as session:
        refs = {
            setl_id: ("settlement", code)
            for setl_id, code in (
                await session.execute(
                    sa.select(Settlement.setl_id, Settlement.fixmedins_code).where(
                        Settlement.day_close_date == date(2026, 3, 2)
                    )
                )
            ).all()
        } | {
            setl_id: ("reversal", code)
            for setl_id, code in (
                await session.execute(
                    sa.select(SettlementReversal.setl_id, SettlementReversal.fixmedins_code).where(
                        SettlementReversal.day_close_date == date(2026, 3, 2)
                    )
                )
            ).all()
        }
        legs = (
            await session.execute(
                sa.select(Journal.ref, Journal.kind, JournalLeg.account, JournalLeg.amount_fen).join(
                    JournalLeg, JournalLeg.journal_id == Journal.journal_id
                )
            )
        ).all()
    derived: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for ref, kind, account, amount in legs:
        if ref not in refs or refs[ref][0] != kind:
            continue
        code = refs[ref][1]
        if account.startswith("fund:"):
            derived[code]["fund"] += amount
            derived[code][account] += amount
        elif account.startswith("psn_acct:"):
            derived[code]["accounts"] += amount
        elif account.startswith("patient_cash:"):
            derived[code]["cash"] += amount
        elif account.startswith("inst_payable:"):
            derived[code]["payable"] -= amount
    for statement in statements:
        mine = derived[statement["fixmedins_code"]]

        def fen(value: str) -> int:
            return round(float(value) * 100)

        assert mine["fund"] == fen(statement["fund_pay_sumamt"])
        assert mine["accounts"] == fen(statement["acct_pay"]) + fen(statement["acct_mulaid_pay"])
        assert mine["cash"] == fen(statement["psn_cash_pay"])
        assert mine["payable"] + mine["cash"] == fen(statement["medfee_sumamt"])
        for fund, amount in statement["fund_by_type"].items():
            assert mine[f"fund:{fund}"] == fen(amount)
    assert {s["fixmedins_code"] for s in statements} == {H1, Y1}


async def test_an_institution_sees_only_its_own_statements(
    city: FastAPI, api: httpx.AsyncClient, clock: FrozenClock
) -> None:
    await settle(api, claim("S1", "100.00"))
    await settle(api, claim("S2", "100.00", code=H2, psn_no="P2"))
    clock.set(at_shanghai(2026, 3, 3, 9))
    await api.post("/day-closes", json={"date": "2026-03-02"})
    async with as_client(city, Principal("his-h1", Role.HIS, scope=H1)) as his:
        own = await his.get("/daily-statements")
        assert [s["fixmedins_code"] for s in own.json()] == [H1]
        other = await his.get("/daily-statements", params={"fixmedins_code": H2})
        assert (other.status_code, other.json()["code"]) == (403, "SCOPE_FORBIDDEN")
        assert (await his.post("/day-closes", json={"date": "2026-03-02"})).json()["code"] == "ROLE_FORBIDDEN"
        assert [d["fixmedins_code"] for d in (await his.get("/disbursements")).json()] == [H1]


async def test_the_scheduler_closes_every_due_day_in_order_after_half_past_midnight(
    city: FastAPI, api: httpx.AsyncClient, clock: FrozenClock
) -> None:
    await settle(api, claim("D1", "100.00"))
    db = city.state.db
    clock.set(at_shanghai(2026, 3, 4, 0, 20))  # before 00:30: 3 March is not due yet
    assert await close_due_days(db=db, clock=clock) == [date(2026, 3, 2)]
    clock.set(at_shanghai(2026, 3, 4, 0, 31))
    assert await close_due_days(db=db, clock=clock) == [date(2026, 3, 3)]
    assert await close_due_days(db=db, clock=clock) == []


async def test_a_close_running_alongside_settlements_loses_and_double_counts_nothing(
    city: FastAPI, api: httpx.AsyncClient, clock: FrozenClock
) -> None:
    db = city.state.db
    claims = [settle(api, claim(f"X{n}", "10.00", psn_no="P1" if n % 2 else "P2")) for n in range(30)]

    async def closing() -> CloseOutcome:
        async with SettlementUnitOfWork(db) as uow:
            return await close_day(
                uow=uow, day=date(2026, 3, 2), closed_by="test", clock=clock, allow_today=True
            )

    *_, outcome = await asyncio.gather(*claims, closing())
    first = outcome.day_close.settlement_count
    clock.set(at_shanghai(2026, 3, 4, 9))
    rest = (await api.post("/day-closes", json={"date": "2026-03-03"})).json()["settlement_count"]
    assert first + rest == 30
    async with db.transaction(readonly=True) as session:
        counted = (
            await session.execute(
                sa.select(Settlement.day_close_date, sa.func.count()).group_by(Settlement.day_close_date)
            )
        ).all()
    # Each settlement in exactly one close: the one that waited for it, or the next.
    expected = {date(2026, 3, 2): first, date(2026, 3, 3): rest}
    assert dict(counted) == {day: n for day, n in expected.items() if n}


async def test_an_institutions_day_so_far_nets_the_days_reversals(
    city: FastAPI, api: httpx.AsyncClient, clock: FrozenClock
) -> None:
    first = await settle(api, claim("T1", "800.00"))  # pool 60.00, account 100.00, cash 640.00
    await settle(api, claim("T2", "1000.00", psn_no="P2"))  # pool 180.00, cash 820.00
    await api.post(f"/settlements/{first['setl_id']}/reversal", json={"reason": "x"})
    today = await api.get(f"/institutions/{H1}/activity")
    assert today.json() == {
        "fixmedins_code": H1,
        "date": "2026-03-02",
        "setl_cnt": 2,
        "reversal_cnt": 1,
        "medfee_sumamt": "1000.00",
        "fund_pay_sumamt": "180.00",
        "acct_pay": "0.00",
        "psn_cash_pay": "820.00",
    }
    other_day = await api.get(f"/institutions/{H1}/activity", params={"date": "2026-03-01"})
    assert (other_day.json()["setl_cnt"], other_day.json()["medfee_sumamt"]) == (0, "0.00")
    assert (await api.get("/institutions/NOPE/activity")).json()["code"] == "INSTITUTION_NOT_FOUND"
    async with as_client(city, Principal("his-h2", Role.HIS, scope=H2)) as his:
        assert (await his.get(f"/institutions/{H1}/activity")).json()["code"] == "SCOPE_FORBIDDEN"


@pytest.mark.parametrize(
    "path",
    [
        "/disbursements/99999999999999999999/paid",  # beyond 64 bits: never reaches the driver
        "/disbursements/0/paid",
        "/dead-letters/0/replay",
        "/dead-letters/-5/replay",
        "/dead-letters/99999999999999999999/replay",
    ],
)
async def test_an_id_outside_what_the_stores_hold_is_422_not_a_driver_error(
    city: FastAPI, api: httpx.AsyncClient, path: str
) -> None:
    response = await api.post(path)
    assert (response.status_code, response.json()["code"]) == (422, "VALIDATION_ERROR")


async def test_a_dead_letter_cursor_beyond_64_bits_is_422(city: FastAPI, api: httpx.AsyncClient) -> None:
    response = await api.get("/dead-letters", params={"cursor": "153611842318961475584"})
    assert (response.status_code, response.json()["code"]) == (422, "VALIDATION_ERROR")
