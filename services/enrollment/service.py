"""Use cases of enrollment: each loads what it needs, asks the domain, saves, and writes its events."""

from __future__ import annotations

import calendar
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from common.clock import Clock, business_date
from common.errors import Conflict, NotFound, ProblemError, Unprocessable
from common.events.contracts import Subject
from common.events.enrollment import (
    ContributionPaid,
    CoverageChanged,
    FamilyBound,
    PersonDeceased,
    PersonRegistered,
    Suspension,
)
from common.events.envelope import new_event
from common.events.outbox import add_event, add_events
from common.money import fen_half_up, fen_to_yuan, yuan_to_fen
from enrollment import repository as repo
from enrollment.domain.certno import CertnoError, parse_certno
from enrollment.domain.waiting import ClaimYear, Incentive, ResidentPolicy, incentive, resident_waiting_period
from enrollment.models import (
    ClaimSettlement,
    ClaimYearRecord,
    Contribution,
    Coverage,
    CoverageSuspension,
    Person,
)
from enrollment.schemas import (
    BulkContributionItem,
    BulkCoverageItem,
    ContributionIn,
    CoverageIn,
    CoverageStatus,
    Insutype,
    LookupInsutype,
    PersonIn,
)

SOURCE = "enrollment"
CoverageState = tuple[Coverage, CoverageChanged]
"""A coverage row and the whole view of it that its coverage.changed event carried."""
ATTACHED = {"310": ["330"], "390": ["392"]}
BASIC_OF = {"310": "310", "330": "310", "390": "390", "392": "390"}
_YEAR = re.compile(r"^(\d{4})$")
_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


async def _emit(session: AsyncSession, subject: str, entity: str, data: BaseModel, clock: Clock) -> None:
    await add_event(
        session,
        new_event(
            type=subject, source=SOURCE, subject=entity, data=data.model_dump(mode="json"), clock=clock
        ),
    )


def new_psn_no() -> str:
    """An opaque, stable person number: P + 19 hex digits."""
    return "P" + uuid.uuid4().hex[:19].upper()


# --- persons -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ValidPerson:
    certno: str
    psn_name: str
    gend: str
    brdy: date
    admdvs: str
    tel: str | None


def validate_person(data: PersonIn, *, today: date) -> ValidPerson:
    """Check the certno and that the gender and birth date given agree with it."""
    try:
        parsed = parse_certno(data.certno, today=today)
    except CertnoError as exc:
        raise Unprocessable(str(exc), code="INVALID_CERTNO") from exc
    if data.gend is not None and data.gend.value != parsed.gend:
        raise Unprocessable("gend does not agree with the certno", code="CERTNO_MISMATCH", field="gend")
    if data.brdy is not None and data.brdy != parsed.birth_date:
        raise Unprocessable("brdy does not agree with the certno", code="CERTNO_MISMATCH", field="brdy")
    return ValidPerson(parsed.value, data.psn_name, parsed.gend, parsed.birth_date, data.admdvs, data.tel)


def _person_row(valid: ValidPerson, now: datetime) -> dict[str, Any]:
    return {
        "psn_no": new_psn_no(),
        "certno": valid.certno,
        "psn_name": valid.psn_name,
        "gend": valid.gend,
        "brdy": valid.brdy,
        "admdvs": valid.admdvs,
        "tel": valid.tel,
        "death_date": None,
        "created_at": now,
        "updated_at": now,
    }


def _registered(row: dict[str, Any]) -> PersonRegistered:
    return PersonRegistered(
        psn_no=row["psn_no"], certno=row["certno"], gend=row["gend"], brdy=row["brdy"], admdvs=row["admdvs"]
    )


async def register_person(session: AsyncSession, data: PersonIn, *, clock: Clock) -> Person:
    """Register a person; a certno registered before is a conflict carrying the existing psn_no."""
    valid = validate_person(data, today=business_date(clock.now()))
    existing = await repo.person_by_certno(session, valid.certno)
    if existing is not None:
        raise Conflict("This certno is registered already.", code="PERSON_EXISTS", psn_no=existing.psn_no)
    row = _person_row(valid, clock.now())
    try:
        async with session.begin_nested():
            await session.execute(sa.insert(Person).values(**row))
    except IntegrityError as exc:  # registered concurrently a moment ago
        raced = await repo.person_by_certno(session, valid.certno)
        raise Conflict(
            "This certno is registered already.", code="PERSON_EXISTS", psn_no=raced.psn_no if raced else None
        ) from exc
    await _emit(session, Subject.PERSON_REGISTERED, row["psn_no"], _registered(row), clock)
    return await repo.get_person(session, row["psn_no"])


@dataclass
class BulkOutcome:
    registered: list[str]
    existing: list[tuple[int, str]]
    rejected: list[tuple[int, str, str]]


async def register_persons_bulk(
    session: AsyncSession, people: Sequence[PersonIn], *, clock: Clock
) -> BulkOutcome:
    """Register many persons in one transaction: valid new ones are created, the rest reported by index."""
    today, now = business_date(clock.now()), clock.now()
    outcome = BulkOutcome([], [], [])
    valid: list[tuple[int, ValidPerson]] = []
    seen: dict[str, int] = {}
    for index, data in enumerate(people):
        try:
            person = validate_person(data, today=today)
        except Unprocessable as exc:
            outcome.rejected.append((index, exc.code, exc.detail))
            continue
        if person.certno in seen:
            outcome.rejected.append(
                (index, "DUPLICATE_IN_REQUEST", f"same certno as item {seen[person.certno]}")
            )
            continue
        seen[person.certno] = index
        valid.append((index, person))
    known = await repo.psn_nos_by_certno(session, [person.certno for _, person in valid])
    rows, events = [], []
    for index, person in valid:
        if person.certno in known:
            outcome.existing.append((index, known[person.certno]))
            continue
        row = _person_row(person, now)
        rows.append(row)
        outcome.registered.append(row["psn_no"])
        events.append(row)
    for start in range(0, len(rows), 2000):
        await session.execute(sa.insert(Person), rows[start : start + 2000])
    await add_events(
        session,
        [
            new_event(
                type=Subject.PERSON_REGISTERED,
                source=SOURCE,
                subject=row["psn_no"],
                data=_registered(row).model_dump(mode="json"),
                clock=clock,
            )
            for row in events
        ],
    )
    return outcome


# --- coverages ------------------------------------------------------------------------------------------


async def _covered_and_back_paid(
    session: AsyncSession, person: Person, *, exclude: int | None, today: date
) -> tuple[set[int], int, set[int]]:
    """Years with basic coverage (other coverages, timely contributions) and years paid back late."""
    covered: set[int] = set()
    for coverage in await repo.coverages_of(session, person.psn_no):
        if coverage.coverage_id == exclude:
            continue
        last = min(coverage.enddate or today, today)
        covered.update(range(coverage.begndate.year, last.year + 1))
    back_paid: set[int] = set()
    for contribution in await repo.contributions_of(session, person.psn_no):
        year = int(contribution.period[:4])
        (back_paid if contribution.back_payment else covered).add(year)
    return covered, len(back_paid - covered), back_paid


async def _claims(session: AsyncSession, psn_no: str) -> list[ClaimYear]:
    rows = (await session.scalars(sa.select(ClaimYearRecord).where(ClaimYearRecord.psn_no == psn_no))).all()
    return [ClaimYear(row.year, row.fund_pay_fen, row.zero_claim_raise_used) for row in rows]


def reference_year(coverage: Coverage, today: date) -> int:
    """The year a coverage's incentive is stated for: this year while it runs, else its first year."""
    if coverage.enddate is None or coverage.enddate >= today:
        return max(coverage.begndate.year, today.year)
    return coverage.begndate.year


async def _incentive_of(
    session: AsyncSession, coverage: Coverage, *, year: int, today: date, policy: ResidentPolicy
) -> Incentive:
    person = await repo.get_person(session, coverage.psn_no)
    covered, _, _ = await _covered_and_back_paid(session, person, exclude=None, today=today)
    covered.add(coverage.begndate.year)
    return incentive(
        year=year, covered_years=covered, claims=await _claims(session, coverage.psn_no), policy=policy
    )


async def coverage_view(
    session: AsyncSession, coverage: Coverage, *, today: date, policy: ResidentPolicy
) -> CoverageChanged:
    """The whole coverage as the API shows it and the coverage.changed event carries it."""
    suspensions = await repo.suspensions_of(session, coverage.coverage_id)
    year = reference_year(coverage, today)
    reward = await _incentive_of(session, coverage, year=year, today=today, policy=policy)
    is_resident = coverage.insutype == Insutype.RESIDENT
    return CoverageChanged(
        coverage_id=coverage.coverage_id,
        psn_no=coverage.psn_no,
        insutype=coverage.insutype,
        attached_insutypes=ATTACHED[coverage.insutype],
        status=coverage.status,
        begndate=coverage.begndate,
        enddate=coverage.enddate,
        emp_code=coverage.emp_code,
        psn_type=coverage.psn_type,
        assistance=coverage.assistance,
        benefit_start_date=coverage.benefit_start_date,
        waiting_months=coverage.waiting_months,
        continuous_years=reward.continuous_years,
        incentive_raise=fen_to_yuan(reward.total_fen if is_resident else 0),
        suspensions=[Suspension(from_date=s.from_date, to_date=s.to_date) for s in suspensions],
    )


async def _coverage_changed(
    session: AsyncSession, coverage: Coverage, *, clock: Clock, policy: ResidentPolicy
) -> CoverageChanged:
    today = business_date(clock.now())
    view = await coverage_view(session, coverage, today=today, policy=policy)
    # Kept on the row so the eligibility look-up answers in one query for the current year.
    coverage.incentive_year = reference_year(coverage, today)
    coverage.incentive_raise_fen = yuan_to_fen(view.incentive_raise)
    coverage.continuous_years = view.continuous_years
    await session.flush()
    await _emit(session, Subject.COVERAGE_CHANGED, coverage.psn_no, view, clock)
    return view


async def add_coverage(
    session: AsyncSession, psn_no: str, data: CoverageIn, *, clock: Clock, policy: ResidentPolicy
) -> CoverageState:
    """Enroll a person; residents get the waiting period the 2025 rules give them."""
    today, now = business_date(clock.now()), clock.now()
    person = await repo.get_person(session, psn_no, for_update=True)
    if person.death_date is not None:
        raise Conflict("The person is deceased.", code="PERSON_DECEASED")
    enrolled_on = data.enrolled_on or today
    if enrolled_on > today:
        raise Unprocessable("enrolled_on cannot be in the future", code="INVALID_DATE", field="enrolled_on")
    if data.begndate < person.brdy:
        raise Unprocessable("begndate is before the person's birth", code="INVALID_DATE", field="begndate")
    if data.insutype == Insutype.EMPLOYEE:
        if not data.emp_code:
            raise Unprocessable(
                "An employee coverage needs emp_code.", code="EMP_CODE_REQUIRED", field="emp_code"
            )
        psn_type = data.psn_type.value if data.psn_type else "employed"
    else:
        if data.emp_code or data.psn_type:
            raise Unprocessable(
                "emp_code and psn_type belong to employee (310) coverage only.", code="NOT_FOR_RESIDENTS"
            )
        psn_type = None
    current = await repo.current_coverage(session, psn_no)
    if current is not None:
        raise Conflict(
            f"The person already has a current {current.insutype} coverage (重复参保).",
            code="DUPLICATE_COVERAGE",
            coverage_id=current.coverage_id,
        )
    benefit_start, waiting_months, breaks = data.begndate, 0, 0
    if data.insutype == Insutype.RESIDENT:
        covered, back_paid, _ = await _covered_and_back_paid(session, person, exclude=None, today=today)
        wait = resident_waiting_period(
            coverage_year=data.begndate.year,
            begndate=data.begndate,
            enrolled_on=enrolled_on,
            birth_date=person.brdy,
            covered_years=covered,
            back_paid_years=back_paid,
            policy=policy,
        )
        benefit_start, waiting_months, breaks = wait.benefit_start_date, wait.months, wait.break_years
    coverage = Coverage(
        psn_no=psn_no,
        insutype=data.insutype.value,
        status=CoverageStatus.ACTIVE.value,
        begndate=data.begndate,
        enddate=None,
        emp_code=data.emp_code,
        psn_type=psn_type,
        assistance=data.assistance.value if data.assistance else None,
        enrolled_on=enrolled_on,
        benefit_start_date=benefit_start,
        waiting_months=waiting_months,
        break_years=breaks,
        created_at=now,
        updated_at=now,
    )
    try:
        async with session.begin_nested():
            session.add(coverage)
            await session.flush()
    except IntegrityError as exc:
        raise Conflict(
            "The person already has a current coverage (重复参保).", code="DUPLICATE_COVERAGE"
        ) from exc
    return coverage, await _coverage_changed(session, coverage, clock=clock, policy=policy)


@dataclass(frozen=True)
class BulkItems:
    """What a bulk load did with each item: (index, psn_no, id) created or found, (index, code, detail) refused."""

    created: list[tuple[int, str, int]]
    existing: list[tuple[int, str, int]]
    rejected: list[tuple[int, str, str]]


async def add_coverages_bulk(
    session: AsyncSession, items: Sequence[BulkCoverageItem], *, clock: Clock, policy: ResidentPolicy
) -> BulkItems:
    """Enroll many persons in one transaction, each item under exactly the rules of `add_coverage`.

    Each item runs in its own savepoint: a refused one (its code as one call would give it) leaves no trace
    and the others go on.
    """
    outcome = BulkItems([], [], [])
    for index, item in enumerate(items):
        try:
            async with session.begin_nested():
                coverage, _ = await add_coverage(session, item.psn_no, item, clock=clock, policy=policy)
        except ProblemError as exc:
            outcome.rejected.append((index, exc.code, exc.detail))
            continue
        outcome.created.append((index, item.psn_no, coverage.coverage_id))
    return outcome


async def record_contributions_bulk(
    session: AsyncSession, items: Sequence[BulkContributionItem], *, clock: Clock, policy: ResidentPolicy
) -> BulkItems:
    """Record many contributions in one transaction, each under the rules of `record_contribution`.

    Idempotent per (person, insutype, period) as one call is: the same contribution again is reported as
    existing, a different one for a recorded period is refused with CONTRIBUTION_EXISTS.
    """
    outcome = BulkItems([], [], [])
    for index, item in enumerate(items):
        try:
            async with session.begin_nested():
                contribution, created = await record_contribution(
                    session, item.psn_no, item, clock=clock, policy=policy
                )
        except ProblemError as exc:
            outcome.rejected.append((index, exc.code, exc.detail))
            continue
        found = (index, item.psn_no, contribution.contribution_id)
        (outcome.created if created else outcome.existing).append(found)
    return outcome


async def change_status(
    session: AsyncSession,
    coverage_id: int,
    action: str,
    *,
    on: date | None,
    reason: str | None,
    clock: Clock,
    policy: ResidentPolicy,
) -> CoverageState:
    """Suspend (暂停), resume or end (终止) a coverage."""
    today = business_date(clock.now())
    coverage = await repo.get_coverage(session, coverage_id, for_update=True)
    effective = on or today
    if effective < coverage.begndate:
        raise Unprocessable("The date is before the coverage began.", code="INVALID_DATE")
    expected = {"suspend": CoverageStatus.ACTIVE, "resume": CoverageStatus.SUSPENDED}[action]
    if coverage.status != expected.value:
        raise Conflict(
            f"Cannot {action} a coverage that is {coverage.status}.",
            code="INVALID_COVERAGE_STATE",
            coverage_status=coverage.status,
        )
    if action == "suspend":
        session.add(
            CoverageSuspension(coverage_id=coverage_id, from_date=effective, to_date=None, reason=reason)
        )
        coverage.status = CoverageStatus.SUSPENDED.value
    else:
        open_suspension = await repo.open_suspension(session, coverage_id)
        if open_suspension is not None:
            if effective < open_suspension.from_date:
                raise Unprocessable("A coverage cannot resume before it was suspended.", code="INVALID_DATE")
            open_suspension.to_date = effective
        coverage.status = CoverageStatus.ACTIVE.value
    coverage.updated_at = clock.now()
    await session.flush()
    return coverage, await _coverage_changed(session, coverage, clock=clock, policy=policy)


async def end_coverage(
    session: AsyncSession,
    coverage_id: int,
    *,
    enddate: date,
    reason: str | None,
    clock: Clock,
    policy: ResidentPolicy,
) -> CoverageState:
    coverage = await repo.get_coverage(session, coverage_id, for_update=True)
    if coverage.status == CoverageStatus.ENDED.value:
        raise Conflict(
            "The coverage has ended already.", code="INVALID_COVERAGE_STATE", coverage_status=coverage.status
        )
    if enddate < coverage.begndate:
        raise Unprocessable("enddate is before begndate.", code="INVALID_DATE", field="enddate")
    await _end(session, coverage, enddate=enddate, reason=reason or "ended", clock=clock)
    return coverage, await _coverage_changed(session, coverage, clock=clock, policy=policy)


async def _end(
    session: AsyncSession, coverage: Coverage, *, enddate: date, reason: str, clock: Clock
) -> None:
    open_suspension = await repo.open_suspension(session, coverage.coverage_id)
    if open_suspension is not None:
        open_suspension.to_date = max(open_suspension.from_date, enddate)
    coverage.status, coverage.enddate, coverage.end_reason = CoverageStatus.ENDED.value, enddate, reason[:20]
    coverage.updated_at = clock.now()
    await session.flush()


async def set_assistance(
    session: AsyncSession, coverage_id: int, assistance: str | None, *, clock: Clock, policy: ResidentPolicy
) -> CoverageState:
    coverage = await repo.get_coverage(session, coverage_id, for_update=True)
    if coverage.status == CoverageStatus.ENDED.value:
        raise Conflict(
            "The coverage has ended.", code="INVALID_COVERAGE_STATE", coverage_status=coverage.status
        )
    coverage.assistance = assistance
    coverage.updated_at = clock.now()
    await session.flush()
    return coverage, await _coverage_changed(session, coverage, clock=clock, policy=policy)


# --- contributions --------------------------------------------------------------------------------------


def _period_end(insutype: str, period: str) -> date:
    if insutype == Insutype.RESIDENT:
        match = _YEAR.match(period)
        if not match:
            raise Unprocessable("A resident (390) contribution is for a year: YYYY.", code="INVALID_PERIOD")
        return date(int(period), 12, 31)
    match = _MONTH.match(period)
    if not match:
        raise Unprocessable("An employee (310) contribution is for a month: YYYY-MM.", code="INVALID_PERIOD")
    year, month = int(match[1]), int(match[2])
    return date(year, month, calendar.monthrange(year, month)[1])


async def record_contribution(
    session: AsyncSession, psn_no: str, data: ContributionIn, *, clock: Clock, policy: ResidentPolicy
) -> tuple[Contribution, bool]:
    """Record a contribution; the same period again with the same figures returns the original."""
    person = await repo.get_person(session, psn_no, for_update=True)
    period_end = _period_end(data.insutype, data.period)
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
    existing = await repo.contribution(session, psn_no, data.insutype.value, data.period)
    if existing is not None:
        same = (existing.amount_fen, existing.acct_amount_fen, existing.paid_at) == (
            amount,
            acct,
            paid_at,
        )
        if same:
            return existing, False
        raise Conflict(
            "A different contribution for this period is recorded already.",
            code="CONTRIBUTION_EXISTS",
            contribution_id=existing.contribution_id,
        )
    coverages = [c for c in await repo.coverages_of(session, psn_no) if c.insutype == data.insutype.value]
    if not coverages:
        raise Conflict(
            f"The person has no {data.insutype.value} coverage to contribute to.", code="NO_COVERAGE"
        )
    back_payment = business_date(data.paid_at) > period_end
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
    session.add(contribution)
    await session.flush()
    await _emit(
        session,
        Subject.CONTRIBUTION_PAID,
        psn_no,
        ContributionPaid(
            contribution_id=contribution.contribution_id,
            psn_no=psn_no,
            insutype=contribution.insutype,
            period=contribution.period,
            amount=fen_to_yuan(amount),
            acct_amount=fen_to_yuan(acct),
            paid_at=paid_at,
            back_payment=back_payment,
        ),
        clock,
    )
    # A restated waiting period restates the whole coverage, incentive included; otherwise check the incentive.
    if not await _rework_waiting(session, person, clock=clock, policy=policy):
        await _refresh_incentive(session, psn_no, clock=clock, policy=policy)
    return contribution, True


async def _rework_waiting(
    session: AsyncSession, person: Person, *, clock: Clock, policy: ResidentPolicy
) -> bool:
    """A back-payment may shorten the waiting period of the current resident coverage: recompute it.

    Returns whether the coverage was restated (and its coverage.changed written)."""
    current = await repo.current_coverage(session, person.psn_no)
    if current is None or current.insutype != Insutype.RESIDENT or current.waiting_months == 0:
        return False
    today = business_date(clock.now())
    covered, back_paid, _ = await _covered_and_back_paid(
        session, person, exclude=current.coverage_id, today=today
    )
    wait = resident_waiting_period(
        coverage_year=current.begndate.year,
        begndate=current.begndate,
        enrolled_on=current.enrolled_on,
        birth_date=person.brdy,
        covered_years=covered,
        back_paid_years=back_paid,
        policy=policy,
    )
    if (wait.benefit_start_date, wait.months) != (current.benefit_start_date, current.waiting_months):
        current.benefit_start_date, current.waiting_months = wait.benefit_start_date, wait.months
        current.updated_at = clock.now()
        await session.flush()
        await _coverage_changed(session, current, clock=clock, policy=policy)
        return True
    return False


# --- death and family -----------------------------------------------------------------------------------


async def record_death(
    session: AsyncSession, psn_no: str, death_date: date, *, clock: Clock, policy: ResidentPolicy
) -> Person:
    """Record a death: current coverages end that day; later care is not covered."""
    person = await repo.get_person(session, psn_no, for_update=True)
    if death_date > business_date(clock.now()) or death_date < person.brdy:
        raise Unprocessable("death_date must lie between the birth date and today.", code="INVALID_DATE")
    if person.death_date is not None:
        if person.death_date == death_date:
            return person
        raise Conflict(
            "A different date of death is recorded already.",
            code="DEATH_ALREADY_RECORDED",
            death_date=person.death_date.isoformat(),
        )
    person.death_date, person.updated_at = death_date, clock.now()
    await session.flush()
    await _emit(
        session, Subject.PERSON_DECEASED, psn_no, PersonDeceased(psn_no=psn_no, death_date=death_date), clock
    )
    for coverage in await repo.coverages_of(session, psn_no):
        if coverage.status != CoverageStatus.ENDED.value:
            await _end(
                session, coverage, enddate=max(death_date, coverage.begndate), reason="death", clock=clock
            )
            await _coverage_changed(session, coverage, clock=clock, policy=policy)
        elif coverage.enddate is not None and coverage.enddate > death_date:
            coverage.enddate = max(death_date, coverage.begndate)
            await session.flush()
            await _coverage_changed(session, coverage, clock=clock, policy=policy)
    return person


async def bind_family(
    session: AsyncSession, holder_psn_no: str, member_psn_nos: Sequence[str], *, clock: Clock
) -> list[str]:
    """Bind relatives to an employee's personal account; returns the holder's whole family."""
    if holder_psn_no in member_psn_nos:
        raise Unprocessable("The holder cannot be their own family member.", code="INVALID_FAMILY")
    if len(set(member_psn_nos)) != len(member_psn_nos):
        raise Unprocessable("A member is listed twice.", code="INVALID_FAMILY")
    holder = await repo.find_person(session, holder_psn_no)
    if holder is None:
        raise NotFound("No such holder.", code="PERSON_NOT_FOUND", psn_no=holder_psn_no)
    current = await repo.current_coverage(session, holder_psn_no)
    if (
        holder.death_date is not None
        or current is None
        or current.insutype != Insutype.EMPLOYEE
        or (current.status != CoverageStatus.ACTIVE.value)
    ):
        raise Unprocessable(
            "Only an employee with an active 310 coverage can share a personal account.",
            code="HOLDER_NOT_ELIGIBLE",
        )
    found = await repo.persons_by_psn_no(session, member_psn_nos)
    missing = [psn_no for psn_no in member_psn_nos if psn_no not in found]
    if missing:
        raise Unprocessable("Members must be registered persons.", code="MEMBER_NOT_FOUND", psn_nos=missing)
    deceased = [psn_no for psn_no, person in found.items() if person.death_date is not None]
    if deceased:
        raise Unprocessable("A deceased person cannot be bound.", code="MEMBER_DECEASED", psn_nos=deceased)
    if await repo.family_holder(session, holder_psn_no) is not None:
        raise Conflict("The holder is a member of another family.", code="MEMBER_ALREADY_BOUND")
    bound = await repo.holders_of(session, member_psn_nos)
    elsewhere = sorted(m for m, h in bound.items() if h != holder_psn_no)
    if elsewhere:
        raise Conflict(
            "A member is bound to another holder already.", code="MEMBER_ALREADY_BOUND", psn_nos=elsewhere
        )
    fresh = [m for m in member_psn_nos if m not in bound]
    if await repo.is_holder(session, fresh):
        raise Conflict("A member shares their own account with others.", code="MEMBER_ALREADY_BOUND")
    for member in fresh:
        session.add(repo.new_binding(member, holder_psn_no, clock.now()))
    await session.flush()
    family = await repo.family_of(session, holder_psn_no)
    if fresh:
        await _emit(
            session,
            Subject.FAMILY_BOUND,
            holder_psn_no,
            FamilyBound(holder_psn_no=holder_psn_no, member_psn_nos=family),
            clock,
        )
    return family


# --- eligibility ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Eligibility:
    eligible: bool
    psn_no: str
    on: date
    insutype: str | None
    coverage_id: int | None = None
    psn_type: str | None = None
    assistance: str | None = None
    benefit_start_date: date | None = None
    waiting_days: int = 0
    incentive_raise_fen: int | None = None
    reason: str | None = None


async def eligibility(
    session: AsyncSession,
    *,
    psn_no: str | None,
    certno: str | None,
    insutype: LookupInsutype | None,
    on: date,
    policy: ResidentPolicy,
) -> Eligibility:
    """Whether the fund pays for care begun on `on`, and if not why not (one query in the usual case)."""
    asked = insutype.value if insutype else None
    facts = await repo.eligibility_facts(
        session,
        psn_no=psn_no,
        certno=(certno or "").strip().upper() or None,
        on=on,
        insutype=BASIC_OF[asked] if asked else None,
    )
    if facts is None:
        raise NotFound("No such person.", code="PERSON_NOT_FOUND")
    found_psn_no, death_date, coverage, suspended = facts
    if death_date is not None and on > death_date:
        return Eligibility(False, found_psn_no, on, asked, reason="DECEASED")
    if coverage is None:
        return Eligibility(False, found_psn_no, on, asked, reason="NO_COVERAGE")

    def answer(
        eligible: bool, *, reason: str | None = None, waiting_days: int = 0, raise_fen: int | None = None
    ) -> Eligibility:
        return Eligibility(
            eligible,
            found_psn_no,
            on,
            asked or coverage.insutype,
            coverage.coverage_id,
            coverage.psn_type,
            coverage.assistance,
            coverage.benefit_start_date,
            waiting_days,
            raise_fen,
            reason,
        )

    if suspended:
        return answer(False, reason="SUSPENDED")
    if on < coverage.benefit_start_date:
        return answer(False, reason="WAITING_PERIOD", waiting_days=(coverage.benefit_start_date - on).days)
    if coverage.insutype != Insutype.RESIDENT:
        return answer(True)
    if coverage.incentive_year == on.year:
        return answer(True, raise_fen=coverage.incentive_raise_fen)
    reward = await _incentive_of(session, coverage, year=on.year, today=on, policy=policy)
    return answer(True, raise_fen=reward.total_fen)


# --- what settlement tells us (zero-claim incentive) ----------------------------------------------------


async def apply_settlement(
    session: AsyncSession,
    *,
    setl_id: str,
    psn_no: str,
    year: int,
    fund_pay_fen: int,
    raise_used: bool,
    clock: Clock,
    policy: ResidentPolicy,
) -> None:
    """Count a settlement's fund pay into the person's year (the zero-claim incentive needs it)."""
    if await session.get(ClaimSettlement, setl_id) is not None:
        return
    session.add(
        ClaimSettlement(setl_id=setl_id, psn_no=psn_no, year=year, fund_pay_fen=fund_pay_fen, reversed=False)
    )
    record = await session.get(ClaimYearRecord, (psn_no, year), with_for_update=True)
    if record is None:
        record = ClaimYearRecord(psn_no=psn_no, year=year, fund_pay_fen=0, zero_claim_raise_used=False)
        session.add(record)
    record.fund_pay_fen += fund_pay_fen
    record.zero_claim_raise_used = record.zero_claim_raise_used or raise_used
    await session.flush()
    await _refresh_incentive(session, psn_no, clock=clock, policy=policy)


async def apply_reversal(
    session: AsyncSession, *, setl_id: str, clock: Clock, policy: ResidentPolicy
) -> None:
    """Take a reversed settlement's fund pay back out of its year."""
    original = await session.get(ClaimSettlement, setl_id, with_for_update=True)
    if original is None or original.reversed:
        return
    original.reversed = True
    record = await session.get(ClaimYearRecord, (original.psn_no, original.year), with_for_update=True)
    if record is not None:
        record.fund_pay_fen -= original.fund_pay_fen
    await session.flush()
    await _refresh_incentive(session, original.psn_no, clock=clock, policy=policy)


async def _refresh_incentive(
    session: AsyncSession, psn_no: str, *, clock: Clock, policy: ResidentPolicy
) -> None:
    """Claims move the incentive: restate the current resident coverage when its raise changed."""
    current = await repo.current_coverage(session, psn_no)
    if current is None or current.insutype != Insutype.RESIDENT:
        return
    today = business_date(clock.now())
    year = reference_year(current, today)
    reward = await _incentive_of(session, current, year=year, today=today, policy=policy)
    if (current.incentive_year, current.incentive_raise_fen, current.continuous_years) != (
        year,
        reward.total_fen,
        reward.continuous_years,
    ):
        await _coverage_changed(session, current, clock=clock, policy=policy)
