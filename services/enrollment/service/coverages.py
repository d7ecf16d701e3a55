"""Coverages (参保关系): enrolment with its waiting period, suspension, resumption, end, assistance, the view."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from common.clock import Clock, business_date
from common.errors import Conflict, ProblemError, Unprocessable
from common.events.contracts import Subject
from common.events.enrollment import CoverageChanged, Suspension
from common.money import fen_to_yuan, yuan_to_fen
from enrollment.domain.coverages import ATTACHED, CoveredYears, covered_years, reference_year
from enrollment.domain.waiting import ClaimYear, Incentive, ResidentPolicy, incentive, resident_waiting_period
from enrollment.models import Coverage, CoverageSuspension, Person
from enrollment.schemas.base import CoverageStatus, Insutype
from enrollment.schemas.coverages import BulkCoverageItem, CoverageIn
from enrollment.service.bulk import Book, BulkItems, Created, PendingEvent, Rejected
from enrollment.service.publishing import event_of
from enrollment.uow import EnrollmentUnitOfWork


@dataclass(frozen=True, slots=True)
class CoverageState:
    """A coverage row and the whole view of it (the one its coverage.changed event carried)."""

    coverage: Coverage
    view: CoverageChanged


# --- what a person's history says ------------------------------------------------------------------------


async def history(
    uow: EnrollmentUnitOfWork, psn_no: str, *, exclude: int | None, today: date
) -> CoveredYears:
    """Years with basic coverage (other coverages, timely contributions) and years paid back late."""
    coverages = [
        (c.begndate, c.enddate) for c in await uow.coverages.of_person(psn_no) if c.coverage_id != exclude
    ]
    contributions = [(c.period, c.back_payment) for c in await uow.contributions.of_person(psn_no)]
    return covered_years(coverages, contributions, today=today)


async def incentive_of(
    uow: EnrollmentUnitOfWork, coverage: Coverage, *, year: int, today: date, policy: ResidentPolicy
) -> Incentive:
    """The continuous-enrollment incentive of a coverage's person in `year`."""
    covered = (await history(uow, coverage.psn_no, exclude=None, today=today)).covered
    claims = [
        ClaimYear(row.year, row.fund_pay_fen, row.zero_claim_raise_used)
        for row in await uow.claim_years.of_person(coverage.psn_no)
    ]
    return incentive(
        year=year, covered_years=covered | {coverage.begndate.year}, claims=claims, policy=policy
    )


def _reference_year(coverage: Coverage, today: date) -> int:
    return reference_year(begndate=coverage.begndate, enddate=coverage.enddate, today=today)


def view_of(
    coverage: Coverage, suspensions: Sequence[CoverageSuspension], reward: Incentive
) -> CoverageChanged:
    """The whole coverage from its row, its suspensions and its incentive (a coverage not yet written: id 0)."""
    is_resident = coverage.insutype == Insutype.RESIDENT
    return CoverageChanged(
        coverage_id=coverage.coverage_id or 0,
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


async def coverage_view(
    uow: EnrollmentUnitOfWork, coverage: Coverage, *, today: date, policy: ResidentPolicy
) -> CoverageChanged:
    """The whole coverage as the API shows it and the coverage.changed event carries it."""
    suspensions = await uow.suspensions.of_coverage(coverage.coverage_id)
    year = _reference_year(coverage, today)
    reward = await incentive_of(uow, coverage, year=year, today=today, policy=policy)
    return view_of(coverage, suspensions, reward)


def keep_incentive(coverage: Coverage, view: CoverageChanged, *, today: date) -> None:
    """Keep the incentive of the view on the row, so eligibility answers in one query for the current year."""
    coverage.incentive_year = _reference_year(coverage, today)
    coverage.incentive_raise_fen = yuan_to_fen(view.incentive_raise)
    coverage.continuous_years = view.continuous_years


async def restate(
    uow: EnrollmentUnitOfWork, coverage: Coverage, *, clock: Clock, policy: ResidentPolicy
) -> CoverageChanged:
    """Keep the incentive on the row and publish the coverage's whole view (coverage.changed)."""
    today = business_date(clock.now())
    view = await coverage_view(uow, coverage, today=today, policy=policy)
    keep_incentive(coverage, view, today=today)
    await uow.flush()
    await uow.publish(event_of(Subject.COVERAGE_CHANGED, coverage.psn_no, view, clock))
    return view


async def restate_incentive(
    uow: EnrollmentUnitOfWork, psn_no: str, *, clock: Clock, policy: ResidentPolicy
) -> None:
    """Claims and contributions move the incentive: restate the current resident coverage when it changed."""
    current = await uow.coverages.current(psn_no)
    if current is None or current.insutype != Insutype.RESIDENT:
        return
    today = business_date(clock.now())
    year = _reference_year(current, today)
    reward = await incentive_of(uow, current, year=year, today=today, policy=policy)
    if incentive_moved(current, year, reward):
        await restate(uow, current, clock=clock, policy=policy)


def incentive_moved(coverage: Coverage, year: int, reward: Incentive) -> bool:
    """Whether the incentive kept on the row is no longer the one of `year`."""
    kept = (coverage.incentive_year, coverage.incentive_raise_fen, coverage.continuous_years)
    return kept != (year, reward.total_fen, reward.continuous_years)


# --- reading --------------------------------------------------------------------------------------------


async def coverage(
    *, uow: EnrollmentUnitOfWork, coverage_id: int, today: date, policy: ResidentPolicy
) -> CoverageState:
    """One coverage as of today, or 404 COVERAGE_NOT_FOUND."""
    found = await uow.coverages.must_get(coverage_id)
    return CoverageState(found, await coverage_view(uow, found, today=today, policy=policy))


async def coverages_of(
    *, uow: EnrollmentUnitOfWork, psn_no: str, today: date, policy: ResidentPolicy
) -> list[CoverageState]:
    """A person's coverages as of today, oldest first; 404 PERSON_NOT_FOUND."""
    await uow.persons.must_get(psn_no)
    return [
        CoverageState(c, await coverage_view(uow, c, today=today, policy=policy))
        for c in await uow.coverages.of_person(psn_no)
    ]


# --- enrolment ------------------------------------------------------------------------------------------


def check_enrolment(person: Person, data: CoverageIn, *, today: date) -> tuple[date, str | None]:
    """The rules of an enrolment that need only the person: its enrolled_on and psn_type, or the refusal."""
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
        return enrolled_on, data.psn_type.value if data.psn_type else "employed"
    if data.emp_code or data.psn_type:
        raise Unprocessable(
            "emp_code and psn_type belong to employee (310) coverage only.", code="NOT_FOR_RESIDENTS"
        )
    return enrolled_on, None


def check_not_covered(current: Coverage | None) -> None:
    """A person has one current basic coverage at a time (重复参保 otherwise)."""
    if current is not None:
        raise Conflict(
            f"The person already has a current {current.insutype} coverage (重复参保).",
            code="DUPLICATE_COVERAGE",
            coverage_id=current.coverage_id,
        )


def new_coverage(
    person: Person,
    data: CoverageIn,
    *,
    enrolled_on: date,
    psn_type: str | None,
    years: CoveredYears | None,
    policy: ResidentPolicy,
    now: datetime,
) -> Coverage:
    """The coverage row of an enrolment; a resident's (`years`: the person's history) gets its waiting period."""
    benefit_start, waiting_months, breaks = data.begndate, 0, 0
    if data.insutype == Insutype.RESIDENT:
        assert years is not None, "a resident enrolment needs the person's history"
        wait = resident_waiting_period(
            coverage_year=data.begndate.year,
            begndate=data.begndate,
            enrolled_on=enrolled_on,
            birth_date=person.brdy,
            covered_years=years.covered,
            back_paid_years=years.back_paid,
            policy=policy,
        )
        benefit_start, waiting_months, breaks = wait.benefit_start_date, wait.months, wait.break_years
    return Coverage(
        psn_no=person.psn_no,
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


async def add_coverage(
    *, uow: EnrollmentUnitOfWork, psn_no: str, data: CoverageIn, clock: Clock, policy: ResidentPolicy
) -> CoverageState:
    """Enroll a person; residents get the waiting period the 2025 rules give them."""
    today, now = business_date(clock.now()), clock.now()
    person = await uow.persons.must_get(psn_no, for_update=True)
    enrolled_on, psn_type = check_enrolment(person, data, today=today)
    check_not_covered(await uow.coverages.current(psn_no))
    years = (
        await history(uow, psn_no, exclude=None, today=today) if data.insutype == Insutype.RESIDENT else None
    )
    new = new_coverage(
        person, data, enrolled_on=enrolled_on, psn_type=psn_type, years=years, policy=policy, now=now
    )
    if not await uow.coverages.add_new(new):
        raise Conflict("The person already has a current coverage (重复参保).", code="DUPLICATE_COVERAGE")
    return CoverageState(new, await restate(uow, new, clock=clock, policy=policy))


def incentive_in(
    book: Book, coverage: Coverage, *, year: int, today: date, policy: ResidentPolicy
) -> Incentive:
    """`incentive_of` on a bulk load's book."""
    covered = book.history(coverage.psn_no, exclude=None, today=today).covered
    claims = book.claims.get(coverage.psn_no, [])
    return incentive(
        year=year, covered_years=covered | {coverage.begndate.year}, claims=claims, policy=policy
    )


def restate_in(book: Book, coverage: Coverage, *, today: date, policy: ResidentPolicy) -> None:
    """`restate` on a bulk load's book: the incentive kept on the row, coverage.changed pending its write."""
    reward = incentive_in(book, coverage, year=_reference_year(coverage, today), today=today, policy=policy)
    view = view_of(coverage, book.suspensions_of(coverage), reward)
    keep_incentive(coverage, view, today=today)
    book.pending.append(
        PendingEvent(Subject.COVERAGE_CHANGED, coverage.psn_no, view, "coverage_id", coverage)
    )


def restate_incentive_in(book: Book, psn_no: str, *, today: date, policy: ResidentPolicy) -> None:
    """`restate_incentive` on a bulk load's book."""
    current = book.current(psn_no)
    if current is None or current.insutype != Insutype.RESIDENT:
        return
    year = _reference_year(current, today)
    if incentive_moved(current, year, incentive_in(book, current, year=year, today=today, policy=policy)):
        restate_in(book, current, today=today, policy=policy)


async def add_coverages_bulk(
    *, uow: EnrollmentUnitOfWork, items: Sequence[BulkCoverageItem], clock: Clock, policy: ResidentPolicy
) -> BulkItems:
    """Enroll many persons in one transaction, each item under exactly the rules of `add_coverage`.

    Set-based: the persons of the load are locked and their histories read in one query per table, each
    item is checked against that book in memory (in order, so a later item sees what an earlier one
    enrolled), and the coverages and their coverage.changed events are written in one statement each. A
    refused item (its code as one call would give it) changes nothing in the book and so leaves no trace.
    """
    today, now = business_date(clock.now()), clock.now()
    book = await Book.load(uow, sorted({item.psn_no for item in items}))
    outcome = BulkItems()
    enrolled: list[tuple[int, Coverage]] = []
    for index, item in enumerate(items):
        try:
            person = book.person(item.psn_no)
            enrolled_on, psn_type = check_enrolment(person, item, today=today)
            check_not_covered(book.current(item.psn_no))
            years = book.history(item.psn_no, exclude=None, today=today)
            coverage = new_coverage(
                person, item, enrolled_on=enrolled_on, psn_type=psn_type, years=years, policy=policy, now=now
            )
        except ProblemError as exc:
            outcome.rejected.append(Rejected(index, exc.code, exc.detail))
            continue
        book.add_coverage(coverage)
        restate_in(book, coverage, today=today, policy=policy)
        enrolled.append((index, coverage))
    await book.write(uow, clock)
    outcome.created = [Created(index, coverage.psn_no, coverage.coverage_id) for index, coverage in enrolled]
    return outcome


# --- changes --------------------------------------------------------------------------------------------


async def suspend(
    *,
    uow: EnrollmentUnitOfWork,
    coverage_id: int,
    on: date | None,
    reason: str | None,
    clock: Clock,
    policy: ResidentPolicy,
) -> CoverageState:
    """Suspend (暂停) an active coverage from a date (default today)."""
    return await _change_status(uow, coverage_id, "suspend", on=on, reason=reason, clock=clock, policy=policy)


async def resume(
    *,
    uow: EnrollmentUnitOfWork,
    coverage_id: int,
    on: date | None,
    reason: str | None,
    clock: Clock,
    policy: ResidentPolicy,
) -> CoverageState:
    """Resume (恢复) a suspended coverage from a date (default today), closing its open suspension."""
    return await _change_status(uow, coverage_id, "resume", on=on, reason=reason, clock=clock, policy=policy)


async def _change_status(
    uow: EnrollmentUnitOfWork,
    coverage_id: int,
    action: str,
    *,
    on: date | None,
    reason: str | None,
    clock: Clock,
    policy: ResidentPolicy,
) -> CoverageState:
    today = business_date(clock.now())
    found = await uow.coverages.must_get(coverage_id, for_update=True)
    effective = on or today
    if effective < found.begndate:
        raise Unprocessable("The date is before the coverage began.", code="INVALID_DATE")
    expected = {"suspend": CoverageStatus.ACTIVE, "resume": CoverageStatus.SUSPENDED}[action]
    if found.status != expected.value:
        raise Conflict(
            f"Cannot {action} a coverage that is {found.status}.",
            code="INVALID_COVERAGE_STATE",
            coverage_status=found.status,
        )
    if action == "suspend":
        uow.suspensions.add(
            CoverageSuspension(coverage_id=coverage_id, from_date=effective, to_date=None, reason=reason)
        )
        found.status = CoverageStatus.SUSPENDED.value
    else:
        open_suspension = await uow.suspensions.open_of(coverage_id)
        if open_suspension is not None:
            if effective < open_suspension.from_date:
                raise Unprocessable("A coverage cannot resume before it was suspended.", code="INVALID_DATE")
            open_suspension.to_date = effective
        found.status = CoverageStatus.ACTIVE.value
    found.updated_at = clock.now()
    await uow.flush()
    return CoverageState(found, await restate(uow, found, clock=clock, policy=policy))


async def end_coverage(
    *,
    uow: EnrollmentUnitOfWork,
    coverage_id: int,
    enddate: date,
    reason: str | None,
    clock: Clock,
    policy: ResidentPolicy,
) -> CoverageState:
    """End (终止) a coverage: `enddate` is its last covered day."""
    found = await uow.coverages.must_get(coverage_id, for_update=True)
    if found.status == CoverageStatus.ENDED.value:
        raise Conflict(
            "The coverage has ended already.", code="INVALID_COVERAGE_STATE", coverage_status=found.status
        )
    if enddate < found.begndate:
        raise Unprocessable("enddate is before begndate.", code="INVALID_DATE", field="enddate")
    await end_on(uow, found, enddate=enddate, reason=reason or "ended", clock=clock)
    return CoverageState(found, await restate(uow, found, clock=clock, policy=policy))


async def end_on(
    uow: EnrollmentUnitOfWork, coverage: Coverage, *, enddate: date, reason: str, clock: Clock
) -> None:
    """End a coverage on a day, closing its open suspension (no event: the caller restates it)."""
    open_suspension = await uow.suspensions.open_of(coverage.coverage_id)
    if open_suspension is not None:
        open_suspension.to_date = max(open_suspension.from_date, enddate)
    coverage.status, coverage.enddate, coverage.end_reason = CoverageStatus.ENDED.value, enddate, reason[:20]
    coverage.updated_at = clock.now()
    await uow.flush()


async def set_assistance(
    *,
    uow: EnrollmentUnitOfWork,
    coverage_id: int,
    assistance: str | None,
    clock: Clock,
    policy: ResidentPolicy,
) -> CoverageState:
    """Set or clear the medical-assistance category of a coverage that has not ended."""
    found = await uow.coverages.must_get(coverage_id, for_update=True)
    if found.status == CoverageStatus.ENDED.value:
        raise Conflict("The coverage has ended.", code="INVALID_COVERAGE_STATE", coverage_status=found.status)
    found.assistance = assistance
    found.updated_at = clock.now()
    await uow.flush()
    return CoverageState(found, await restate(uow, found, clock=clock, policy=policy))
