"""Settlement's projection of enrollment: persons, coverages, families and account credits, from its events."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from common.clock import business_date
from common.events.enrollment import (
    ContributionPaid,
    CoverageChanged,
    FamilyBound,
    PersonDeceased,
    PersonRegistered,
)
from common.money import yuan_to_fen
from settlement.domain.ledger import contribution_legs
from settlement.models import (
    CoverageProjection,
    FamilyBinding,
    InsuredPerson,
    Journal,
    PersonalAccount,
)
from settlement.service.ledger import post_journal

CONTRIBUTION_JOURNAL = "contribution"


class PersonNotProjected(LookupError):
    """An event about a person whose registration settlement has not applied yet (retried later)."""


class ContractBreach(ValueError):
    """An event whose data enrollment's rules never produce: retrying will not help, ops must look."""


async def apply_person_registered(
    session: AsyncSession, data: PersonRegistered, *, event_time: datetime, now: datetime
) -> None:
    """Insert the person, or refresh what registration says; a recorded death is never touched."""
    values = {"psn_no": data.psn_no, "gend": data.gend, "brdy": data.brdy, "admdvs": data.admdvs}
    statement = _insert(session, InsuredPerson).values(**values, death_date=None, updated_at=now)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[InsuredPerson.psn_no],
            set_={"gend": data.gend, "brdy": data.brdy, "admdvs": data.admdvs, "updated_at": now},
        )
    )


async def apply_coverage_changed(
    session: AsyncSession, data: CoverageChanged, *, event_time: datetime, now: datetime
) -> None:
    """Store the coverage as the event describes it, unless a newer event is already reflected."""
    state = {
        "psn_no": data.psn_no,
        "insutype": data.insutype,
        "attached_insutypes": list(data.attached_insutypes),
        "status": data.status,
        "begndate": data.begndate,
        "enddate": data.enddate,
        "psn_type": data.psn_type,
        "assistance": data.assistance,
        "benefit_start_date": data.benefit_start_date,
        "incentive_raise_fen": yuan_to_fen(data.incentive_raise),
        "suspensions": [
            [s.from_date.isoformat(), s.to_date.isoformat() if s.to_date else None] for s in data.suspensions
        ],
        "source_time": event_time,
    }
    statement = _insert(session, CoverageProjection).values(coverage_id=data.coverage_id, **state)
    # The condition sits in the upsert itself, so two replicas applying two versions at once cannot
    # interleave a read and a write: whichever commits last, the newer event's state stays.
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[CoverageProjection.coverage_id],
            set_=state,
            where=CoverageProjection.source_time <= statement.excluded.source_time,
        )
    )


async def apply_person_deceased(
    session: AsyncSession, data: PersonDeceased, *, event_time: datetime, now: datetime
) -> None:
    """Record the date of death; care begun after it is not covered."""
    updated = await session.execute(
        sa.update(InsuredPerson)
        .where(InsuredPerson.psn_no == data.psn_no)
        .values(death_date=data.death_date, updated_at=now)
        .returning(InsuredPerson.psn_no)
    )
    if updated.scalar_one_or_none() is None:
        # Enrollment publishes the registration before the death, and one consumer reads both subjects in
        # stream order, so this only happens if the registration failed for a while: raising naks the event
        # and the consumer retries it with backoff, by when the person is here. A made-up row could not
        # work: settlement needs the gender and birth date that only the registration carries.
        raise PersonNotProjected(f"person {data.psn_no} is not registered in settlement yet")


async def apply_contribution_paid(
    session: AsyncSession, data: ContributionPaid, *, event_time: datetime, now: datetime
) -> bool:
    """Credit the account part and post the contribution's journal once; False if it was applied before."""
    amount_fen, acct_fen = yuan_to_fen(data.amount), yuan_to_fen(data.acct_amount)
    if not 0 <= acct_fen <= amount_fen:
        raise ContractBreach(f"contribution {data.contribution_id}: account part outside 0..amount")
    # The account row is the person's lock: settlements paying from the account and credits take it in turn,
    # and two copies of one contribution (re-published under a new event id) cannot both pass the check below.
    await session.execute(
        _insert(session, PersonalAccount)
        .values(psn_no=data.psn_no, balc_fen=0, updated_at=now)
        .on_conflict_do_nothing(index_elements=[PersonalAccount.psn_no])
    )
    await session.execute(
        sa.select(PersonalAccount.psn_no).where(PersonalAccount.psn_no == data.psn_no).with_for_update()
    )
    ref = f"contribution:{data.contribution_id}"
    posted = await session.scalar(
        sa.select(Journal.journal_id).where(Journal.kind == CONTRIBUTION_JOURNAL, Journal.ref == ref).limit(1)
    )
    if posted is not None:
        return False
    await session.execute(
        sa.update(PersonalAccount)
        .where(PersonalAccount.psn_no == data.psn_no)
        .values(balc_fen=PersonalAccount.balc_fen + acct_fen, updated_at=now)
    )
    await post_journal(
        session,
        kind=CONTRIBUTION_JOURNAL,
        ref=ref,
        business_date=business_date(data.paid_at),
        legs=contribution_legs(
            psn_no=data.psn_no, insutype=data.insutype, amount_fen=amount_fen, acct_amount_fen=acct_fen
        ),
        now=now,
    )
    return True


async def apply_family_bound(
    session: AsyncSession, data: FamilyBound, *, event_time: datetime, now: datetime
) -> None:
    """Make the holder's family what the event says; a member bound by a newer event stays as it is."""
    members = [m for m in dict.fromkeys(data.member_psn_nos) if m != data.holder_psn_no]
    await session.execute(
        sa.delete(FamilyBinding).where(
            FamilyBinding.holder_psn_no == data.holder_psn_no,
            FamilyBinding.member_psn_no.not_in(members),
            FamilyBinding.source_time <= event_time,
        )
    )
    if not members:
        return
    statement = _insert(session, FamilyBinding).values(
        [
            {"member_psn_no": m, "holder_psn_no": data.holder_psn_no, "source_time": event_time}
            for m in members
        ]
    )
    # A member re-bound to another holder moves: the newer binding wins, whichever holder it names.
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[FamilyBinding.member_psn_no],
            set_={"holder_psn_no": statement.excluded.holder_psn_no, "source_time": event_time},
            where=FamilyBinding.source_time <= statement.excluded.source_time,
        )
    )


async def account_balance(session: AsyncSession, psn_no: str) -> int | None:
    """The personal account's balance in fen; None if the person never had a credit."""
    balance = await session.scalar(
        sa.select(PersonalAccount.balc_fen).where(PersonalAccount.psn_no == psn_no)
    )
    return None if balance is None else int(balance)


def _insert(session: AsyncSession, model: type[Any]) -> postgresql.Insert | sqlite.Insert:
    """An INSERT that speaks the session's dialect, for ON CONFLICT (both SQLite and PostgreSQL have it)."""
    if session.get_bind().dialect.name == "sqlite":
        return sqlite.insert(model)
    return postgresql.insert(model)
