"""Contributions (缴费): one period's payment, idempotent per period; back-payments rework the waiting period."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC
from decimal import Decimal

from common.clock import Clock, business_date
from common.errors import Conflict, ProblemError, Unprocessable
from common.events.contracts import Subject
from common.events.enrollment import ContributionPaid
from common.money import fen_half_up, fen_to_yuan, yuan_to_fen
from enrollment.domain.coverages import PeriodError, period_end
from enrollment.domain.waiting import ResidentPolicy, resident_waiting_period
from enrollment.models import Contribution, Person
from enrollment.schemas.base import Insutype
from enrollment.schemas.contributions import BulkContributionItem, ContributionIn
from enrollment.service.bulk import BulkItems, Created, Rejected
from enrollment.service.coverages import history, restate, restate_incentive
from enrollment.service.publishing import event_of
from enrollment.uow import EnrollmentUnitOfWork


@dataclass(frozen=True, slots=True)
class Recorded:
    """A contribution, and whether this call created it (False: the same one was recorded before)."""

    contribution: Contribution
    created: bool


async def record_contribution(
    *, uow: EnrollmentUnitOfWork, psn_no: str, data: ContributionIn, clock: Clock, policy: ResidentPolicy
) -> Recorded:
    """Record a contribution; the same period again with the same figures returns the original."""
    person = await uow.persons.must_get(psn_no, for_update=True)
    try:
        last_day = period_end(data.insutype, data.period)
    except PeriodError as exc:
        raise Unprocessable(str(exc), code="INVALID_PERIOD") from exc
    now = clock.now()
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
    paid_at = data.paid_at.astimezone(UTC)  # stored and answered in UTC, whatever offset it came with
    existing = await uow.contributions.of_period(psn_no, data.insutype.value, data.period)
    if existing is not None:
        if (existing.amount_fen, existing.acct_amount_fen, existing.paid_at) == (amount, acct, paid_at):
            return Recorded(existing, created=False)
        raise Conflict(
            "A different contribution for this period is recorded already.",
            code="CONTRIBUTION_EXISTS",
            contribution_id=existing.contribution_id,
        )
    coverages = [c for c in await uow.coverages.of_person(psn_no) if c.insutype == data.insutype.value]
    if not coverages:
        raise Conflict(
            f"The person has no {data.insutype.value} coverage to contribute to.", code="NO_COVERAGE"
        )
    back_payment = business_date(data.paid_at) > last_day
    contribution = Contribution(
        psn_no=psn_no,
        insutype=data.insutype.value,
        period=data.period,
        amount_fen=amount,
        acct_amount_fen=acct,
        paid_at=paid_at,
        back_payment=back_payment,
        created_at=now,
    )
    uow.contributions.add(contribution)
    await uow.flush()
    paid = ContributionPaid(
        contribution_id=contribution.contribution_id,
        psn_no=psn_no,
        insutype=contribution.insutype,
        period=contribution.period,
        amount=fen_to_yuan(amount),
        acct_amount=fen_to_yuan(acct),
        paid_at=paid_at,
        back_payment=back_payment,
    )
    await uow.publish(event_of(Subject.CONTRIBUTION_PAID, psn_no, paid, clock))
    # A restated waiting period restates the whole coverage, incentive included; otherwise check the incentive.
    if not await _rework_waiting(uow, person, clock=clock, policy=policy):
        await restate_incentive(uow, psn_no, clock=clock, policy=policy)
    return Recorded(contribution, created=True)


async def _rework_waiting(
    uow: EnrollmentUnitOfWork, person: Person, *, clock: Clock, policy: ResidentPolicy
) -> bool:
    """A back-payment may shorten the waiting period of the current resident coverage: recompute it.

    Returns whether the coverage was restated (and its coverage.changed written)."""
    current = await uow.coverages.current(person.psn_no)
    if current is None or current.insutype != Insutype.RESIDENT or current.waiting_months == 0:
        return False
    today = business_date(clock.now())
    years = await history(uow, person.psn_no, exclude=current.coverage_id, today=today)
    wait = resident_waiting_period(
        coverage_year=current.begndate.year,
        begndate=current.begndate,
        enrolled_on=current.enrolled_on,
        birth_date=person.brdy,
        covered_years=years.covered,
        back_paid_years=years.back_paid,
        policy=policy,
    )
    if (wait.benefit_start_date, wait.months) != (current.benefit_start_date, current.waiting_months):
        current.benefit_start_date, current.waiting_months = wait.benefit_start_date, wait.months
        current.updated_at = clock.now()
        await uow.flush()
        await restate(uow, current, clock=clock, policy=policy)
        return True
    return False


async def record_contributions_bulk(
    *, uow: EnrollmentUnitOfWork, items: Sequence[BulkContributionItem], clock: Clock, policy: ResidentPolicy
) -> BulkItems:
    """Record many contributions in one transaction, each under the rules of `record_contribution`.

    Idempotent per (person, insutype, period) as one call is: the same contribution again is reported as
    existing, a different one for a recorded period is refused with CONTRIBUTION_EXISTS.
    """
    outcome = BulkItems()
    for index, item in enumerate(items):
        try:
            async with uow.savepoint():
                recorded = await record_contribution(
                    uow=uow, psn_no=item.psn_no, data=item, clock=clock, policy=policy
                )
        except ProblemError as exc:
            outcome.rejected.append(Rejected(index, exc.code, exc.detail))
            continue
        found = Created(index, item.psn_no, recorded.contribution.contribution_id)
        (outcome.created if recorded.created else outcome.existing).append(found)
    return outcome


async def contributions_of(*, uow: EnrollmentUnitOfWork, psn_no: str) -> list[Contribution]:
    """A person's contributions by period; 404 PERSON_NOT_FOUND."""
    await uow.persons.must_get(psn_no)
    return await uow.contributions.of_person(psn_no)
