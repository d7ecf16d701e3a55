"""Decided cases (fraud.case.decided) in the month: recoveries once per finding, the penalty once per case, apart."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI

from common.clock import FrozenClock
from common.events.contracts import Subject
from common.events.envelope import EventEnvelope, new_event
from common.events.fraud import CaseDecided, CaseFindingRecovery
from common.events.tables import inbox_event
from common.testing.apps import wait_for
from settlement.events import CASE_DURABLE, on_fraud_event
from settlement.models import Deduction, Journal, JournalLeg
from tests.settlement.conftest import at_shanghai
from tests.settlement.seed import count
from tests.settlement.test_monthly import (
    H1,
    H2,
    MARCH,
    city,
    close_days,
    finding,
    finding_event,
    live_march,
    publish,
)

__all__ = ["city"]  # the fixture, shared with test_monthly


def decided(
    case_id: str,
    code: str,
    recoveries: dict[str, str],
    *,
    multiple: str,
    penalty: str,
    at: datetime,
    basis: str = "violation",
    outcome: str = "decided",
) -> CaseDecided:
    return CaseDecided(
        case_id=case_id,
        fixmedins_code=code,
        outcome=outcome,
        findings=[
            CaseFindingRecovery(
                finding_id=finding_id,
                rule_id="R-SPLIT-1",
                rule_version=2,
                family="split_admission",
                setl_id=None,
                psn_no=None,
                recovery=Decimal(amount),
            )
            for finding_id, amount in recoveries.items()
        ],
        total_recovery=sum((Decimal(a) for a in recoveries.values()), Decimal(0)),
        penalty_basis=basis,
        penalty_multiple=Decimal(multiple),
        penalty_amount=Decimal(penalty),
        points=[],
        referral=False,
        decided_at=at,
        decided_by="auditor-1",
    )


def case_event(data: CaseDecided, clock: FrozenClock) -> EventEnvelope:
    return new_event(
        type=Subject.CASE_DECIDED,
        source="fraud",
        subject=data.case_id,
        data=data.model_dump(mode="json"),
        clock=clock,
    )


async def apply(app: FastAPI, clock: FrozenClock, *events: EventEnvelope) -> None:
    for event in events:
        async with app.state.db.transaction() as session:
            await on_fraud_event(session, event, clock=clock)


async def kept(app: FastAPI) -> dict[str, tuple[str, int, str, str | None, str | None]]:
    async with app.state.db.transaction(readonly=True) as session:
        rows = (await session.scalars(sa.select(Deduction))).all()
    return {r.finding_id: (r.fixmedins_code, r.amount_fen, r.kind, r.case_id, r.month_applied) for r in rows}


async def test_a_decided_case_is_kept_once_with_its_recoveries_and_its_penalty_apart(
    city: FastAPI, api: httpx.AsyncClient, clock: FrozenClock
) -> None:
    # 100.00 + 33.33 recovered, 1.5× → 199.995 → 200.00 (half-up to the fen).
    case = decided(
        "7",
        H1,
        {"F1": "100.00", "F2": "33.33"},
        multiple="1.5",
        penalty="200.00",
        at=at_shanghai(2026, 3, 20),
    )
    confirmed_f1 = finding("F1", H1, "100.00", at_shanghai(2026, 3, 20)).model_copy(update={"case_id": "7"})
    await apply(
        city,
        clock,
        finding_event(confirmed_f1, clock),  # a finding event first, then the case, then both again
        case_event(case, clock),
        case_event(case, clock),
        finding_event(confirmed_f1, clock),
    )
    assert await kept(city) == {
        "F1": (H1, 10_000, "recovery", "7", None),
        "F2": (H1, 3_333, "recovery", "7", None),
        "case:7": (H1, 20_000, "penalty", "7", None),
    }
    listed = (await api.get("/deductions", params={"fixmedins_code": H1})).json()["items"]
    penalty = next(item for item in listed if item["kind"] == "penalty")
    assert {k: penalty[k] for k in ("finding_id", "amount", "kind", "case_id", "family", "setl_id")} == {
        "finding_id": "case:7",
        "amount": "200.00",
        "kind": "penalty",
        "case_id": "7",
        "family": None,
        "setl_id": None,
    }


async def test_the_month_shows_recovery_and_penalty_apart_and_subtracts_both(
    city: FastAPI, api: httpx.AsyncClient, clock: FrozenClock
) -> None:
    await live_march(api, clock)
    await apply(
        city,
        clock,
        case_event(
            decided("7", H1, {"F1": "100.00", "F2": "33.33"}, multiple="1.5", penalty="200.00",
                    at=at_shanghai(2026, 3, 20)),
            clock,
        ),
        # A refund (自查自纠) has no penalty; a case decided on 1 April (Shanghai) is April's.
        case_event(
            decided("8", H2, {"F3": "12.34"}, multiple="0", penalty="0.00", basis="none", outcome="refunded",
                    at=at_shanghai(2026, 3, 31, 23, 59)),
            clock,
        ),
        case_event(
            decided("9", H1, {"F4": "10.00"}, multiple="2", penalty="20.00", basis="fraud",
                    at=at_shanghai(2026, 4, 1, 0, 30)),
            clock,
        ),
    )  # fmt: skip
    computed = await api.post("/monthly-reconciliations", json={"month": MARCH})
    assert computed.status_code == 201, computed.text
    by_code = {s["fixmedins_code"]: s for s in computed.json()["statements"]}
    h1, h2 = by_code[H1], by_code[H2]
    assert (h1["deductions"], h1["deduction_ids"], h1["penalties"], h1["penalty_case_ids"]) == (
        "133.33",
        ["F1", "F2"],
        "200.00",
        ["7"],
    )
    assert h1["net_adjustment"] == "-333.33"
    assert (h2["deductions"], h2["deduction_ids"], h2["penalties"], h2["penalty_case_ids"]) == (
        "12.34",
        ["F3"],
        "0.00",
        [],
    )
    assert h2["net_adjustment"] == "-12.34"

    confirmed = await api.post(f"/monthly-reconciliations/{MARCH}/confirm")
    assert confirmed.status_code == 200, confirmed.text
    assert {key: row[4] for key, row in (await kept(city)).items()} == {
        "F1": MARCH,
        "F2": MARCH,
        "case:7": MARCH,
        "F3": MARCH,
        "F4": None,
        "case:9": None,
    }
    async with city.state.db.transaction(readonly=True) as session:
        journals = (
            await session.execute(
                sa.select(Journal.kind, Journal.ref, JournalLeg.account, JournalLeg.amount_fen)
                .join(JournalLeg, JournalLeg.journal_id == Journal.journal_id)
                .where(Journal.kind == "penalty")
                .order_by(JournalLeg.leg_id)
            )
        ).all()
    assert [tuple(row) for row in journals] == [
        ("penalty", "penalty:7", f"inst_payable:{H1}", 20_000),
        ("penalty", "penalty:7", f"penalty:{H1}", -20_000),
    ]
    assert (await api.get("/ledger/check")).json()["balanced"] is True
    assert (await api.post(f"/monthly-reconciliations/{MARCH}/lock")).status_code == 200

    await close_days(api, clock, date(2026, 4, 1), date(2026, 4, 30))
    april = await api.post("/monthly-reconciliations", json={"month": "2026-04"})
    assert april.status_code == 201, april.text
    [h1_april] = [s for s in april.json()["statements"] if s["fixmedins_code"] == H1]
    assert (
        h1_april["deductions"],
        h1_april["penalties"],
        h1_april["penalty_case_ids"],
        h1_april["net_adjustment"],
    ) == ("10.00", "20.00", ["9"], "-30.00")


@pytest.mark.parametrize(
    "data",
    [
        pytest.param({"penalty_amount": "-1.00"}, id="negative penalty"),
        pytest.param({"penalty_amount": "1.001"}, id="three places"),
        pytest.param({"case_id": "C" * 51}, id="case id too long"),
        pytest.param({"decided_at": "2026-03-02T10:00:00"}, id="naive time"),
        pytest.param({"fixmedins_code": None}, id="no institution"),
    ],
)
async def test_a_case_that_cannot_be_a_deduction_raises_for_the_dead_letters(
    city: FastAPI, clock: FrozenClock, data: dict[str, Any]
) -> None:
    good = decided("5", H1, {"F5": "0"}, multiple="2", penalty="10.00", at=at_shanghai(2026, 3, 2))
    event = new_event(
        type=Subject.CASE_DECIDED,
        source="fraud",
        subject="5",
        data=good.model_dump(mode="json") | data,
        clock=clock,
    )
    with pytest.raises(ValueError):
        async with city.state.db.transaction() as session:
            await on_fraud_event(session, event, clock=clock)
    assert await count(city.state.db, Deduction) == 0


async def test_decided_cases_arrive_through_their_own_durable_consumer(
    city: FastAPI, clock: FrozenClock, nats_url: str
) -> None:
    case = decided("11", H2, {"F8": "50.00"}, multiple="5", penalty="250.00", at=at_shanghai(2026, 3, 3))
    event = case_event(case, clock)
    await publish(city, nats_url, event, event)

    async def applied() -> int:
        async with city.state.db.transaction(readonly=True) as session:
            found = await session.scalar(
                sa.select(sa.func.count()).where(inbox_event.c.consumer == CASE_DURABLE)
            )
        return int(found or 0)

    await wait_for(lambda: _equals(applied, 1), what="the case applied")
    assert await kept(city) == {
        "F8": (H2, 5_000, "recovery", "11", None),
        "case:11": (H2, 25_000, "penalty", "11", None),
    }


async def _equals(read: Any, want: int) -> bool:
    return bool(await read() == want)
