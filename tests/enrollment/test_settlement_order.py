"""A resident settlement's reversal applied before the settlement (replicas, two relays) is retried, not lost.

Only resident settlements (390, 392) count for the zero-claim incentive, and the reversal carries the
original's insutype: another insutype's reversal is ignored as its settlement was, a resident one whose
settlement is not counted yet raises, so the consumer delivers it again after the backoff.
"""

from __future__ import annotations

from typing import Any

import httpx
import nats
import pytest
import sqlalchemy as sa
from fastapi import FastAPI

from common.clock import FrozenClock
from common.events.contracts import Subject
from common.events.envelope import EventEnvelope, new_event
from common.events.tables import inbox_event
from common.testing.apps import wait_for
from enrollment.events import on_settlement_event
from enrollment.models import ClaimSettlement, ClaimYearRecord
from enrollment.service.claims import SettlementNotYetCounted
from tests.enrollment.conftest import at_shanghai, eligible, enroll, register

EVENT_CLOCK = FrozenClock(at_shanghai(2025, 6, 1))


def settled(setl_id: str, psn_no: str, *, insutype: str = "390", fund: str = "120.50") -> EventEnvelope:
    data = {
        "setl_id": setl_id,
        "psn_no": psn_no,
        "insutype": insutype,
        "setl_time": "2025-06-01T10:00:00+08:00",
        "fund_pay_sumamt": fund,
    }
    return new_event(type=Subject.SETTLED, source="settlement", subject=setl_id, data=data, clock=EVENT_CLOCK)


def reversal(orig_setl_id: str, *, insutype: str = "390") -> EventEnvelope:
    data = {"setl_id": f"R{orig_setl_id}", "orig_setl_id": orig_setl_id, "insutype": insutype}
    return new_event(
        type=Subject.REVERSED, source="settlement", subject=f"R{orig_setl_id}", data=data, clock=EVENT_CLOCK
    )


async def handle(app: FastAPI, *events: EventEnvelope) -> None:
    """Apply each event in a transaction of its own, as the consumer's handler does."""
    for each in events:
        async with app.state.db.transaction() as session:
            await on_settlement_event(session, each, clock=app.state.clock, policy=app.state.resident_policy)


async def counted(app: FastAPI, psn_no: str) -> tuple[list[tuple[str, bool]], int | None]:
    """The person's settlements seen (id, reversed) and their 2025 fund pay in fen."""
    async with app.state.db.transaction(readonly=True) as session:
        seen = (
            await session.execute(
                sa.select(ClaimSettlement.setl_id, ClaimSettlement.reversed)
                .where(ClaimSettlement.psn_no == psn_no)
                .order_by(ClaimSettlement.setl_id)
            )
        ).all()
        year = await session.get(ClaimYearRecord, (psn_no, 2025))
    return [(setl_id, flag) for setl_id, flag in seen], None if year is None else year.fund_pay_fen


async def resident(api: httpx.AsyncClient, clock: FrozenClock) -> str:
    """A resident covered in 2025 and 2026 with nothing reimbursed in 2025: a raise of 3,000 for 2026."""
    clock.set(at_shanghai(2024, 12, 1))
    person = await register(api)
    await enroll(api, person["psn_no"], insutype="390", begndate="2025-01-01")
    clock.set(at_shanghai(2026, 3, 2))
    assert await raise_of(api, person["psn_no"]) == "3000.00"
    psn_no: str = person["psn_no"]
    return psn_no


async def raise_of(api: httpx.AsyncClient, psn_no: str) -> Any:
    return (await eligible(api, psn_no, "2026-03-02", "392"))["incentive_raise"]


async def test_a_resident_reversal_before_its_settlement_is_refused_until_the_settlement_is_counted(
    enrollment_app: FastAPI, api: httpx.AsyncClient, clock: FrozenClock
) -> None:
    psn_no = await resident(api, clock)
    with pytest.raises(SettlementNotYetCounted, match="settlement S1 is reversed but not counted yet"):
        await handle(enrollment_app, reversal("S1"))
    assert await counted(enrollment_app, psn_no) == ([], None)
    await handle(enrollment_app, settled("S1", psn_no))
    assert await counted(enrollment_app, psn_no) == ([("S1", False)], 12050)
    assert await raise_of(api, psn_no) == "0.00"
    await handle(enrollment_app, reversal("S1"))
    assert await counted(enrollment_app, psn_no) == ([("S1", True)], 0)
    assert await raise_of(api, psn_no) == "3000.00"
    await handle(enrollment_app, reversal("S1"))  # the reversal again (another event id): nothing changes
    assert await counted(enrollment_app, psn_no) == ([("S1", True)], 0)
    assert await raise_of(api, psn_no) == "3000.00"


async def test_a_reversal_of_a_non_resident_settlement_is_ignored_as_the_settlement_is(
    enrollment_app: FastAPI, api: httpx.AsyncClient, clock: FrozenClock
) -> None:
    psn_no = await resident(api, clock)
    # An employee settlement of the same person: never counted, so its reversal waits for nothing.
    await handle(enrollment_app, reversal("S2", insutype="310"), settled("S2", psn_no, insutype="310"))
    await handle(enrollment_app, reversal("S2", insutype="310"))
    assert await counted(enrollment_app, psn_no) == ([], None)
    assert await raise_of(api, psn_no) == "3000.00"


async def test_a_reversal_published_before_its_settlement_is_applied_once_the_settlement_is_counted(
    enrollment_app: FastAPI, api: httpx.AsyncClient, nats_url: str, clock: FrozenClock
) -> None:
    psn_no = await resident(api, clock)
    await wait_for(lambda: enrollment_app.state.nats.connected, what="NATS")
    client = await nats.connect(nats_url)
    try:
        js = client.jetstream()
        for each in (reversal("S1"), settled("S1", psn_no)):
            await js.publish(each.type, each.to_bytes(), headers={"Nats-Msg-Id": str(each.id)})
    finally:
        await client.close()

    async def both_in() -> bool:
        async with enrollment_app.state.db.transaction(readonly=True) as session:
            return await session.scalar(sa.select(sa.func.count()).select_from(inbox_event)) == 2

    await wait_for(both_in, timeout=15, what="the reversal applied after its settlement")
    assert await counted(enrollment_app, psn_no) == ([("S1", True)], 0)
    assert await raise_of(api, psn_no) == "3000.00"
