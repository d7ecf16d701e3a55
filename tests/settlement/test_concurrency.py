"""The same person's settlements are serialised: concurrent claims never share a deductible or a balance.

On PostgreSQL this is the row lock on the person's year and accounts; on SQLite every writer is serialised.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal

import httpx
from fastapi import FastAPI

from settlement.models import YearAccumulator
from tests.settlement.seed import credit_account, seed_catalog, seed_institution, seed_person
from tests.settlement.test_settle_api import HOSPITAL, claim, line

CLAIMS = 50


async def test_fifty_concurrent_settlements_use_the_deductible_and_the_balance_exactly_once(
    settlement_app: FastAPI, api: httpx.AsyncClient
) -> None:
    db = settlement_app.state.db
    await seed_institution(db, HOSPITAL, hosp_lv=2)
    await seed_catalog(db, "A01", "01")
    await seed_person(db, "P1")
    await credit_account(db, "P1", 10000)  # 100.00

    async def settle(n: int) -> httpx.Response:
        return await api.post("/settlements", json=claim(f"C-{n}", [line("1", "A01", "1", "20", "20.00")]))

    responses = await asyncio.gather(*(settle(n) for n in range(CLAIMS)))
    assert [r.status_code for r in responses] == [201] * CLAIMS
    infos = [r.json()["setlinfo"] for r in responses]

    def total(field: str) -> Decimal:
        return sum((Decimal(info[field]) for info in infos), Decimal(0))

    # 50 × 20.00 = 1,000.00 in scope: exactly 700.00 of deductible, the pool 60 % of the other 300.00,
    # and the account's 100.00 spent once.
    assert total("act_pay_dedc") == Decimal("700.00")
    assert total("hifp_pay") == Decimal("180.00")
    assert total("acct_pay") == Decimal("100.00")
    assert total("psn_cash_pay") == Decimal("1000.00") - Decimal("180.00") - Decimal("100.00")
    assert sorted(Decimal(info["balc"]) for info in infos)[-1] == Decimal("80.00")
    assert (await api.get("/accounts/P1")).json()["balc"] == "0.00"
    async with db.transaction(readonly=True) as session:
        year = await session.get(YearAccumulator, ("P1", "310", 2026))
    assert year is not None
    assert (year.outpatient_dedc_fen, year.pool_fen, year.settlement_count) == (70000, 18000, CLAIMS)
    check = (await api.get("/ledger/check")).json()
    assert check["balanced"] is True, check


async def test_concurrent_settlements_and_reversals_leave_the_ledger_consistent(
    settlement_app: FastAPI, api: httpx.AsyncClient
) -> None:
    db = settlement_app.state.db
    await seed_institution(db, HOSPITAL, hosp_lv=2)
    await seed_catalog(db, "A01", "01")
    await seed_person(db, "P1")
    await credit_account(db, "P1", 50000)
    first = await asyncio.gather(
        *(
            api.post("/settlements", json=claim(f"R-{n}", [line("1", "A01", "1", "30", "30.00")]))
            for n in range(20)
        )
    )
    setl_ids = [r.json()["setlinfo"]["setl_id"] for r in first]
    # Reverse half while new claims arrive, and try each reversal twice at once.
    reversals = [
        api.post(f"/settlements/{s}/reversal", json={"reason": "测试"})
        for s in setl_ids[:10]
        for _ in range(2)
    ]
    fresh = [
        api.post("/settlements", json=claim(f"N-{n}", [line("1", "A01", "1", "30", "30.00")]))
        for n in range(10)
    ]
    results = await asyncio.gather(*reversals, *fresh)
    reversal_codes = sorted(r.status_code for r in results[:20])
    assert reversal_codes == [201] * 10 + [409] * 10
    assert all(r.status_code == 201 for r in results[20:])
    check = (await api.get("/ledger/check")).json()
    assert check["balanced"] is True, check
    async with db.transaction(readonly=True) as session:
        year = await session.get(YearAccumulator, ("P1", "310", 2026))
    assert year is not None and year.settlement_count == 20
    standing = [r.json()["setlinfo"] for r in [*first[10:], *results[20:]]]
    spent = sum((Decimal(info["acct_pay"]) for info in standing), Decimal(0))
    # The year holds exactly what the standing claims used (a claim made while a later-reversed one held part
    # of the deductible used less of it: order decides who pays what, never the totals).
    used = sum((Decimal(info["act_pay_dedc"]) for info in standing), Decimal(0))
    assert Decimal(year.outpatient_dedc_fen) / 100 == used
    assert Decimal((await api.get("/accounts/P1")).json()["balc"]) == Decimal("500.00") - spent
