"""Lines of suspended practitioners are refused by fee date; the codes are stored and carried in the event."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI

from common.clock import FrozenClock
from common.events.contracts import Subject
from common.events.envelope import new_event
from common.events.fraud import PractitionerReinstated, PractitionerSuspended
from common.events.settlement import SettlementSettled
from common.events.tables import outbox_event
from settlement.domain.practitioners import Suspension, suspended_line_refusal
from settlement.events import on_practitioner_event
from settlement.models import FeeDetail, Settlement, SuspendedPractitioner, Visit
from tests.settlement.seed import count
from tests.settlement.test_settle_api import HOSPITAL, claim, line, world  # noqa: F401 (the fixture)

DR, DR2, PHAR = "D420100000001", "D420100000002", "Y420100000003"


def suspended(
    suspension_id: str, prac_codg: str, start: date, until: date, level: str = "suspended"
) -> PractitionerSuspended:
    return PractitionerSuspended(
        suspension_id=suspension_id,
        prac_codg=prac_codg,
        prac_type="pharmacist" if prac_codg.startswith("Y") else "doctor",
        fixmedins_code=HOSPITAL,
        points=9 if level == "suspended" else 12,
        level=level,
        suspended_from=start,
        suspended_until=until,
    )


async def deliver(
    app: FastAPI, data: PractitionerSuspended | PractitionerReinstated, clock: FrozenClock
) -> None:
    kind = (
        Subject.PRACTITIONER_SUSPENDED
        if isinstance(data, PractitionerSuspended)
        else Subject.PRACTITIONER_REINSTATED
    )
    event = new_event(
        type=kind, source="fraud", subject=data.prac_codg, data=data.model_dump(mode="json"), clock=clock
    )
    async with app.state.db.transaction() as session:
        await on_practitioner_event(session, event, clock=clock)


def at(day: str) -> str:
    return f"{day}T09:50:00+08:00"


@contextmanager
def statements(app: FastAPI) -> Iterator[list[str]]:
    """The SQL statements the app runs inside the block."""
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    engine = app.state.db.engine.sync_engine
    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)


def test_a_line_is_refused_only_within_the_period_and_before_it_was_lifted() -> None:
    period = [Suspension(DR, "suspended", date(2026, 3, 2), date(2026, 4, 1))]

    class Line:
        def __init__(self, sn: str, day: str, dr: str | None = None, phar: str | None = None) -> None:
            self.feedetl_sn, self.bilg_dr_codg, self.phar_prac_codg = sn, dr, phar
            self.fee_ocur_time = datetime.fromisoformat(at(day))

    assert suspended_line_refusal([Line("1", "2026-03-01", DR), Line("2", "2026-04-02", DR)], period) is None
    refusal = suspended_line_refusal([Line("1", "2026-03-01", DR2), Line("2", "2026-04-01", DR)], period)
    assert refusal is not None
    assert (refusal.code, refusal.extra["feedetl_sn"], refusal.extra["prac_codg"]) == (
        "PRACTITIONER_SUSPENDED",
        "2",
        DR,
    )
    lifted = [Suspension(DR, "suspended", date(2026, 3, 2), date(2026, 4, 1), lifted_on=date(2026, 3, 20))]
    assert suspended_line_refusal([Line("1", "2026-03-20", DR)], lifted) is None
    assert suspended_line_refusal([Line("1", "2026-03-19", phar=DR)], lifted) is not None


async def test_the_last_day_of_a_suspension_is_refused_and_the_day_after_is_paid(
    world: FastAPI,  # noqa: F811
    api: httpx.AsyncClient,
    clock: FrozenClock,
) -> None:
    await deliver(world, suspended("7", DR, date(2026, 2, 20), date(2026, 3, 1)), clock)
    last_day = claim(
        "M-LAST",
        [line("1", "A01", "1", "50", "50.00"), line("2", "A01", "1", "20", "20.00", bilg_dr_codg=DR)],
        begntime=at("2026-03-01"),
    )
    last_day["feedetail"][1]["fee_ocur_time"] = at("2026-03-01")
    last_day["feedetail"][0]["fee_ocur_time"] = at("2026-03-01")
    refused = await api.post("/settlements", json=last_day)
    assert refused.status_code == 422, refused.text
    problem = refused.json()
    assert (problem["code"], problem["feedetl_sn"], problem["prac_codg"], problem["suspended_until"]) == (
        "PRACTITIONER_SUSPENDED",
        "2",
        DR,
        "2026-03-01",
    )
    assert "Line 2" in problem["detail"] and DR in problem["detail"]
    assert (await count(world.state.db, Settlement), await count(world.state.db, Visit)) == (0, 0)
    day_after = claim("M-AFTER", [line("1", "A01", "1", "20", "20.00", bilg_dr_codg=DR, phar_prac_codg=PHAR)])
    accepted = await api.post("/settlements", json=day_after)
    assert accepted.status_code == 201, accepted.text
    async with world.state.db.transaction(readonly=True) as session:
        stored = (await session.execute(sa.select(FeeDetail.bilg_dr_codg, FeeDetail.phar_prac_codg))).all()
        payloads = (
            await session.scalars(
                sa.select(outbox_event.c.payload).where(outbox_event.c.type == Subject.SETTLED)
            )
        ).all()
    assert [tuple(row) for row in stored] == [(DR, PHAR)]
    document = json.loads(payloads[0])["data"]
    assert document == SettlementSettled.model_validate(document).model_dump(mode="json")
    assert (document["feedetail"][0]["bilg_dr_codg"], document["feedetail"][0]["phar_prac_codg"]) == (
        DR,
        PHAR,
    )


async def test_pre_settlement_and_settlement_of_a_visit_refuse_a_suspended_pharmacists_line(
    world: FastAPI,  # noqa: F811
    api: httpx.AsyncClient,
    clock: FrozenClock,
) -> None:
    visit = (
        await api.post(
            "/visits",
            json={
                "fixmedins_code": HOSPITAL,
                "psn_no": "P1",
                "insutype": "310",
                "med_type": "11",
                "begntime": at("2026-03-02"),
            },
        )
    ).json()
    mdtrt_id = visit["mdtrt_id"]
    upload = await api.post(
        f"/visits/{mdtrt_id}/fee-details",
        json={"feedetail": [line("1", "A01", "1", "50", "50.00", phar_prac_codg=PHAR)]},
    )
    assert upload.status_code == 201, upload.text
    assert (await api.get(f"/visits/{mdtrt_id}")).json()["feedetail"][0]["phar_prac_codg"] == PHAR
    await deliver(world, suspended("8", PHAR, date(2026, 3, 2), date(2027, 3, 1), "terminated"), clock)
    pre = await api.post(f"/visits/{mdtrt_id}/pre-settlement", json={"acct_used_flag": 1})
    settle = await api.post(
        f"/visits/{mdtrt_id}/settlement", json={"medins_setl_id": "M-V1", "acct_used_flag": 1}
    )
    for response in (pre, settle):
        assert response.status_code == 422, response.text
        assert (response.json()["code"], response.json()["prac_codg"], response.json()["level"]) == (
            "PRACTITIONER_SUSPENDED",
            PHAR,
            "terminated",
        )
    assert await count(world.state.db, Settlement) == 0
    # Ended early (lifted from today): paid again.
    await deliver(
        world,
        PractitionerReinstated(
            suspension_id="8",
            prac_codg=PHAR,
            fixmedins_code=HOSPITAL,
            level="terminated",
            suspended_from=date(2026, 3, 2),
            suspended_until=date(2027, 3, 1),
            reinstated_on=date(2026, 3, 2),
        ),
        clock,
    )
    again = await api.post(
        f"/visits/{mdtrt_id}/settlement", json={"medins_setl_id": "M-V1", "acct_used_flag": 1}
    )
    assert again.status_code == 201, again.text


async def test_only_claims_carrying_practitioner_codes_read_the_suspensions_once(
    world: FastAPI,  # noqa: F811
    api: httpx.AsyncClient,
    clock: FrozenClock,
) -> None:
    await deliver(world, suspended("9", DR2, date(2026, 1, 1), date(2026, 1, 31)), clock)
    warm_up = claim("M-Q0", [line("1", "A01", "1", "5", "5.00")])
    assert (
        await api.post("/settlements", json=warm_up)
    ).status_code == 201  # the person's year row exists now
    with statements(world) as plain:
        body = claim("M-Q1", [line("1", "A01", "1", "5", "5.00"), line("2", "A01", "1", "5", "5.00")])
        assert (await api.post("/settlements", json=body)).status_code == 201
    with statements(world) as coded:
        body = claim(
            "M-Q2",
            [
                line("1", "A01", "1", "5", "5.00", bilg_dr_codg=DR),
                line("2", "A01", "1", "5", "5.00", bilg_dr_codg=DR2),
            ],
        )
        assert (await api.post("/settlements", json=body)).status_code == 201
    reads = [s for s in coded if "FROM suspended_practitioner" in s]
    assert ([s for s in plain if "suspended_practitioner" in s], len(reads)) == ([], 1)


@pytest.mark.parametrize(
    "code", ["D42010000001", "D4201000000012", "X420100000001", "d420100000001", "D42010000000A"]
)
async def test_a_malformed_practitioner_code_is_a_clear_422_and_nothing_is_written(
    world: FastAPI,  # noqa: F811
    api: httpx.AsyncClient,
    code: str,
) -> None:
    body = claim("M-BAD", [line("1", "A01", "1", "5", "5.00", bilg_dr_codg=code)])
    response = await api.post("/settlements", json=body)
    assert response.status_code == 422
    problem = response.json()
    assert problem["code"] == "VALIDATION_ERROR"
    assert problem["errors"][0]["loc"] == ["body", "feedetail", 0, "bilg_dr_codg"]
    assert "national practitioner code" in problem["errors"][0]["msg"]
    assert await count(world.state.db, Settlement) == 0


async def test_a_suspension_delivered_twice_is_kept_once_and_a_lift_survives_a_late_copy(
    world: FastAPI,  # noqa: F811
    clock: FrozenClock,
) -> None:
    start = suspended("11", DR, date(2026, 3, 2), date(2026, 4, 1))
    await deliver(world, start, clock)
    await deliver(
        world,
        PractitionerReinstated(
            suspension_id="11",
            prac_codg=DR,
            fixmedins_code=HOSPITAL,
            level="suspended",
            suspended_from=date(2026, 3, 2),
            suspended_until=date(2026, 4, 1),
            reinstated_on=date(2026, 4, 2),
        ),
        clock,
    )
    await deliver(world, start, clock)
    async with world.state.db.transaction(readonly=True) as session:
        rows = (
            await session.execute(
                sa.select(SuspendedPractitioner.suspension_id, SuspendedPractitioner.lifted_on)
            )
        ).all()
    assert [tuple(row) for row in rows] == [("11", date(2026, 4, 2))]
