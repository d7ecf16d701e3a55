"""Enrollment's events, read back from a real NATS; settlement's events feed the zero-claim incentive."""

from __future__ import annotations

import httpx
import nats
from fastapi import FastAPI

from common.clock import FrozenClock
from common.events.contracts import Subject
from common.events.envelope import EventEnvelope, new_event
from common.testing.apps import wait_for
from tests.enrollment.conftest import at_shanghai, eligible, enroll, register

EMPLOYEE = {"insutype": "310", "begndate": "2026-01-01", "emp_code": "91420100MA4K123456"}


async def _published(nats_url: str, count: int) -> list[EventEnvelope]:
    client = await nats.connect(nats_url)
    try:
        js = client.jetstream()
        info = await js.stream_info("ENROLLMENT")
        if info.state.messages < count:
            return []
        return [
            EventEnvelope.from_bytes((await js.get_msg("ENROLLMENT", seq)).data or b"")
            for seq in range(info.state.first_seq, info.state.last_seq + 1)
        ]
    finally:
        await client.close()


async def test_every_change_is_published_with_the_computed_facts(
    api: httpx.AsyncClient, nats_url: str, clock: FrozenClock
) -> None:
    clock.set(at_shanghai(2026, 1, 1, 9))
    holder = await register(api, seq=31)
    relative = await register(api, seq=32)
    resident = await register(api, seq=33)
    employee_cov = await enroll(api, holder["psn_no"], **EMPLOYEE)
    await enroll(api, resident["psn_no"], insutype="390", begndate="2026-01-01")
    await api.post(
        f"/persons/{holder['psn_no']}/contributions",
        json={
            "insutype": "310",
            "period": "2026-01",
            "amount": "1000.00",
            "paid_at": "2026-01-01T09:00:00+08:00",
        },
    )
    await api.post(
        "/families", json={"holder_psn_no": holder["psn_no"], "member_psn_nos": [relative["psn_no"]]}
    )
    await api.post(f"/persons/{holder['psn_no']}/death", json={"death_date": "2026-01-01"})

    events = await wait_for(lambda: _published(nats_url, 9), what="nine events on ENROLLMENT")
    assert [(e.type, e.subject) for e in events] == [
        (Subject.PERSON_REGISTERED, holder["psn_no"]),
        (Subject.PERSON_REGISTERED, relative["psn_no"]),
        (Subject.PERSON_REGISTERED, resident["psn_no"]),
        (Subject.COVERAGE_CHANGED, holder["psn_no"]),
        (Subject.COVERAGE_CHANGED, resident["psn_no"]),
        (Subject.CONTRIBUTION_PAID, holder["psn_no"]),
        (Subject.FAMILY_BOUND, holder["psn_no"]),
        (Subject.PERSON_DECEASED, holder["psn_no"]),
        (Subject.COVERAGE_CHANGED, holder["psn_no"]),
    ]
    assert all(e.source == "enrollment" and e.version == 1 for e in events)
    assert events[0].data == {
        "psn_no": holder["psn_no"],
        "certno": holder["certno"],
        "gend": "1",
        "brdy": "1990-03-07",
        "admdvs": "420100",
    }
    resident_coverage = events[4].data
    assert (
        resident_coverage["insutype"],
        resident_coverage["attached_insutypes"],
        resident_coverage["status"],
        resident_coverage["benefit_start_date"],
        resident_coverage["waiting_months"],
        resident_coverage["continuous_years"],
        resident_coverage["incentive_raise"],
    ) == ("390", ["392"], "active", "2026-04-01", 3, 1, "0.00")
    assert events[5].data | {"contribution_id": 0} == {
        "contribution_id": 0,
        "psn_no": holder["psn_no"],
        "insutype": "310",
        "period": "2026-01",
        "amount": "1000.00",
        "acct_amount": "200.00",
        "paid_at": "2026-01-01T01:00:00Z",
        "back_payment": False,
    }
    assert events[6].data == {"holder_psn_no": holder["psn_no"], "member_psn_nos": [relative["psn_no"]]}
    assert events[7].data == {"psn_no": holder["psn_no"], "death_date": "2026-01-01"}
    assert (events[8].data["coverage_id"], events[8].data["status"], events[8].data["enddate"]) == (
        employee_cov["coverage_id"],
        "ended",
        "2026-01-01",
    )


async def _publish(nats_url: str, subject: str, data: dict[str, object], clock: FrozenClock) -> None:
    client = await nats.connect(nats_url)
    try:
        event = new_event(
            type=subject, source="settlement", subject=str(data.get("setl_id", "x")), data=data, clock=clock
        )
        await client.jetstream().publish(subject, event.to_bytes(), headers={"Nats-Msg-Id": str(event.id)})
    finally:
        await client.close()


async def test_a_year_without_fund_pay_raises_next_years_cap_until_settlement_says_otherwise(
    enrollment_app: FastAPI, api: httpx.AsyncClient, nats_url: str, clock: FrozenClock
) -> None:
    clock.set(at_shanghai(2024, 12, 1))
    person = await register(api)
    await enroll(api, person["psn_no"], insutype="390", begndate="2025-01-01")
    clock.set(at_shanghai(2026, 3, 2))
    # Covered 2025 and 2026, nothing reimbursed in 2025: a zero-claim raise of 3,000 for 2026.
    assert (await eligible(api, person["psn_no"], "2026-03-02", "392"))["incentive_raise"] == "3000.00"

    await wait_for(lambda: enrollment_app.state.nats.connected, what="NATS")
    settled = {
        "setl_id": "S2025000001",
        "psn_no": person["psn_no"],
        "insutype": "390",
        "setl_time": "2025-06-01T10:00:00+08:00",
        "fund_pay_sumamt": "120.50",
    }
    await _publish(nats_url, Subject.SETTLED, settled, clock)
    await wait_for(lambda: _raise_is(api, person["psn_no"], "0.00"), what="the raise withdrawn")

    await _publish(
        nats_url,
        Subject.REVERSED,
        {"setl_id": "S2025000002", "orig_setl_id": "S2025000001", "insutype": "390"},
        clock,
    )
    await wait_for(lambda: _raise_is(api, person["psn_no"], "3000.00"), what="the raise restored")


async def _raise_is(api: httpx.AsyncClient, psn_no: str, expected: str) -> bool:
    return bool((await eligible(api, psn_no, "2026-03-02", "392"))["incentive_raise"] == expected)
