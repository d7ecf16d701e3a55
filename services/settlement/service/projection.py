"""Settlement's projection of enrollment: persons, coverages, families and account credits, from its events.

Enrollment publishes a person's registration first, but two relays publishing side by side or two consumer
processes (replicas) sharing the durable consumer can apply the person's other events before it. Only a death
needs the person row (it is an update of it): it raises PersonNotProjected and is retried. The others are
order-independent and never read the person: a coverage is stored whole under its own id, an older event
never overwriting a newer one; a contribution credits the account row (created on first use) and posts its
journal once per contribution; a family event keeps each member's newest binding, and enrollment's families
only grow (each event lists the whole family); a registration upserts and never touches a recorded death.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

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
from settlement.uow import SettlementUnitOfWork

CONTRIBUTION_JOURNAL = "contribution"


class PersonNotProjected(LookupError):
    """An event about a person whose registration settlement has not applied yet (retried later)."""


class ContractBreach(ValueError):
    """An event whose data enrollment's rules never produce: retrying will not help, ops must look."""


async def apply_person_registered(
    *, uow: SettlementUnitOfWork, data: PersonRegistered, event_time: datetime, now: datetime
) -> None:
    """Insert the person, or refresh what registration says; a recorded death is never touched."""
    await uow.projection.upsert_person(
        {"psn_no": data.psn_no, "gend": data.gend, "brdy": data.brdy, "admdvs": data.admdvs}, now=now
    )


async def apply_coverage_changed(
    *, uow: SettlementUnitOfWork, data: CoverageChanged, event_time: datetime, now: datetime
) -> None:
    """Store the coverage as the event describes it, unless a newer event is already reflected."""
    state = coverage_state(data, event_time)
    await uow.projection.upsert_coverage(state.pop("coverage_id"), state)


def coverage_state(data: CoverageChanged, event_time: datetime) -> dict[str, Any]:
    """The projection row of a coverage as the event describes it."""
    return {
        "coverage_id": data.coverage_id,
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


async def apply_person_deceased(
    *, uow: SettlementUnitOfWork, data: PersonDeceased, event_time: datetime, now: datetime
) -> None:
    """Record the date of death; care begun after it is not covered."""
    if not await uow.projection.mark_deceased(data.psn_no, data.death_date, now=now):
        # Enrollment publishes the registration before the death, but two relays publishing side by side,
        # two consumer processes (replicas) sharing the durable consumer, or a registration that failed for
        # a while can apply the death first: raising naks the event and the consumer retries it with backoff,
        # by when the person is here. A made-up row could not work: settlement needs the gender and birth
        # date that only the registration carries.
        raise PersonNotProjected(f"person {data.psn_no} is not registered in settlement yet")


async def apply_contribution_paid(
    *, uow: SettlementUnitOfWork, data: ContributionPaid, event_time: datetime, now: datetime
) -> bool:
    """Credit the account part and post the contribution's journal once; False if it was applied before."""
    amount_fen, acct_fen = yuan_to_fen(data.amount), yuan_to_fen(data.acct_amount)
    if not 0 <= acct_fen <= amount_fen:
        raise ContractBreach(f"contribution {data.contribution_id}: account part outside 0..amount")
    # The account row is the person's lock: settlements paying from the account and credits take it in turn,
    # and two copies of one contribution (re-published under a new event id) cannot both pass the check below.
    await uow.projection.lock_account(data.psn_no, now=now)
    ref = f"contribution:{data.contribution_id}"
    if await uow.projection.journal_posted(CONTRIBUTION_JOURNAL, ref):
        return False
    await uow.projection.credit_account(data.psn_no, acct_fen, now=now)
    await uow.journal.post(
        kind=CONTRIBUTION_JOURNAL,
        ref=ref,
        business_date=business_date(data.paid_at),
        legs=contribution_legs(
            psn_no=data.psn_no, insutype=data.insutype, amount_fen=amount_fen, acct_amount_fen=acct_fen
        ),
        now=now,
    )
    return True


# --- runs of one kind of event, set-based: the same effect as applying each in turn ---------------------


async def apply_persons_registered(
    *, uow: SettlementUnitOfWork, registrations: Sequence[PersonRegistered], now: datetime
) -> None:
    """`apply_person_registered` of each in turn: a person registered twice keeps the last registration."""
    last = {data.psn_no: data for data in registrations}
    await uow.projection.upsert_persons(
        [
            {"psn_no": data.psn_no, "gend": data.gend, "brdy": data.brdy, "admdvs": data.admdvs}
            for _, data in sorted(last.items())
        ],
        now=now,
    )


async def apply_coverages_changed(
    *, uow: SettlementUnitOfWork, changes: Sequence[tuple[CoverageChanged, datetime]]
) -> None:
    """`apply_coverage_changed` of each in turn: of a coverage's events the newest stays (of two equally new,
    the later applied), as one after the other would leave it."""
    newest: dict[int, dict[str, Any]] = {}
    for data, event_time in changes:
        kept = newest.get(data.coverage_id)
        if kept is None or kept["source_time"] <= event_time:
            newest[data.coverage_id] = coverage_state(data, event_time)
    await uow.projection.upsert_coverages([state for _, state in sorted(newest.items())])


async def apply_contributions_paid(
    *, uow: SettlementUnitOfWork, contributions: Sequence[ContributionPaid], now: datetime
) -> int:
    """`apply_contribution_paid` of each in turn: the accounts locked in psn_no order, each contribution
    credited and journaled once (a second copy, in the batch or before it, changes nothing). Returns how many
    were applied; a contribution outside the contract raises ContractBreach before anything is written."""
    amounts = []
    for data in contributions:
        amount_fen, acct_fen = yuan_to_fen(data.amount), yuan_to_fen(data.acct_amount)
        if not 0 <= acct_fen <= amount_fen:
            raise ContractBreach(f"contribution {data.contribution_id}: account part outside 0..amount")
        amounts.append((amount_fen, acct_fen))
    await uow.projection.lock_accounts([data.psn_no for data in contributions], now=now)
    refs = [f"contribution:{data.contribution_id}" for data in contributions]
    seen = await uow.projection.journals_posted(CONTRIBUTION_JOURNAL, refs)
    credits: dict[str, int] = {}
    journals = []
    for data, ref, (amount_fen, acct_fen) in zip(contributions, refs, amounts, strict=True):
        if ref in seen:
            continue
        seen.add(ref)
        credits[data.psn_no] = credits.get(data.psn_no, 0) + acct_fen
        legs = contribution_legs(
            psn_no=data.psn_no, insutype=data.insutype, amount_fen=amount_fen, acct_amount_fen=acct_fen
        )
        journals.append((ref, business_date(data.paid_at), legs))
    await uow.projection.credit_accounts(credits, now=now)
    await uow.projection.post_journals(CONTRIBUTION_JOURNAL, journals, now=now)
    return len(journals)


async def apply_family_bound(
    *, uow: SettlementUnitOfWork, data: FamilyBound, event_time: datetime, now: datetime
) -> None:
    """Make the holder's family what the event says; a member bound by a newer event stays as it is."""
    members = [m for m in dict.fromkeys(data.member_psn_nos) if m != data.holder_psn_no]
    await uow.projection.bind_family(data.holder_psn_no, members, event_time=event_time)


async def account_balance(*, uow: SettlementUnitOfWork, psn_no: str) -> int | None:
    """The personal account's balance in fen; None if the person never had a credit."""
    return await uow.projection.account_balance(psn_no)
