"""Fund KPIs (基金运行) through the API: money from the ledger, counts and the inpatient ratio from settlements."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI

from common.clock import FrozenClock
from common.db import Database
from common.principal import Principal, Role
from settlement.domain.ledger import contribution_legs
from settlement.models import PersonalAccount, Settlement, SettlementReversal
from settlement.repository.journal import JournalRepository
from tests.settlement.conftest import as_client, at_shanghai
from tests.settlement.seed import SEEDED_AT, seed_catalog, seed_institution, seed_person

HOSPITAL = "H42010000001"


async def contribute(
    db: Database, psn_no: str, insutype: str, amount_fen: int, *, acct_fen: int = 0, on: date
) -> None:
    """A contribution posted on a chosen business date: the pool's part to the fund, the rest to the account."""
    async with db.transaction() as session:
        if acct_fen:
            account = await session.get(PersonalAccount, psn_no)
            if account is None:
                session.add(PersonalAccount(psn_no=psn_no, balc_fen=acct_fen, updated_at=SEEDED_AT))
            else:
                account.balc_fen += acct_fen
            await session.flush()
        await JournalRepository(session).post(
            kind="contribution",
            ref=f"test:{psn_no}:{insutype}:{on}",
            business_date=on,
            legs=contribution_legs(
                psn_no=psn_no, insutype=insutype, amount_fen=amount_fen, acct_amount_fen=acct_fen
            ),
            now=SEEDED_AT,
        )


async def settle(
    api: httpx.AsyncClient,
    clock: FrozenClock,
    when: datetime,
    medins_setl_id: str,
    psn_no: str,
    med_type: str,
    lines: list[tuple[str, str]],
    *,
    insutype: str = "310",
) -> dict[str, Any]:
    """A claim of (med_list_codg, amount) lines, one of each, settled at `when` without the account."""
    clock.set(when)
    response = await api.post(
        "/settlements",
        json={
            "fixmedins_code": HOSPITAL,
            "medins_setl_id": medins_setl_id,
            "psn_no": psn_no,
            "insutype": insutype,
            "med_type": med_type,
            "begntime": (when - timedelta(hours=1)).isoformat(),
            "acct_used_flag": 0,
            "feedetail": [
                {
                    "feedetl_sn": str(n),
                    "med_list_codg": code,
                    "cnt": "1",
                    "pric": amount,
                    "det_item_fee_sumamt": amount,
                    "fee_ocur_time": (when - timedelta(minutes=30)).isoformat(),
                }
                for n, (code, amount) in enumerate(lines, start=1)
            ],
        },
    )
    assert response.status_code == 201, response.text
    info: dict[str, Any] = response.json()["setlinfo"]
    return info


def split_of(info: dict[str, Any]) -> tuple[str, ...]:
    return tuple(info[key] for key in ("inscp_scp_amt", "act_pay_dedc", "hifp_pay", "hifob_pay", "hifmi_pay"))


async def reverse(api: httpx.AsyncClient, clock: FrozenClock, when: datetime, setl_id: str) -> None:
    clock.set(when)
    response = await api.post(f"/settlements/{setl_id}/reversal", json={"reason": "收费错误"})
    assert response.status_code == 201, response.text


@pytest.fixture
async def fund_year(settlement_app: FastAPI, api: httpx.AsyncClient, clock: FrozenClock) -> FastAPI:
    """Contributions and claims of January to April 2026 at a level-2 hospital.

    Employees (P1, P2): outpatient deductible 700 a year then 0.60; inpatient 600 per admission then 0.88;
    330 pays 0.80 of the year's in-scope self-burden above 20,000. Residents (R1, R2): outpatient 0.40;
    inpatient 500 per admission then 0.75; 392 pays 0.60 above 15,000.
    """
    db = settlement_app.state.db
    await seed_institution(db, HOSPITAL, hosp_lv=2)
    await seed_catalog(db, "A01", "01")
    await seed_catalog(db, "B02", "02")
    for coverage_id, psn_no, insutype in (
        (1, "P1", "310"),
        (2, "P2", "310"),
        (3, "R1", "390"),
        (4, "R2", "390"),
    ):
        await seed_person(db, psn_no, insutype=insutype, coverage_id=coverage_id)

    # fund:310100 ← 360,000.00 (Jan), 200,000.00 (Mar), 99,999.00 (Apr); fund:330200 ← 12,000.00 (Mar);
    # fund:390100 ← 60,000.00 (Feb), 150,000.00 (Mar); fund:390200 ← 30,000.00 (Mar).
    await contribute(db, "P1", "310", 40_000_000, acct_fen=4_000_000, on=date(2026, 1, 15))
    await contribute(db, "P2", "310", 25_000_000, acct_fen=5_000_000, on=date(2026, 3, 5))
    await contribute(db, "P2", "330", 1_200_000, on=date(2026, 3, 6))
    await contribute(db, "P1", "310", 9_999_900, on=date(2026, 4, 1))
    await contribute(db, "R2", "390", 6_000_000, on=date(2026, 2, 20))
    await contribute(db, "R1", "390", 15_000_000, on=date(2026, 3, 7))
    await contribute(db, "R1", "392", 3_000_000, on=date(2026, 3, 7))

    # E1, 15 Feb, P1 outpatient 1000.00: deductible 700, pool 300 × 0.60 = 180.00. Reversed on 10 March.
    e1 = await settle(api, clock, at_shanghai(2026, 2, 15), "E1", "P1", "11", [("A01", "1000.00")])
    assert split_of(e1) == ("1000.00", "700.00", "180.00", "0.00", "0.00")
    # Q1, 20 Feb, R1 outpatient 100.00: 40.00.
    q1 = await settle(
        api, clock, at_shanghai(2026, 2, 20), "Q1", "R1", "11", [("A01", "100.00")], insutype="390"
    )
    assert split_of(q1) == ("100.00", "0.00", "40.00", "0.00", "0.00")
    # E2, 2 Mar, P2 inpatient 200,000.00: (200,000 − 600) × 0.88 = 175,472.00; self-burden 23,928.00,
    # 3,928.00 above the threshold × 0.80 = 3,142.40 from 330.
    e2 = await settle(api, clock, at_shanghai(2026, 3, 2), "E2", "P2", "21", [("A01", "200000.00")])
    assert split_of(e2) == ("200000.00", "600.00", "175472.00", "3142.40", "0.00")
    # E3, 3 Mar, P1 outpatient 500.00: the deductible is used up (by E1, not yet reversed): 300.00.
    e3 = await settle(api, clock, at_shanghai(2026, 3, 3), "E3", "P1", "11", [("A01", "500.00")])
    assert split_of(e3) == ("500.00", "0.00", "300.00", "0.00", "0.00")
    # E4, 4 Mar, P1 inpatient 2,000.00 甲类 + 1,000.00 乙类 (100.00 self-paid first): in scope 2,900.00,
    # (2,900 − 600) × 0.88 = 2,024.00. Reversed on 12 March.
    e4 = await settle(
        api, clock, at_shanghai(2026, 3, 4), "E4", "P1", "21", [("A01", "2000.00"), ("B02", "1000.00")]
    )
    assert split_of(e4) == ("2900.00", "600.00", "2024.00", "0.00", "0.00")
    # Q2, 5 Mar, R2 inpatient 100,000.00: (100,000 − 500) × 0.75 = 74,625.00; self-burden 24,875.00,
    # 9,875.00 above the threshold × 0.60 = 5,925.00 from 392.
    q2 = await settle(
        api, clock, at_shanghai(2026, 3, 5), "Q2", "R2", "21", [("A01", "100000.00")], insutype="390"
    )
    assert split_of(q2) == ("100000.00", "500.00", "74625.00", "0.00", "5925.00")
    # Q3, 6 Mar, R1 inpatient 5,000.00: (5,000 − 500) × 0.75 = 3,375.00.
    q3 = await settle(
        api, clock, at_shanghai(2026, 3, 6), "Q3", "R1", "21", [("A01", "5000.00")], insutype="390"
    )
    assert split_of(q3) == ("5000.00", "500.00", "3375.00", "0.00", "0.00")
    await reverse(api, clock, at_shanghai(2026, 3, 10), e1["setl_id"])
    await reverse(api, clock, at_shanghai(2026, 3, 12), e4["setl_id"])
    # E5, 20 Mar, P2's second admission 10,000.00: (10,000 − 600) × 0.88 = 8,272.00; the whole self-burden
    # 1,128.00 is above the threshold now: × 0.80 = 902.40 from 330.
    e5 = await settle(api, clock, at_shanghai(2026, 3, 20), "E5", "P2", "21", [("A01", "10000.00")])
    assert split_of(e5) == ("10000.00", "600.00", "8272.00", "902.40", "0.00")
    # E6, 2 Apr, P1 outpatient 1000.00: E1's reversal gave the deductible back: 180.00 again.
    e6 = await settle(api, clock, at_shanghai(2026, 4, 2), "E6", "P1", "11", [("A01", "1000.00")])
    assert split_of(e6) == ("1000.00", "700.00", "180.00", "0.00", "0.00")
    return settlement_app


async def kpis(api: httpx.AsyncClient, insutype: str, month: str) -> dict[str, Any]:
    response = await api.get("/fund-kpis", params={"insutype": insutype, "month": month})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_employee_pool_in_a_month_of_contributions_claims_and_reversals(
    fund_year: FastAPI, api: httpx.AsyncClient
) -> None:
    # Income: P2's 250,000.00 less its 50,000.00 account part. Expenditure, by journal date: E2 + E3 + E4 + E5
    # = 186,068.00, less the reversals of E1 (a February claim) and E4 = 2,204.00. Balance at the end of March:
    # 360,000 + 200,000 − 180 (Feb) − 183,864 = 375,956.00. Months averaged: Jan, Feb, Mar (every month of the
    # ledger so far); spent 0 + 180 + 183,864 = 184,044.00: 375,956 ÷ (184,044 ÷ 3) = 6.128… → 6.13.
    # Inpatient claims that stand: E2 and E5 (E4 is reversed): 183,744 ÷ 210,000 = 0.87497… → 0.8750.
    assert await kpis(api, "310", "2026-03") == {
        "insutype": "310",
        "month": "2026-03",
        "fund_pay_type": "310100",
        "income": "200000.00",
        "expenditure": "183864.00",
        "current_surplus": "16136.00",
        "accumulated_balance": "375956.00",
        "months_payable": "6.13",
        "months_averaged": 3,
        "inpatient_inscp_amt": "210000.00",
        "inpatient_fund_pay": "183744.00",
        "inpatient_reimbursement_ratio": "0.8750",
        "settlement_count": 4,  # E2, E3, E4, E5 — E4 though reversed later
        "reversal_count": 2,  # E1's and E4's, made in March
    }


async def test_each_fund_reads_its_own_account_and_its_own_part_of_inpatient_claims(
    fund_year: FastAPI, api: httpx.AsyncClient
) -> None:
    employee_large = await kpis(api, "330", "2026-03")
    # 3,142.40 + 902.40 = 4,044.80 spent; 7,955.20 × 3 ÷ 4,044.80 = 5.900… ; 4,044.80 ÷ 210,000 = 0.01926…
    assert employee_large == {
        "insutype": "330",
        "month": "2026-03",
        "fund_pay_type": "330200",
        "income": "12000.00",
        "expenditure": "4044.80",
        "current_surplus": "7955.20",
        "accumulated_balance": "7955.20",
        "months_payable": "5.90",
        "months_averaged": 3,
        "inpatient_inscp_amt": "210000.00",
        "inpatient_fund_pay": "4044.80",
        "inpatient_reimbursement_ratio": "0.0193",
        "settlement_count": 4,
        "reversal_count": 2,
    }
    resident = await kpis(api, "390", "2026-03")
    # Spent 74,625 + 3,375 = 78,000.00; balance 60,000 + 150,000 − 40 − 78,000 = 131,960.00;
    # 131,960 × 3 ÷ 78,040 = 5.072… ; inpatient 78,000 ÷ 105,000 = 0.74285…
    assert resident == {
        "insutype": "390",
        "month": "2026-03",
        "fund_pay_type": "390100",
        "income": "150000.00",
        "expenditure": "78000.00",
        "current_surplus": "72000.00",
        "accumulated_balance": "131960.00",
        "months_payable": "5.07",
        "months_averaged": 3,
        "inpatient_inscp_amt": "105000.00",
        "inpatient_fund_pay": "78000.00",
        "inpatient_reimbursement_ratio": "0.7429",
        "settlement_count": 2,
        "reversal_count": 0,
    }
    resident_critical = await kpis(api, "392", "2026-03")
    # 24,075 × 3 ÷ 5,925 = 12.189… ; 5,925 ÷ 105,000 = 0.05642…
    assert resident_critical == {
        "insutype": "392",
        "month": "2026-03",
        "fund_pay_type": "390200",
        "income": "30000.00",
        "expenditure": "5925.00",
        "current_surplus": "24075.00",
        "accumulated_balance": "24075.00",
        "months_payable": "12.19",
        "months_averaged": 3,
        "inpatient_inscp_amt": "105000.00",
        "inpatient_fund_pay": "5925.00",
        "inpatient_reimbursement_ratio": "0.0564",
        "settlement_count": 2,
        "reversal_count": 0,
    }


async def test_ledger_figures_agree_with_the_settlement_table(
    fund_year: FastAPI, api: httpx.AsyncClient
) -> None:
    march = (date(2026, 3, 1), date(2026, 3, 31))
    s, r = Settlement, SettlementReversal
    async with fund_year.state.db.transaction(readonly=True) as session:
        for insutype, basic, column, income_fen in (
            ("310", "310", s.hifp_pay_fen, 40_000_000 - 4_000_000 + 25_000_000 - 5_000_000),
            ("330", "310", s.hifob_pay_fen, 1_200_000),
            ("390", "390", s.hifp_pay_fen, 6_000_000 + 15_000_000),
            ("392", "390", s.hifmi_pay_fen, 3_000_000),
        ):
            paid = sa.func.coalesce(sa.func.sum(column), 0)
            settled_in_march = await session.scalar(
                sa.select(paid).where(s.insutype == basic, s.business_date.between(*march))
            )
            reversed_in_march = await session.scalar(
                sa.select(paid)
                .select_from(r)
                .join(s, s.setl_id == r.orig_setl_id)
                .where(s.insutype == basic, r.business_date.between(*march))
            )
            settled_to_date = await session.scalar(
                sa.select(paid).where(s.insutype == basic, s.business_date <= march[1])
            )
            reversed_to_date = await session.scalar(
                sa.select(paid)
                .select_from(r)
                .join(s, s.setl_id == r.orig_setl_id)
                .where(s.insutype == basic, r.business_date <= march[1])
            )
            figures = await kpis(api, insutype, "2026-03")
            expenditure = int(settled_in_march) - int(reversed_in_march)
            assert figures["expenditure"] == f"{expenditure / 100:.2f}", insutype
            balance = income_fen - (int(settled_to_date) - int(reversed_to_date))
            assert figures["accumulated_balance"] == f"{balance / 100:.2f}", insutype
    # And the ledger itself balances, accounts and totals included.
    assert (await api.get("/ledger/check")).json()["balanced"] is True


async def test_a_month_without_inpatient_claims_has_no_ratio_and_a_month_of_nothing_no_months_payable(
    fund_year: FastAPI, api: httpx.AsyncClient
) -> None:
    february = await kpis(api, "310", "2026-02")
    # Jan and Feb averaged: 359,820 ÷ (180 ÷ 2) = 3,998.00.
    assert {k: february[k] for k in february if k not in ("insutype", "month", "fund_pay_type")} == {
        "income": "0.00",
        "expenditure": "180.00",
        "current_surplus": "-180.00",
        "accumulated_balance": "359820.00",
        "months_payable": "3998.00",
        "months_averaged": 2,
        "inpatient_inscp_amt": "0.00",
        "inpatient_fund_pay": "0.00",
        "inpatient_reimbursement_ratio": None,
        "settlement_count": 1,
        "reversal_count": 0,
    }
    before_anything = await kpis(api, "310", "2025-12")
    assert (
        before_anything["accumulated_balance"],
        before_anything["months_payable"],
        before_anything["months_averaged"],
        before_anything["inpatient_reimbursement_ratio"],
        before_anything["settlement_count"],
    ) == ("0.00", None, 0, None, 0)


async def test_months_payable_averages_over_the_twelve_months_ending_with_the_month(
    fund_year: FastAPI, api: httpx.AsyncClient
) -> None:
    # February 2027: March 2026 to February 2027, of which only March and April 2026 have journals.
    # Balance: 360,000 + 200,000 + 99,999 − 180 − 183,864 − 180 = 475,775.00; spent 183,864 + 180 = 184,044.00:
    # 475,775 × 2 ÷ 184,044 = 5.170… → 5.17 (January and February 2026 fall out of the window).
    figures = await kpis(api, "310", "2027-02")
    assert (
        figures["income"],
        figures["expenditure"],
        figures["accumulated_balance"],
        figures["months_payable"],
        figures["months_averaged"],
    ) == ("0.00", "0.00", "475775.00", "5.17", 2)


@pytest.mark.parametrize(
    "params",
    [
        {"insutype": "310"},
        {"insutype": "310", "month": "2026-3"},
        {"insutype": "310", "month": "2026-13"},
        {"insutype": "310", "month": "2026-03-01"},
        {"insutype": "310", "month": "March"},
        {"insutype": "510", "month": "2026-03"},
        {"month": "2026-03"},
    ],
)
async def test_bad_kpi_queries_are_refused(
    fund_year: FastAPI, api: httpx.AsyncClient, params: dict[str, str]
) -> None:
    response = await api.get("/fund-kpis", params=params)
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "VALIDATION_ERROR"


async def test_only_bureau_staff_read_fund_kpis(fund_year: FastAPI) -> None:
    async with as_client(fund_year, Principal("his-1", Role.HIS, scope=HOSPITAL)) as his:
        refused = await his.get("/fund-kpis", params={"insutype": "310", "month": "2026-03"})
    assert refused.status_code == 403
    assert refused.json()["code"] == "ROLE_FORBIDDEN"
