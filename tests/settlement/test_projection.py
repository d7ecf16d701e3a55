"""Settlement's projection of enrollment: applied directly, then fed through a real NATS."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import date, datetime, timedelta
from typing import Any, TypeVar

import nats
import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from common.app import running
from common.clock import FrozenClock
from common.events.contracts import Subject
from common.events.enrollment import (
    ContributionPaid,
    CoverageChanged,
    FamilyBound,
    PersonDeceased,
    PersonRegistered,
    Suspension,
)
from common.events.envelope import EventEnvelope, new_event
from common.events.tables import inbox_event
from common.testing.apps import wait_for
from common.testing.databases import Databases
from settlement.events import ENROLLMENT_DURABLE, on_enrollment_event, on_enrollment_events
from settlement.models import CoverageProjection, FamilyBinding, InsuredPerson, Journal, JournalLeg
from settlement.service.projection import (
    PersonNotProjected,
    account_balance,
    apply_contribution_paid,
    apply_coverage_changed,
    apply_family_bound,
    apply_person_deceased,
    apply_person_registered,
)
from settlement.uow import SettlementUnitOfWork
from tests.settlement.conftest import at_shanghai

HOLDER = "P0000000000000000001"
RELATIVE = "P0000000000000000002"
OTHER_HOLDER = "P0000000000000000003"
NEPHEW = "P0000000000000000004"

Data = TypeVar("Data")


@pytest.fixture
async def app(settlement_app: FastAPI) -> AsyncIterator[FastAPI]:
    async with running(settlement_app):
        yield settlement_app


async def apply(
    app: FastAPI,
    handler: Callable[..., Awaitable[Any]],
    data: Any,
    *,
    at: datetime,
) -> Any:
    """Apply one event's data in a transaction of its own, as the consumer would."""
    async with SettlementUnitOfWork(app.state.db) as uow:
        return await handler(uow=uow, data=data, event_time=at, now=app.state.clock.now())


async def read(app: FastAPI, query: Callable[[AsyncSession], Awaitable[Data]]) -> Data:
    async with app.state.db.transaction(readonly=True) as session:
        return await query(session)


async def person(app: FastAPI, psn_no: str) -> tuple[str, date, str, date | None] | None:
    async def query(session: AsyncSession) -> tuple[str, date, str, date | None] | None:
        row = await session.get(InsuredPerson, psn_no)
        return None if row is None else (row.gend, row.brdy, row.admdvs, row.death_date)

    return await read(app, query)


async def coverage_row(app: FastAPI, coverage_id: int) -> dict[str, Any] | None:
    async def query(session: AsyncSession) -> dict[str, Any] | None:
        row = await session.get(CoverageProjection, coverage_id)
        if row is None:
            return None
        return {c.key: getattr(row, c.key) for c in sa.inspect(CoverageProjection).column_attrs}

    return await read(app, query)


async def families(app: FastAPI) -> dict[str, str]:
    async def query(session: AsyncSession) -> dict[str, str]:
        rows = await session.execute(sa.select(FamilyBinding.member_psn_no, FamilyBinding.holder_psn_no))
        return {member: holder for member, holder in rows}

    return await read(app, query)


async def balance(app: FastAPI, psn_no: str) -> int | None:
    async with SettlementUnitOfWork(app.state.db, readonly=True) as uow:
        return await account_balance(uow=uow, psn_no=psn_no)


async def journals(app: FastAPI) -> list[tuple[str, str, date, list[tuple[str, int]]]]:
    async def query(session: AsyncSession) -> list[tuple[str, str, date, list[tuple[str, int]]]]:
        found = []
        for journal in (await session.scalars(sa.select(Journal).order_by(Journal.journal_id))).all():
            legs = await session.execute(
                sa.select(JournalLeg.account, JournalLeg.amount_fen)
                .where(JournalLeg.journal_id == journal.journal_id)
                .order_by(JournalLeg.leg_id)
            )
            found.append(
                (
                    journal.kind,
                    journal.ref,
                    journal.business_date,
                    [(account, amount) for account, amount in legs],
                )
            )
        return found

    return await read(app, query)


def registered(psn_no: str, *, admdvs: str = "420100") -> PersonRegistered:
    return PersonRegistered(
        psn_no=psn_no, certno="420102199003074512", gend="1", brdy=date(1990, 3, 7), admdvs=admdvs
    )


def employee_coverage(psn_no: str, **changes: Any) -> CoverageChanged:
    state: dict[str, Any] = {
        "coverage_id": 7,
        "psn_no": psn_no,
        "insutype": "310",
        "attached_insutypes": ["330"],
        "status": "active",
        "begndate": date(2026, 1, 1),
        "enddate": None,
        "emp_code": "91420100MA4K123456",
        "psn_type": "employed",
        "assistance": None,
        "benefit_start_date": date(2026, 1, 1),
        "waiting_months": 0,
        "continuous_years": 5,
        "incentive_raise": "3000.00",
        "suspensions": [],
    }
    return CoverageChanged.model_validate(state | changes)


def contribution(contribution_id: int = 11, **changes: Any) -> ContributionPaid:
    fields: dict[str, Any] = {
        "contribution_id": contribution_id,
        "psn_no": HOLDER,
        "insutype": "310",
        "period": "2026-02",
        "amount": "1000.00",
        "acct_amount": "200.00",
        # 01:30 on 1 March in Shanghai: the business date is the 1st, not the UTC date.
        "paid_at": "2026-02-28T17:30:00Z",
        "back_payment": False,
    }
    return ContributionPaid.model_validate(fields | changes)


EMPLOYEE_JOURNAL = (
    "contribution",
    "contribution:11",
    date(2026, 3, 1),
    [("bank:fund", 100000), ("fund:310100", -80000), (f"psn_acct:{HOLDER}", -20000)],
)


# --- applied directly -----------------------------------------------------------------------------------


async def test_a_registered_person_is_projected_and_a_later_registration_refreshes_it(app: FastAPI) -> None:
    await apply(app, apply_person_registered, registered(HOLDER), at=at_shanghai(2026, 3, 1))
    assert await person(app, HOLDER) == ("1", date(1990, 3, 7), "420100", None)

    await apply(app, apply_person_registered, registered(HOLDER, admdvs="429006"), at=at_shanghai(2026, 3, 2))
    assert await person(app, HOLDER) == ("1", date(1990, 3, 7), "429006", None)


async def test_a_death_survives_a_registration_that_arrives_after_it(app: FastAPI) -> None:
    await apply(app, apply_person_registered, registered(HOLDER), at=at_shanghai(2026, 3, 1))
    death = PersonDeceased(psn_no=HOLDER, death_date=date(2026, 2, 27))
    await apply(app, apply_person_deceased, death, at=at_shanghai(2026, 3, 1, 11))

    await apply(app, apply_person_registered, registered(HOLDER), at=at_shanghai(2026, 3, 1))

    assert await person(app, HOLDER) == ("1", date(1990, 3, 7), "420100", date(2026, 2, 27))


async def test_a_death_before_the_registration_is_refused_so_the_consumer_retries_it(app: FastAPI) -> None:
    death = PersonDeceased(psn_no=HOLDER, death_date=date(2026, 2, 27))
    with pytest.raises(PersonNotProjected):
        await apply(app, apply_person_deceased, death, at=at_shanghai(2026, 3, 1))
    assert await person(app, HOLDER) is None


async def test_a_coverage_is_stored_whole_and_an_older_event_never_rolls_it_back(app: FastAPI) -> None:
    suspended = employee_coverage(
        HOLDER,
        status="suspended",
        suspensions=[
            Suspension(from_date=date(2026, 1, 10), to_date=date(2026, 1, 20)),
            Suspension(from_date=date(2026, 2, 15), to_date=None),
        ],
    )
    await apply(app, apply_coverage_changed, suspended, at=at_shanghai(2026, 2, 15))
    expected = {
        "coverage_id": 7,
        "psn_no": HOLDER,
        "insutype": "310",
        "attached_insutypes": ["330"],
        "status": "suspended",
        "begndate": date(2026, 1, 1),
        "enddate": None,
        "psn_type": "employed",
        "assistance": None,
        "benefit_start_date": date(2026, 1, 1),
        "incentive_raise_fen": 300000,
        "suspensions": [["2026-01-10", "2026-01-20"], ["2026-02-15", None]],
        "source_time": at_shanghai(2026, 2, 15),
    }
    assert await coverage_row(app, 7) == expected

    # The active state of January, redelivered late.
    await apply(app, apply_coverage_changed, employee_coverage(HOLDER), at=at_shanghai(2026, 1, 20))
    assert await coverage_row(app, 7) == expected

    ended = employee_coverage(HOLDER, status="ended", enddate=date(2026, 3, 1), incentive_raise=0)
    await apply(app, apply_coverage_changed, ended, at=at_shanghai(2026, 3, 1))
    assert await coverage_row(app, 7) == expected | {
        "status": "ended",
        "enddate": date(2026, 3, 1),
        "incentive_raise_fen": 0,
        "suspensions": [],
        "source_time": at_shanghai(2026, 3, 1),
    }


async def test_a_contribution_credits_the_account_and_posts_one_balanced_journal(app: FastAPI) -> None:
    assert await balance(app, HOLDER) is None

    applied = await apply(app, apply_contribution_paid, contribution(), at=at_shanghai(2026, 3, 1, 2))

    assert applied is True
    assert await balance(app, HOLDER) == 20000
    assert await journals(app) == [EMPLOYEE_JOURNAL]


async def test_a_resident_contribution_goes_wholly_to_the_resident_pool(app: FastAPI) -> None:
    resident = contribution(12, insutype="390", period="2026", amount="380.00", acct_amount="0.00")

    await apply(app, apply_contribution_paid, resident, at=at_shanghai(2026, 3, 1, 2))

    assert await balance(app, HOLDER) == 0
    assert await journals(app) == [
        ("contribution", "contribution:12", date(2026, 3, 1), [("bank:fund", 38000), ("fund:390100", -38000)])
    ]


async def test_a_contribution_seen_again_under_another_event_is_credited_once(app: FastAPI) -> None:
    await apply(app, apply_contribution_paid, contribution(), at=at_shanghai(2026, 3, 1, 2))
    again = await apply(app, apply_contribution_paid, contribution(), at=at_shanghai(2026, 3, 2))
    await apply(app, apply_contribution_paid, contribution(13, period="2026-03"), at=at_shanghai(2026, 3, 2))

    assert again is False
    assert await balance(app, HOLDER) == 40000
    assert [(kind, ref) for kind, ref, _, _ in await journals(app)] == [
        ("contribution", "contribution:11"),
        ("contribution", "contribution:13"),
    ]


async def warm_pool(app: FastAPI, connections: int) -> None:
    """Open connections side by side, so concurrent transactions start together instead of one per connect."""

    async def hold(session: AsyncSession) -> None:
        await session.execute(sa.select(1))
        await asyncio.sleep(0.05)

    await asyncio.gather(*(read(app, hold) for _ in range(connections)))


@pytest.mark.postgres_only
def _mixed_batch() -> list[EventEnvelope]:
    """A consumer's fetched batch: runs of registrations, coverages and contributions (with a person registered
    twice, a coverage's older state after its newer one and two of equal time, a contribution twice, zero
    account parts), a death and a family in between."""
    clock = FrozenClock(at_shanghai(2026, 3, 1, 9))

    def event(kind: str, data: Any, *, minutes: int) -> EventEnvelope:
        return new_event(
            type=kind,
            source="enrollment",
            subject="x",
            data=data.model_dump(mode="json"),
            clock=FrozenClock(clock.now() + timedelta(minutes=minutes)),
        )

    return [
        event(Subject.PERSON_REGISTERED, registered(HOLDER), minutes=0),
        event(Subject.PERSON_REGISTERED, registered(RELATIVE), minutes=0),
        event(Subject.PERSON_REGISTERED, registered(HOLDER, admdvs="420102"), minutes=1),
        event(Subject.COVERAGE_CHANGED, employee_coverage(HOLDER, status="suspended"), minutes=5),
        event(Subject.COVERAGE_CHANGED, employee_coverage(HOLDER), minutes=2),  # older: stays out
        event(Subject.COVERAGE_CHANGED, employee_coverage(RELATIVE, coverage_id=8), minutes=3),
        event(
            Subject.COVERAGE_CHANGED,
            employee_coverage(RELATIVE, coverage_id=8, psn_type="retired"),
            minutes=3,
        ),
        event(Subject.CONTRIBUTION_PAID, contribution(11), minutes=4),
        event(Subject.CONTRIBUTION_PAID, contribution(12, psn_no=RELATIVE, acct_amount="0.00"), minutes=4),
        event(Subject.CONTRIBUTION_PAID, contribution(11), minutes=4),  # the same contribution again
        event(Subject.CONTRIBUTION_PAID, contribution(13, period="2026-03"), minutes=4),
        event(
            Subject.PERSON_DECEASED, PersonDeceased(psn_no=RELATIVE, death_date=date(2026, 3, 1)), minutes=6
        ),
        event(Subject.FAMILY_BOUND, FamilyBound(holder_psn_no=HOLDER, member_psn_nos=[RELATIVE]), minutes=7),
        event(Subject.PERSON_REGISTERED, registered(OTHER_HOLDER), minutes=8),
        event(Subject.CONTRIBUTION_PAID, contribution(14, psn_no=OTHER_HOLDER), minutes=8),
    ]


async def _projection_state(app: FastAPI) -> dict[str, Any]:
    return {
        "persons": {p: await person(app, p) for p in (HOLDER, RELATIVE, OTHER_HOLDER)},
        "coverages": {c: await coverage_row(app, c) for c in (7, 8)},
        "balances": {p: await balance(app, p) for p in (HOLDER, RELATIVE, OTHER_HOLDER)},
        "journals": sorted(await journals(app)),
        "families": await families(app),
    }


async def test_a_batch_applied_set_based_ends_as_its_events_applied_one_by_one(app: FastAPI) -> None:
    events = _mixed_batch()
    clock = app.state.clock
    async with app.state.db.transaction() as session:
        await on_enrollment_events(session, events, clock=clock)
    batched = await _projection_state(app)

    # The same events one by one, in a clean projection.
    async with app.state.db.transaction() as session:
        for table in (JournalLeg, Journal, FamilyBinding, CoverageProjection, InsuredPerson):
            await session.execute(sa.delete(table))
        await session.execute(sa.text("DELETE FROM personal_account"))
    for event in events:
        async with app.state.db.transaction() as session:
            await on_enrollment_event(session, event, clock=clock)
    assert await _projection_state(app) == batched

    assert batched["persons"][HOLDER] == ("1", date(1990, 3, 7), "420102", None)
    assert batched["persons"][RELATIVE] == ("1", date(1990, 3, 7), "420100", date(2026, 3, 1))
    assert batched["coverages"][7]["status"] == "suspended"
    assert batched["coverages"][8]["psn_type"] == "retired"
    assert batched["balances"] == {HOLDER: 40000, RELATIVE: 0, OTHER_HOLDER: 20000}
    assert [ref for _, ref, _, _ in batched["journals"]] == [
        "contribution:11",
        "contribution:12",
        "contribution:13",
        "contribution:14",
    ]
    assert batched["families"] == {RELATIVE: HOLDER}


async def test_copies_of_one_contribution_applied_at_once_credit_the_account_once(
    app: FastAPI, databases: Databases
) -> None:
    if databases.backend != "postgres":
        pytest.skip("row locks are PostgreSQL's; SQLite serialises every writer anyway")

    # January's contribution first, so the account row exists and only its lock can keep the copies apart.
    january = contribution(10, period="2026-01", paid_at="2026-01-31T02:00:00Z")
    await apply(app, apply_contribution_paid, january, at=at_shanghai(2026, 1, 31))

    await warm_pool(app, 6)
    outcomes = await asyncio.gather(
        *(
            apply(app, apply_contribution_paid, contribution(), at=at_shanghai(2026, 3, 1, 2))
            for _ in range(6)
        )
    )

    assert sorted(outcomes) == [False] * 5 + [True]
    assert await balance(app, HOLDER) == 40000
    assert [(kind, ref) for kind, ref, _, _ in await journals(app)] == [
        ("contribution", "contribution:10"),
        ("contribution", "contribution:11"),
    ]


async def test_a_family_event_sets_the_whole_family_and_a_rebound_member_moves(app: FastAPI) -> None:
    first = FamilyBound(holder_psn_no=HOLDER, member_psn_nos=[RELATIVE, NEPHEW])
    await apply(app, apply_family_bound, first, at=at_shanghai(2026, 3, 1))
    assert await families(app) == {RELATIVE: HOLDER, NEPHEW: HOLDER}

    await apply(
        app,
        apply_family_bound,
        FamilyBound(holder_psn_no=OTHER_HOLDER, member_psn_nos=[NEPHEW]),
        at=at_shanghai(2026, 3, 2),
    )
    assert await families(app) == {RELATIVE: HOLDER, NEPHEW: OTHER_HOLDER}

    # The holder's first family, redelivered late, does not take the nephew back.
    await apply(app, apply_family_bound, first, at=at_shanghai(2026, 3, 1))
    assert await families(app) == {RELATIVE: HOLDER, NEPHEW: OTHER_HOLDER}

    # The holder's family is now empty: only the holder's own bindings go.
    await apply(
        app,
        apply_family_bound,
        FamilyBound(holder_psn_no=HOLDER, member_psn_nos=[]),
        at=at_shanghai(2026, 3, 3),
    )
    assert await families(app) == {NEPHEW: OTHER_HOLDER}


async def test_a_persons_events_before_their_registration_end_as_in_stream_order(app: FastAPI) -> None:
    # Two relays of enrollment, or two processes of this consumer, can apply a person's events before the
    # registration. A coverage, a contribution and a family never read the person: they are applied as
    # they come. A death updates the person: refused (the consumer retries it) until the registration is in.
    death = PersonDeceased(psn_no=RELATIVE, death_date=date(2026, 3, 1))
    with pytest.raises(PersonNotProjected):
        await apply(app, apply_person_deceased, death, at=at_shanghai(2026, 3, 2, 3))
    family = FamilyBound(holder_psn_no=HOLDER, member_psn_nos=[RELATIVE])
    await apply(app, apply_family_bound, family, at=at_shanghai(2026, 3, 2, 2))
    await apply(app, apply_contribution_paid, contribution(), at=at_shanghai(2026, 3, 2, 1))
    await apply(app, apply_coverage_changed, employee_coverage(HOLDER), at=at_shanghai(2026, 3, 2, 1))
    assert (await person(app, HOLDER), await person(app, RELATIVE)) == (None, None)

    await apply(app, apply_person_registered, registered(RELATIVE), at=at_shanghai(2026, 3, 2))
    await apply(app, apply_person_registered, registered(HOLDER), at=at_shanghai(2026, 3, 2))
    await apply(app, apply_person_deceased, death, at=at_shanghai(2026, 3, 2, 3))  # the retry

    assert await person(app, HOLDER) == ("1", date(1990, 3, 7), "420100", None)
    assert await person(app, RELATIVE) == ("1", date(1990, 3, 7), "420100", date(2026, 3, 1))
    stored = await coverage_row(app, 7)
    assert stored is not None and (stored["psn_no"], stored["status"]) == (HOLDER, "active")
    assert await families(app) == {RELATIVE: HOLDER}
    assert await balance(app, HOLDER) == 20000
    assert await journals(app) == [EMPLOYEE_JOURNAL]


# --- through NATS ----------------------------------------------------------------------------------------


def enrollment_event(subject: str, data: Any, clock: FrozenClock) -> EventEnvelope:
    return new_event(
        type=subject,
        source="enrollment",
        subject=data.psn_no if hasattr(data, "psn_no") else data.holder_psn_no,
        data=data.model_dump(mode="json"),
        clock=clock,
    )


async def applied_events(app: FastAPI) -> int:
    async def query(session: AsyncSession) -> int:
        count = await session.scalar(
            sa.select(sa.func.count()).where(inbox_event.c.consumer == ENROLLMENT_DURABLE)
        )
        return int(count or 0)

    return await read(app, query)


async def test_enrollment_events_on_jetstream_feed_the_projection_once_each(
    app: FastAPI, nats_url: str, clock: FrozenClock
) -> None:
    await wait_for(lambda: app.state.nats.connected, what="settlement connected to NATS")
    start = clock.now()
    events = [
        enrollment_event(Subject.PERSON_REGISTERED, registered(HOLDER), clock),
        enrollment_event(Subject.PERSON_REGISTERED, registered(RELATIVE), clock),
    ]
    clock.advance(minutes=1)
    events.append(enrollment_event(Subject.COVERAGE_CHANGED, employee_coverage(HOLDER), clock))
    paid = enrollment_event(Subject.CONTRIBUTION_PAID, contribution(), clock)
    events.append(paid)
    clock.advance(minutes=1)
    suspended = enrollment_event(
        Subject.COVERAGE_CHANGED,
        employee_coverage(
            HOLDER,
            status="suspended",
            suspensions=[Suspension(from_date=date(2026, 3, 2), to_date=None)],
        ),
        clock,
    )
    events += [
        suspended,
        enrollment_event(
            Subject.FAMILY_BOUND, FamilyBound(holder_psn_no=HOLDER, member_psn_nos=[RELATIVE]), clock
        ),
        enrollment_event(
            Subject.PERSON_DECEASED, PersonDeceased(psn_no=RELATIVE, death_date=date(2026, 3, 1)), clock
        ),
        # The same contribution re-published under a new event id.
        paid.model_copy(update={"id": uuid.uuid4(), "time": clock.now()}),
    ]
    # The active coverage from a minute earlier, redelivered after the suspension.
    late = events[2].model_copy(update={"id": uuid.uuid4()})
    events.append(late)

    publisher = await nats.connect(nats_url)
    try:
        js = publisher.jetstream()
        for event in [*events[:4], paid, *events[4:]]:  # `paid` twice with one id: JetStream keeps one
            await js.publish(event.type, event.to_bytes(), headers={"Nats-Msg-Id": str(event.id)})
        assert (await js.stream_info("ENROLLMENT")).state.messages == len(events)
    finally:
        await publisher.close()

    await wait_for(lambda: _applied(app, len(events)), what="every event applied")

    assert await person(app, HOLDER) == ("1", date(1990, 3, 7), "420100", None)
    assert await person(app, RELATIVE) == ("1", date(1990, 3, 7), "420100", date(2026, 3, 1))
    stored = await coverage_row(app, 7)
    assert stored is not None
    assert (stored["status"], stored["suspensions"], stored["source_time"]) == (
        "suspended",
        [["2026-03-02", None]],
        start + timedelta(minutes=2),
    )
    assert await families(app) == {RELATIVE: HOLDER}
    assert await balance(app, HOLDER) == 20000
    assert await journals(app) == [EMPLOYEE_JOURNAL]


async def _applied(app: FastAPI, count: int) -> bool:
    return await applied_events(app) == count


async def test_a_death_published_before_the_registration_is_retried_until_the_person_is_projected(
    app: FastAPI, nats_url: str, clock: FrozenClock
) -> None:
    # Every event of the person published before the registration, as two relays side by side can.
    await wait_for(lambda: app.state.nats.connected, what="settlement connected to NATS")
    events = [
        enrollment_event(
            Subject.PERSON_DECEASED, PersonDeceased(psn_no=RELATIVE, death_date=date(2026, 3, 1)), clock
        ),
        enrollment_event(
            Subject.FAMILY_BOUND, FamilyBound(holder_psn_no=HOLDER, member_psn_nos=[RELATIVE]), clock
        ),
        enrollment_event(Subject.CONTRIBUTION_PAID, contribution(), clock),
        enrollment_event(Subject.COVERAGE_CHANGED, employee_coverage(HOLDER), clock),
        enrollment_event(Subject.PERSON_REGISTERED, registered(HOLDER), clock),
        enrollment_event(Subject.PERSON_REGISTERED, registered(RELATIVE), clock),
    ]
    publisher = await nats.connect(nats_url)
    try:
        js = publisher.jetstream()
        for event in events:
            await js.publish(event.type, event.to_bytes(), headers={"Nats-Msg-Id": str(event.id)})
    finally:
        await publisher.close()

    await wait_for(lambda: _applied(app, len(events)), timeout=15, what="the death applied after the person")

    assert await person(app, HOLDER) == ("1", date(1990, 3, 7), "420100", None)
    assert await person(app, RELATIVE) == ("1", date(1990, 3, 7), "420100", date(2026, 3, 1))
    assert (await coverage_row(app, 7) or {}).get("status") == "active"
    assert await families(app) == {RELATIVE: HOLDER}
    assert await balance(app, HOLDER) == 20000
    assert await journals(app) == [EMPLOYEE_JOURNAL]
