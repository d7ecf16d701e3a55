"""Enrollment and settlement through real NATS: enrollment's facts reach settlement's projection with no
synchronous call, settlements and reversals flow back to enrollment's claim years, death stops care.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime

import httpx
import pytest
from fastapi import FastAPI

from common.clock import FrozenClock
from common.config import AppEnv
from common.testing.apps import app_client, wait_for
from common.testing.databases import Databases
from enrollment.app import create_app as create_enrollment
from enrollment.config import Settings as EnrollmentSettings
from enrollment.models import ClaimSettlement, ClaimYearRecord
from settlement.app import create_app as create_settlement
from settlement.config import Settings as SettlementSettings
from tests.enrollment.conftest import certno


@pytest.fixture
async def apps(
    databases: Databases, nats_url: str, clock: FrozenClock
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient, httpx.AsyncClient]]:
    enrollment = create_enrollment(
        EnrollmentSettings(database_url=databases.url("enrollment"), nats_url=nats_url, app_env=AppEnv.TEST),
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
    async with app_client(enrollment) as enroll_api, app_client(settlement) as settle_api:
        yield enrollment, enroll_api, settle_api


async def _register(api: httpx.AsyncClient, seq: int, **coverage: object) -> str:
    person = await api.post(
        "/persons", json={"certno": certno(date(1970, 5, 1), seq=seq), "psn_name": "李四", "admdvs": "420100"}
    )
    assert person.status_code == 201, person.text
    psn_no: str = person.json()["psn_no"]
    covered = await api.post(f"/persons/{psn_no}/coverages", json={"begndate": "2026-01-01", **coverage})
    assert covered.status_code == 201, covered.text
    return psn_no


async def test_enrollment_feeds_settlement_and_settlements_flow_back(
    apps: tuple[FastAPI, httpx.AsyncClient, httpx.AsyncClient], clock: FrozenClock
) -> None:
    enrollment, enroll_api, settle_api = apps
    today = clock.now()
    clock.set(datetime(2025, 11, 3, 2, 0, tzinfo=UTC))  # the concentrated enrollment period: no waiting
    employee = await _register(
        enroll_api, 11, insutype="310", emp_code="91420100MA4K123456", psn_type="employed"
    )
    resident = await _register(enroll_api, 13, insutype="390")
    clock.set(today)
    paid = await enroll_api.post(
        f"/persons/{employee}/contributions",
        json={
            "insutype": "310",
            "period": "2026-02",
            "amount": "1000.00",
            "paid_at": "2026-02-05T09:00:00+08:00",
        },
    )
    assert paid.status_code == 201, paid.text
    for code, body in (
        (
            "H1",
            {
                "fixmedins_name": "市第一医院",
                "fixmedins_type": "hospital",
                "hosp_lv": 3,
                "admdvs": "420100",
                "status": "active",
            },
        ),
        (
            "Y1",
            {
                "fixmedins_name": "大药房",
                "fixmedins_type": "pharmacy",
                "admdvs": "420100",
                "status": "active",
            },
        ),
    ):
        assert (await settle_api.put(f"/institutions/{code}", json=body)).status_code == 201
    assert (
        await settle_api.put("/catalog/A01", json={"name": "阿莫西林胶囊", "chrgitm_lv": "01"})
    ).status_code == 201

    # The contribution's account part (2 of 10) reaches settlement through NATS only.
    async def credited() -> bool:
        response = await settle_api.get(f"/accounts/{employee}")
        return response.status_code == 200 and response.json()["balc"] == "200.00"

    await wait_for(credited, timeout=15, what="the contribution in settlement's account")
    purchase = await settle_api.post(
        "/settlements",
        json={
            "fixmedins_code": "Y1", "medins_setl_id": "Y1-1", "psn_no": employee, "insutype": "310", "med_type": "41",
            "begntime": "2026-03-02T09:30:00+08:00", "acct_used_flag": 1,
            "feedetail": [{"feedetl_sn": "1", "med_list_codg": "A01", "cnt": "2", "pric": "15",
                           "det_item_fee_sumamt": "30.00", "fee_ocur_time": "2026-03-02T09:31:00+08:00"}],
        },
    )  # fmt: skip
    assert purchase.status_code == 201, purchase.text
    assert (purchase.json()["setlinfo"]["acct_pay"], purchase.json()["setlinfo"]["balc"]) == (
        "30.00",
        "170.00",
    )

    # A resident's outpatient care: 500 in scope at level 3, no deductible, 0.30 → 150.00 from the pool.
    visit = await settle_api.post(
        "/settlements",
        json={
            "fixmedins_code": "H1", "medins_setl_id": "H1-1", "psn_no": resident, "insutype": "390", "med_type": "11",
            "begntime": "2026-03-02T09:30:00+08:00", "acct_used_flag": 0,
            "feedetail": [{"feedetl_sn": "1", "med_list_codg": "A01", "cnt": "10", "pric": "50",
                           "det_item_fee_sumamt": "500.00", "fee_ocur_time": "2026-03-02T09:40:00+08:00"}],
        },
    )  # fmt: skip
    assert visit.status_code == 201, visit.text
    assert visit.json()["setlinfo"]["hifp_pay"] == "150.00"
    setl_id = visit.json()["setlinfo"]["setl_id"]

    async def claim_year() -> ClaimYearRecord | None:
        async with enrollment.state.db.transaction(readonly=True) as session:
            seen = await session.get(ClaimSettlement, setl_id)
            record = await session.get(ClaimYearRecord, (resident, 2026))
        return record if seen is not None and record is not None else None

    record = await wait_for(claim_year, timeout=15, what="enrollment to count the settlement")
    assert record.fund_pay_fen == 15000

    reversed_ = await settle_api.post(f"/settlements/{setl_id}/reversal", json={"reason": "退费"})
    assert reversed_.status_code == 201

    async def taken_back() -> bool:
        async with enrollment.state.db.transaction(readonly=True) as session:
            record = await session.get(ClaimYearRecord, (resident, 2026))
        return record is not None and record.fund_pay_fen == 0

    await wait_for(taken_back, timeout=15, what="enrollment to take the reversal back out")

    # A death recorded at enrollment stops care begun after it.
    assert (
        await enroll_api.post(f"/persons/{resident}/death", json={"death_date": "2026-03-01"})
    ).status_code == 200

    attempts = iter(range(1000))

    async def refused() -> bool:
        # A fresh medins_setl_id each time: a retry of one that settled before the death arrived would replay it.
        response = await settle_api.post(
            "/settlements",
            json={
                "fixmedins_code": "H1", "medins_setl_id": f"H1-2-{next(attempts)}", "psn_no": resident,
                "insutype": "390", "med_type": "11", "begntime": "2026-03-02T09:30:00+08:00", "acct_used_flag": 0,
                "feedetail": [{"feedetl_sn": "1", "med_list_codg": "A01", "cnt": "1", "pric": "50",
                               "det_item_fee_sumamt": "50.00", "fee_ocur_time": "2026-03-02T09:40:00+08:00"}],
            },
        )  # fmt: skip
        return response.status_code == 422 and response.json()["code"] == "PERSON_DECEASED"

    await wait_for(refused, timeout=15, what="settlement to learn of the death")
    check = (await settle_api.get("/ledger/check")).json()
    assert check["balanced"] is True, check
