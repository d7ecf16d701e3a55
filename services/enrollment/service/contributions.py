"""Contributions (缴费): one period's payment, idempotent per period; back-payments rework the waiting period."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

from common.clock import Clock, business_date
from common.errors import Conflict, ProblemError, Unprocessable
from common.events.contracts import Subject
from common.events.enrollment import ContributionPaid
from common.money import fen_half_up, fen_to_yuan, yuan_to_fen
from enrollment.domain.coverages import CoveredYears, PeriodError, period_end
from enrollment.domain.waiting import ResidentPolicy, resident_waiting_period
from enrollment.models import Contribution, Coverage, Person
from enrollment.schemas.base import Insutype
from enrollment.schemas.contributions import BulkContributionItem, ContributionIn
from enrollment.service.bulk import Book, BulkItems, Created, PendingEvent, Rejected
from enrollment.service.coverages import history, restate, restate_in, restate_incentive, restate_incentive_in
from enrollment.service.publishing import event_of
from enrollment.uow import EnrollmentUnitOfWork


@dataclass(frozen=True, slots=True)
class Recorded:
    """A contribution, and whether this call created it (False: the same one was recorded before)."""

    contribution: Contribution
    created: bool


@dataclass(frozen=True, slots=True)
class Figures:
    """A contribution's figures once checked: its period's last day, amounts in fen, paid_at in UTC."""

    last_day: date
    amount_fen: int
    acct_fen: int
    paid_at: datetime


def check_figures(data: ContributionIn, *, now: datetime) -> Figures:
    """The rules of a contribution that need no database: period, date, amount and personal-account share."""
    try:
        last_day = period_end(data.insutype, data.period)
    except PeriodError as exc:
        raise Unprocessable(str(exc), code="INVALID_PERIOD") from exc
    if data.paid_at > now:
        raise Unprocessable("paid_at is in the future.", code="INVALID_DATE", field="paid_at")
    amount = yuan_to_fen(data.amount)
    if amount <= 0:
        raise Unprocessable("amount must be positive.", code="INVALID_AMOUNT", field="amount")
    if data.insutype == Insutype.RESIDENT:
        if data.acct_amount not in (None, Decimal(0)):
            raise Unprocessable(
                "Resident contributions credit no personal account.",
                code="INVALID_AMOUNT",
                field="acct_amount",
            )
        acct = 0
    elif data.acct_amount is None:
        acct = fen_half_up(Decimal(amount) * 2 / 10)
    else:
        acct = yuan_to_fen(data.acct_amount)
    if not 0 <= acct <= amount:
        raise Unprocessable(
            "acct_amount must be between 0 and amount.", code="INVALID_AMOUNT", field="acct_amount"
        )
    # Stored and answered in UTC, whatever offset it came with.
    return Figures(last_day, amount, acct, data.paid_at.astimezone(UTC))


def is_same(existing: Contribution | None, figures: Figures) -> bool:
    """Whether the period's recorded contribution is this one (a retry); a different one is a conflict."""
    if existing is None:
        return False
    if (existing.amount_fen, existing.acct_amount_fen, existing.paid_at) == (
        figures.amount_fen,
        figures.acct_fen,
        figures.paid_at,
    ):
        return True
    raise Conflict(
        "A different contribution for this period is recorded already.",
        code="CONTRIBUTION_EXISTS",
        contribution_id=existing.contribution_id,
    )


def check_covered(coverages: Sequence[Coverage], insutype: Insutype) -> None:
    """A contribution needs a coverage of its insutype (any status)."""
    if not coverages:
        raise Conflict(f"The person has no {insutype.value} coverage to contribute to.", code="NO_COVERAGE")


def new_contribution(psn_no: str, data: ContributionIn, figures: Figures, *, now: datetime) -> Contribution:
    """The row of a contribution; paid after its period's last day it is a back-payment (补缴)."""
    return Contribution(
        psn_no=psn_no,
        insutype=data.insutype.value,
        period=data.period,
        amount_fen=figures.amount_fen,
        acct_amount_fen=figures.acct_fen,
        paid_at=figures.paid_at,
        back_payment=business_date(data.paid_at) > figures.last_day,
        created_at=now,
    )


def paid_of(contribution: Contribution) -> ContributionPaid:
    """The contribution.paid event's data (a contribution not yet written: id 0)."""
    return ContributionPaid(
        contribution_id=contribution.contribution_id or 0,
        psn_no=contribution.psn_no,
        insutype=contribution.insutype,
        period=contribution.period,
        amount=fen_to_yuan(contribution.amount_fen),
        acct_amount=fen_to_yuan(contribution.acct_amount_fen),
        paid_at=contribution.paid_at,
        back_payment=contribution.back_payment,
    )


async def record_contribution(
    *, uow: EnrollmentUnitOfWork, psn_no: str, data: ContributionIn, clock: Clock, policy: ResidentPolicy
) -> Recorded:
    """Record a contribution; the same period again with the same figures returns the original."""
    person = await uow.persons.must_get(psn_no, for_update=True)
    now = clock.now()
    figures = check_figures(data, now=now)
    existing = await uow.contributions.of_period(psn_no, data.insutype.value, data.period)
    if existing is not None and is_same(existing, figures):
        return Recorded(existing, created=False)
    check_covered(
        [c for c in await uow.coverages.of_person(psn_no) if c.insutype == data.insutype.value], data.insutype
    )
    contribution = new_contribution(psn_no, data, figures, now=now)
    uow.contributions.add(contribution)
    await uow.flush()
    await uow.publish(event_of(Subject.CONTRIBUTION_PAID, psn_no, paid_of(contribution), clock))
    # A restated waiting period restates the whole coverage, incentive included; otherwise check the incentive.
    if not await _rework_waiting(uow, person, clock=clock, policy=policy):
        await restate_incentive(uow, psn_no, clock=clock, policy=policy)
    return Recorded(contribution, created=True)


def reworked_waiting(
    current: Coverage, person: Person, years: CoveredYears, *, policy: ResidentPolicy, now: datetime
) -> bool:
    """Recompute the waiting period of a current resident coverage from the person's history (without it);
    returns whether it changed (and so was set on the row)."""
    wait = resident_waiting_period(
        coverage_year=current.begndate.year,
        begndate=current.begndate,
        enrolled_on=current.enrolled_on,
        birth_date=person.brdy,
        covered_years=years.covered,
        back_paid_years=years.back_paid,
        policy=policy,
    )
    if (wait.benefit_start_date, wait.months) == (current.benefit_start_date, current.waiting_months):
        return False
    current.benefit_start_date, current.waiting_months = wait.benefit_start_date, wait.months
    current.updated_at = now
    return True


def _waits(current: Coverage | None) -> bool:
    return current is not None and current.insutype == Insutype.RESIDENT and current.waiting_months != 0


async def _rework_waiting(
    uow: EnrollmentUnitOfWork, person: Person, *, clock: Clock, policy: ResidentPolicy
) -> bool:
    """A back-payment may shorten the waiting period of the current resident coverage: recompute it.

    Returns whether the coverage was restated (and its coverage.changed written)."""
    current = await uow.coverages.current(person.psn_no)
    if current is None or not _waits(current):
        return False
    today = business_date(clock.now())
    years = await history(uow, person.psn_no, exclude=current.coverage_id, today=today)
    if reworked_waiting(current, person, years, policy=policy, now=clock.now()):
        await uow.flush()
        await restate(uow, current, clock=clock, policy=policy)
        return True
    return False


async def record_contributions_bulk(
    *, uow: EnrollmentUnitOfWork, items: Sequence[BulkContributionItem], clock: Clock, policy: ResidentPolicy
) -> BulkItems:
    """Record many contributions in one transaction, each under the rules of `record_contribution`.

    Idempotent per (person, insutype, period) as one call is: the same contribution again is reported as
    existing, a different one for a recorded period is refused with CONTRIBUTION_EXISTS. Set-based like
    `add_coverages_bulk`: one read per table, every item applied in order to the book in memory (waiting
    periods and incentives restated as one call would), one write per table and one for the events.
    """
    now = clock.now()
    today = business_date(now)
    book = await Book.load(uow, sorted({item.psn_no for item in items}))
    outcome = BulkItems()
    found: list[tuple[int, Contribution, bool]] = []  # (index, row, created by this load)
    for index, item in enumerate(items):
        try:
            person = book.person(item.psn_no)
            figures = check_figures(item, now=now)
            existing = book.contribution(item.psn_no, item.insutype.value, item.period)
            if existing is not None and is_same(existing, figures):
                found.append((index, existing, False))
                continue
            check_covered(book.of_insutype(item.psn_no, item.insutype.value), item.insutype)
        except ProblemError as exc:
            outcome.rejected.append(Rejected(index, exc.code, exc.detail))
            continue
        contribution = new_contribution(item.psn_no, item, figures, now=now)
        book.add_contribution(contribution)
        book.pending.append(
            PendingEvent(
                Subject.CONTRIBUTION_PAID, item.psn_no, paid_of(contribution), "contribution_id", contribution
            )
        )
        current = book.current(item.psn_no)
        if (
            current is not None
            and _waits(current)
            and reworked_waiting(
                current,
                person,
                book.history(item.psn_no, exclude=current, today=today),
                policy=policy,
                now=now,
            )
        ):
            restate_in(book, current, today=today, policy=policy)
        else:
            restate_incentive_in(book, item.psn_no, today=today, policy=policy)
        found.append((index, contribution, True))
    await book.write(uow, clock)
    for index, row, created in found:
        (outcome.created if created else outcome.existing).append(
            Created(index, row.psn_no, row.contribution_id)
        )
    return outcome


async def contributions_of(*, uow: EnrollmentUnitOfWork, psn_no: str) -> list[Contribution]:
    """A person's contributions by period; 404 PERSON_NOT_FOUND."""
    await uow.persons.must_get(psn_no)
    return await uow.contributions.of_person(psn_no)
