"""记分 over real NATS: points recorded in fraud suspend a doctor, settlement refuses the lines they order
within the period and pays them again after it — never asking fraud, only through the events.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import httpx
import sqlalchemy as sa
from fastapi import FastAPI

from common.clock import FrozenClock
from common.testing.apps import wait_for
from settlement.models import SuspendedPractitioner
from tests.e2e.test_fraud_settlement import H1, apps  # noqa: F401 (the fixture)
from tests.settlement.conftest import at_shanghai

DR, DR2 = "D420100000001", "D420100000002"


def visit(medins_setl_id: str, day: date, lines: list[tuple[str, str | None]]) -> dict[str, Any]:
    return {
        "fixmedins_code": H1, "medins_setl_id": medins_setl_id, "psn_no": "P1", "insutype": "310",
        "med_type": "11", "begntime": f"{day}T09:00:00+08:00", "acct_used_flag": 0,
        "feedetail": [
            {"feedetl_sn": sn, "med_list_codg": "A01", "cnt": "1", "pric": "30.00", "det_item_fee_sumamt": "30.00",
             "fee_ocur_time": f"{day}T09:10:00+08:00", "bilg_dr_codg": doctor}
            for sn, doctor in lines
        ],
    }  # fmt: skip


async def suspensions(settlement: FastAPI) -> list[tuple[str, date, date, date | None]]:
    async with settlement.state.db.transaction(readonly=True) as session:
        rows = (
            await session.execute(
                sa.select(
                    SuspendedPractitioner.prac_codg,
                    SuspendedPractitioner.suspended_from,
                    SuspendedPractitioner.suspended_until,
                    SuspendedPractitioner.lifted_on,
                )
            )
        ).all()
    return [tuple(row) for row in rows]


async def test_points_in_fraud_suspend_a_doctor_whose_lines_settlement_then_refuses_until_the_period_ends(
    apps: tuple[FastAPI, httpx.AsyncClient, FastAPI, httpx.AsyncClient],  # noqa: F811
    clock: FrozenClock,
) -> None:
    _, fraud_api, settlement, settle_api = apps
    clock.set(at_shanghai(2026, 3, 2, 9))
    for code in (DR, DR2):
        registered = await fraud_api.post(
            "/practitioners", json={"prac_codg": code, "prac_type": "doctor", "fixmedins_code": H1}
        )
        assert registered.status_code == 201, registered.text
    for points in (6, 5):
        given = await fraud_api.post(f"/practitioners/{DR}/points", json={"points": points, "reason": "违规"})
        assert given.status_code == 201, given.text
    # 11 points: suspended by the default scale at 9 (one month: 2026-03-02 .. 2026-04-01).
    assert given.json()["suspension"]["suspended_until"] == "2026-04-01"
    await wait_for(lambda: _has(settlement, 1), timeout=15, what="settlement to project the suspension")
    refused = await settle_api.post(
        "/settlements", json=visit("OP-1", date(2026, 3, 2), [("1", DR2), ("2", DR)])
    )
    assert refused.status_code == 422, refused.text
    assert (refused.json()["code"], refused.json()["feedetl_sn"], refused.json()["prac_codg"]) == (
        "PRACTITIONER_SUSPENDED",
        "2",
        DR,
    )
    # The other doctor's care, and care without a code, are paid.
    paid = await settle_api.post(
        "/settlements", json=visit("OP-2", date(2026, 3, 2), [("1", DR2), ("2", None)])
    )
    assert paid.status_code == 201, paid.text
    # One more point: 12, terminated for a year from today — still refused after the suspension's month.
    twelve = await fraud_api.post(f"/practitioners/{DR}/points", json={"points": 1, "reason": "再次违规"})
    assert twelve.json()["suspension"]["level"] == "terminated"
    await wait_for(lambda: _has(settlement, 2), timeout=15, what="the termination")
    clock.set(at_shanghai(2026, 4, 10, 9))
    swept = await fraud_api.post("/practitioners/reinstatements", json={})
    assert [s["level"] for s in swept.json()["reinstated"]] == ["suspended"]

    async def lifted() -> bool:
        return any(row[3] is not None for row in await suspensions(settlement))

    await wait_for(lifted, timeout=15, what="the reinstatement")
    still = await settle_api.post("/settlements", json=visit("OP-3", date(2026, 4, 10), [("1", DR)]))
    assert (still.status_code, still.json()["code"]) == (422, "PRACTITIONER_SUSPENDED")
    assert still.json()["level"] == "terminated"
    assert sorted(await suspensions(settlement)) == [
        (DR, date(2026, 3, 2), date(2026, 4, 1), date(2026, 4, 2)),
        (DR, date(2026, 3, 2), date(2027, 3, 1), None),
    ]


async def _has(settlement: FastAPI, n: int) -> bool:
    return len(await suspensions(settlement)) == n
