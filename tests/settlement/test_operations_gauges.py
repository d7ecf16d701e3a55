"""The gauges behind the operators' alerts: the last closed business day and the disbursements past due."""

from __future__ import annotations

from datetime import UTC, date, datetime

import httpx
from fastapi import FastAPI
from prometheus_client import REGISTRY

from common.clock import FrozenClock
from settlement.service.operations import day_start_timestamp, refresh_operations_gauges
from tests.settlement.conftest import at_shanghai
from tests.settlement.test_day_close import H1, city, claim, settle

__all__ = ["city"]  # the fixture, used by name


LAST_CLOSED_DAY = "settlement_last_closed_day_timestamp_seconds"
DISBURSEMENTS_OVERDUE = "settlement_disbursements_overdue"
DISBURSEMENTS_OVERDUE_FEN = "settlement_disbursements_overdue_fen"


def gauge(name: str) -> float | None:
    return REGISTRY.get_sample_value(name)


def test_a_business_day_starts_at_midnight_in_shanghai() -> None:
    assert day_start_timestamp(date(2026, 3, 2)) == datetime(2026, 3, 1, 16, 0, tzinfo=UTC).timestamp()


async def test_the_gauges_show_the_last_close_and_what_is_paid_late(
    city: FastAPI, api: httpx.AsyncClient, clock: FrozenClock
) -> None:
    db = city.state.db
    await refresh_operations_gauges(db=db, clock=clock)
    assert (gauge(LAST_CLOSED_DAY), gauge(DISBURSEMENTS_OVERDUE), gauge(DISBURSEMENTS_OVERDUE_FEN)) == (
        0,
        0,
        0,
    )

    await settle(api, claim("G1", "800.00"))  # H1 is owed 160.00 for 2 March, due on 3 March
    clock.set(at_shanghai(2026, 3, 3, 1))
    assert (await api.post("/day-closes", json={"date": "2026-03-02"})).status_code == 201
    await refresh_operations_gauges(db=db, clock=clock)
    assert gauge(LAST_CLOSED_DAY) == day_start_timestamp(date(2026, 3, 2))
    assert gauge(DISBURSEMENTS_OVERDUE) == 0, "due today is not late yet"

    clock.set(at_shanghai(2026, 3, 4, 0, 5))  # 3 March is over and nobody paid
    await refresh_operations_gauges(db=db, clock=clock)
    assert (gauge(DISBURSEMENTS_OVERDUE), gauge(DISBURSEMENTS_OVERDUE_FEN)) == (1, 16_000)

    (order,) = (await api.get("/disbursements", params={"fixmedins_code": H1})).json()
    assert (await api.post(f"/disbursements/{order['disbursement_id']}/paid")).status_code == 200
    await refresh_operations_gauges(db=db, clock=clock)
    assert (gauge(DISBURSEMENTS_OVERDUE), gauge(DISBURSEMENTS_OVERDUE_FEN)) == (0, 0)


async def test_settlement_serves_the_gauges_on_metrics(city: FastAPI, api: httpx.AsyncClient) -> None:
    text = (await api.get("/metrics")).text
    for name in (LAST_CLOSED_DAY, DISBURSEMENTS_OVERDUE, DISBURSEMENTS_OVERDUE_FEN):
        assert f"\n{name} " in text, name
