"""HTTP routes of enrollment: parse, call the service, shape the answer. No queries here."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response

from common.clock import Clock, business_date
from common.db import DbSession
from common.errors import BadRequest, Unprocessable
from common.money import fen_to_yuan
from common.pagination import decode_cursor, encode_cursor
from common.params import PathId
from common.principal import OpsPrincipal, Principal, Role, require_principal
from enrollment import repository as repo
from enrollment import service
from enrollment.domain.certno import mask_certno, mask_tel
from enrollment.domain.waiting import ResidentPolicy
from enrollment.models import Contribution, Person
from enrollment.schemas import (
    AssistanceIn,
    BulkContributionsIn,
    BulkContributionsOut,
    BulkCoveragesIn,
    BulkCoveragesOut,
    BulkCreated,
    BulkExisting,
    BulkPersonsIn,
    BulkPersonsOut,
    BulkRejected,
    ContributionIn,
    ContributionOut,
    CoverageIn,
    CoverageOut,
    DeathIn,
    EligibilityOut,
    EndCoverageIn,
    EnrollmentStats,
    FamilyIn,
    FamilyOut,
    IneligibleReason,
    LookupInsutype,
    PersonIn,
    PersonOut,
    PersonPage,
    StatsRow,
    StatusChangeIn,
)

router = APIRouter()
LookupPrincipal = Annotated[Principal, Depends(require_principal(Role.OPS, Role.HIS, Role.POS))]
PROBLEMS: dict[int | str, dict[str, Any]] = {
    code: {"description": "problem+json"} for code in (401, 403, 404, 409, 422)
}


async def _clock(request: Request) -> Clock:
    clock: Clock = request.app.state.clock
    return clock


async def _policy(request: Request) -> ResidentPolicy:
    policy: ResidentPolicy = request.app.state.resident_policy
    return policy


ClockDep = Annotated[Clock, Depends(_clock)]
PolicyDep = Annotated[ResidentPolicy, Depends(_policy)]


def _person_out(person: Person, *, masked: bool = False) -> PersonOut:
    return PersonOut(
        psn_no=person.psn_no,
        certno=mask_certno(person.certno) if masked else person.certno,
        psn_name=person.psn_name,
        gend=person.gend,
        brdy=person.brdy,
        admdvs=person.admdvs,
        tel=mask_tel(person.tel) if masked else person.tel,
        death_date=person.death_date,
        created_at=person.created_at,
    )


async def _coverage_out(
    session: DbSession, coverage_id: int, clock: Clock, policy: ResidentPolicy
) -> CoverageOut:
    coverage = await repo.get_coverage(session, coverage_id)
    view = await service.coverage_view(session, coverage, today=business_date(clock.now()), policy=policy)
    return _as_out((coverage, view))


def _as_out(state: service.CoverageState) -> CoverageOut:
    """The response of a coverage write: the view its event carried, nothing computed twice."""
    coverage, view = state
    return CoverageOut(
        **view.model_dump(),
        enrolled_on=coverage.enrolled_on,
        break_years=coverage.break_years,
        end_reason=coverage.end_reason,
    )


def _contribution_out(contribution: Contribution) -> ContributionOut:
    return ContributionOut(
        contribution_id=contribution.contribution_id,
        psn_no=contribution.psn_no,
        insutype=contribution.insutype,
        period=contribution.period,
        amount=fen_to_yuan(contribution.amount_fen),
        acct_amount=fen_to_yuan(contribution.acct_amount_fen),
        paid_at=contribution.paid_at,
        back_payment=contribution.back_payment,
    )


async def _change_status(
    session: DbSession,
    coverage_id: PathId,
    action: str,
    body: StatusChangeIn | None,
    clock: Clock,
    policy: ResidentPolicy,
) -> CoverageOut:
    change = body or StatusChangeIn()
    return _as_out(
        await service.change_status(
            session, coverage_id, action, on=change.date_, reason=change.reason, clock=clock, policy=policy
        )
    )


# --- persons --------------------------------------------------------------------------------------------


@router.post(
    "/persons",
    status_code=201,
    response_model=PersonOut,
    responses=PROBLEMS,
    tags=["persons 参保人"],
    summary="Register a person 参保人登记 (one record per certno)",
)
async def register_person(
    body: PersonIn, session: DbSession, _ops: OpsPrincipal, clock: ClockDep
) -> PersonOut:
    """Register a person once, by certno; the answer carries the new `psn_no` every other call uses.

    The certno is checked (GB 11643 checksum) and `gend` and `brdy`, when given, must agree with it
    (INVALID_CERTNO, CERTNO_MISMATCH). A certno registered before is 409 PERSON_EXISTS with the existing
    `psn_no`, so a retry finds the person instead of making a second one. Publishes enrollment.person.registered.
    """
    return _person_out(await service.register_person(session, body, clock=clock))


@router.post(
    "/persons:bulk",
    response_model=BulkPersonsOut,
    responses=PROBLEMS,
    tags=["persons 参保人"],
    summary="Register many persons (initial load, at most 10,000 per call)",
)
async def register_persons_bulk(
    body: BulkPersonsIn, session: DbSession, _ops: OpsPrincipal, clock: ClockDep
) -> BulkPersonsOut:
    """Register up to 10,000 persons in one call, for the initial load of a city's register.

    Each item follows the rules of `POST /persons`. New persons are created and their `psn_no` listed in
    request order under `registered`; a certno registered before is listed under `existing` with its
    `psn_no` (a reloaded file is harmless); an invalid item is listed under `rejected` with its index and
    the code one call would give, and is not created.
    """
    outcome = await service.register_persons_bulk(session, body.persons, clock=clock)
    return BulkPersonsOut(
        created=len(outcome.registered),
        registered=outcome.registered,
        existing=[BulkExisting(index=i, psn_no=p) for i, p in outcome.existing],
        rejected=[BulkRejected(index=i, code=c, detail=d) for i, c, d in outcome.rejected],
    )


def _decode_cursor(cursor: str) -> tuple[datetime, str]:
    created_at, psn_no = decode_cursor(cursor, parts=2)
    try:
        return datetime.fromisoformat(created_at), psn_no
    except ValueError as exc:
        raise BadRequest("The cursor is not one this API gave out.", code="INVALID_CURSOR") from exc


@router.get(
    "/persons",
    response_model=PersonPage,
    responses=PROBLEMS,
    tags=["persons 参保人"],
    summary="List persons (newest first; certno and tel masked)",
)
async def list_persons(
    session: DbSession,
    _ops: OpsPrincipal,
    certno: Annotated[str | None, Query(max_length=18, description="exact certno")] = None,
    admdvs: Annotated[str | None, Query(pattern=r"^\d{6}$")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> PersonPage:
    """Page through the register, newest first, filtered by exact certno or by region (`admdvs`).

    For bureau staff looking someone up: certno and phone are masked in the list (fetch one person for
    the full record). Pass `next_cursor` as `cursor` for the next page; it is null on the last.
    """
    before = _decode_cursor(cursor) if cursor else None
    people = await repo.list_persons(
        session,
        certno=certno.strip().upper() if certno else None,
        admdvs=admdvs,
        limit=limit + 1,
        before=before,
    )
    next_cursor = None
    if len(people) > limit:
        people = people[:limit]
        last = people[-1]
        next_cursor = encode_cursor(last.created_at.isoformat(), last.psn_no)
    return PersonPage(items=[_person_out(person, masked=True) for person in people], next_cursor=next_cursor)


@router.get(
    "/persons/{psn_no}",
    response_model=PersonOut,
    responses=PROBLEMS,
    tags=["persons 参保人"],
    summary="One person 参保人信息",
)
async def get_person(psn_no: str, session: DbSession, _who: LookupPrincipal) -> PersonOut:
    """One person's full record, certno and phone unmasked, with the date of death if one was recorded.

    Hospitals and pharmacies may read it too (they identify the patient with it). 404 PERSON_NOT_FOUND.
    """
    return _person_out(await repo.get_person(session, psn_no))


@router.post(
    "/persons/{psn_no}/death",
    response_model=PersonOut,
    responses=PROBLEMS,
    tags=["persons 参保人"],
    summary="Record a death 死亡登记: coverage ends that day",
)
async def record_death(
    psn_no: str, body: DeathIn, session: DbSession, _ops: OpsPrincipal, clock: ClockDep, policy: PolicyDep
) -> PersonOut:
    """Record a death: every current coverage ends on that day and care begun after it is not covered.

    The date must lie between the birth date and today (INVALID_DATE). The same date again answers the
    record as it is; a different one is 409 DEATH_ALREADY_RECORDED. Publishes enrollment.person.deceased
    and enrollment.coverage.changed for each coverage it ends.
    """
    return _person_out(
        await service.record_death(session, psn_no, body.death_date, clock=clock, policy=policy)
    )


# --- coverages ------------------------------------------------------------------------------------------


@router.post(
    "/persons/{psn_no}/coverages",
    status_code=201,
    response_model=CoverageOut,
    responses=PROBLEMS,
    tags=["coverages 参保关系"],
    summary="Enroll 参保: 310 employee or 390 resident (392 attached)",
)
async def add_coverage(
    psn_no: str, body: CoverageIn, session: DbSession, _ops: OpsPrincipal, clock: ClockDep, policy: PolicyDep
) -> CoverageOut:
    """Enroll a person: 310 employee insurance (with the employer's `emp_code`) or 390 resident insurance.

    A person has one current basic coverage at a time: a second is 409 DUPLICATE_COVERAGE (重复参保) with
    the existing `coverage_id`. A resident coverage gets its waiting period under the 2025 rules (late
    enrolment and years without coverage lengthen it; continuous years and back-payments shorten it): the
    answer shows `benefit_start_date` and `waiting_months`. The attached 330 and 392 coverages follow from
    310 and 390 and are not enrolled separately. Publishes enrollment.coverage.changed.
    """
    return _as_out(await service.add_coverage(session, psn_no, body, clock=clock, policy=policy))


@router.post(
    "/coverages:bulk",
    response_model=BulkCoveragesOut,
    responses=PROBLEMS,
    tags=["coverages 参保关系"],
    summary="Enroll many persons (initial load, at most 10,000 per call)",
    description="Each item is `POST /persons/{psn_no}/coverages` with its `psn_no`, under the same rules, in "
    "its own savepoint: a refused item is listed with the code one call would give and leaves no trace; the "
    "others are created. Not idempotent: an item sent again is refused with DUPLICATE_COVERAGE.",
)
async def add_coverages_bulk(
    body: BulkCoveragesIn, session: DbSession, _ops: OpsPrincipal, clock: ClockDep, policy: PolicyDep
) -> BulkCoveragesOut:
    """Enroll up to 10,000 persons in one call (initial load), each item under the rules of one enrolment."""
    outcome = await service.add_coverages_bulk(session, body.coverages, clock=clock, policy=policy)
    return BulkCoveragesOut(
        created=[BulkCreated(index=i, psn_no=p, id=n) for i, p, n in outcome.created],
        rejected=[BulkRejected(index=i, code=c, detail=d) for i, c, d in outcome.rejected],
    )


@router.get(
    "/persons/{psn_no}/coverages",
    response_model=list[CoverageOut],
    responses=PROBLEMS,
    tags=["coverages 参保关系"],
    summary="A person's coverages, oldest first",
)
async def list_coverages(
    psn_no: str, session: DbSession, _who: LookupPrincipal, clock: ClockDep, policy: PolicyDep
) -> list[CoverageOut]:
    """Every coverage of a person, oldest first, current and ended.

    Each as of today: status, suspensions, waiting period and benefit start date. 404 PERSON_NOT_FOUND.
    """
    await repo.get_person(session, psn_no)
    return [
        await _coverage_out(session, c.coverage_id, clock, policy)
        for c in await repo.coverages_of(session, psn_no)
    ]


@router.get(
    "/coverages/{coverage_id}",
    response_model=CoverageOut,
    responses=PROBLEMS,
    tags=["coverages 参保关系"],
    summary="One coverage",
)
async def get_coverage(
    coverage_id: PathId, session: DbSession, _who: LookupPrincipal, clock: ClockDep, policy: PolicyDep
) -> CoverageOut:
    """One coverage as of today.

    Status, suspensions, waiting period, benefit start date, assistance category and the resident
    incentive. 404 COVERAGE_NOT_FOUND.
    """
    return await _coverage_out(session, coverage_id, clock, policy)


@router.post(
    "/coverages/{coverage_id}/suspend",
    response_model=CoverageOut,
    responses=PROBLEMS,
    tags=["coverages 参保关系"],
    summary="Suspend 暂停参保 from a date (default today)",
)
async def suspend(
    coverage_id: PathId,
    session: DbSession,
    _ops: OpsPrincipal,
    clock: ClockDep,
    policy: PolicyDep,
    body: StatusChangeIn | None = None,
) -> CoverageOut:
    """Suspend an active coverage from a date (default today), e.g. when an employer stops paying.

    Care begun while suspended is not covered (eligibility answers SUSPENDED). The date may not be before
    the coverage began (INVALID_DATE); a coverage that is not active is 409 INVALID_COVERAGE_STATE.
    Publishes enrollment.coverage.changed. The body is optional.
    """
    return await _change_status(session, coverage_id, "suspend", body, clock, policy)


@router.post(
    "/coverages/{coverage_id}/resume",
    response_model=CoverageOut,
    responses=PROBLEMS,
    tags=["coverages 参保关系"],
    summary="Resume 恢复参保 from a date (default today)",
)
async def resume(
    coverage_id: PathId,
    session: DbSession,
    _ops: OpsPrincipal,
    clock: ClockDep,
    policy: PolicyDep,
    body: StatusChangeIn | None = None,
) -> CoverageOut:
    """Resume a suspended coverage from a date (default today), closing its open suspension.

    The date may not be before the suspension began (INVALID_DATE); a coverage that is not suspended is
    409 INVALID_COVERAGE_STATE. Publishes enrollment.coverage.changed. The body is optional.
    """
    return await _change_status(session, coverage_id, "resume", body, clock, policy)


@router.post(
    "/coverages/{coverage_id}/end",
    response_model=CoverageOut,
    responses=PROBLEMS,
    tags=["coverages 参保关系"],
    summary="End 终止参保 (last covered day = enddate)",
)
async def end(
    coverage_id: PathId,
    body: EndCoverageIn,
    session: DbSession,
    _ops: OpsPrincipal,
    clock: ClockDep,
    policy: PolicyDep,
) -> CoverageOut:
    """End a coverage: `enddate` is its last covered day (moving away, changing to the other scheme).

    An ended coverage cannot be ended again (409 INVALID_COVERAGE_STATE) and `enddate` may not be before
    `begndate` (INVALID_DATE). Publishes enrollment.coverage.changed; a new coverage may then be enrolled.
    """
    return _as_out(
        await service.end_coverage(
            session, coverage_id, enddate=body.enddate, reason=body.reason, clock=clock, policy=policy
        )
    )


@router.post(
    "/coverages/{coverage_id}/assistance",
    response_model=CoverageOut,
    responses=PROBLEMS,
    tags=["coverages 参保关系"],
    summary="Set or clear the assistance category 医疗救助类别",
)
async def set_assistance(
    coverage_id: PathId,
    body: AssistanceIn,
    session: DbSession,
    _ops: OpsPrincipal,
    clock: ClockDep,
    policy: PolicyDep,
) -> CoverageOut:
    """Set or clear the medical-assistance category (特困, 低保, 监测对象) of a coverage that has not ended.

    Settlement applies it to the assistance share (医疗救助) of each bill. Send `null` to clear it. Publishes
    enrollment.coverage.changed.
    """
    value = body.assistance.value if body.assistance else None
    return _as_out(await service.set_assistance(session, coverage_id, value, clock=clock, policy=policy))


# --- contributions and families --------------------------------------------------------------------------


@router.post(
    "/persons/{psn_no}/contributions",
    response_model=ContributionOut,
    status_code=201,
    responses={**PROBLEMS, 200: {"description": "The same contribution was recorded before"}},
    tags=["contributions 缴费"],
    summary="Record a contribution 缴费 (idempotent per period)",
)
async def record_contribution(
    psn_no: str,
    body: ContributionIn,
    session: DbSession,
    _ops: OpsPrincipal,
    clock: ClockDep,
    policy: PolicyDep,
    response: Response,
) -> ContributionOut:
    """Record one period's contribution: a month (YYYY-MM) for 310, a year (YYYY) for 390.

    Idempotent per person, insutype and period: the same figures again answer 200 with the original, other
    figures are 409 CONTRIBUTION_EXISTS. For 310, `acct_amount` (default a fifth of the amount) goes to the
    personal account. Paid after its period it is a back-payment (补缴): it covers nothing retroactively but
    may shorten the waiting period of the current resident coverage. 409 NO_COVERAGE without a coverage of
    that insutype.
    """
    contribution, created = await service.record_contribution(
        session, psn_no, body, clock=clock, policy=policy
    )
    if not created:
        response.status_code = 200
    return _contribution_out(contribution)


@router.post(
    "/contributions:bulk",
    response_model=BulkContributionsOut,
    responses=PROBLEMS,
    tags=["contributions 缴费"],
    summary="Record many contributions (initial load, at most 10,000 per call; idempotent per period)",
    description="Each item is `POST /persons/{psn_no}/contributions` with its `psn_no`, under the same rules, "
    "in its own savepoint: the same contribution again is listed under `existing`, a refused item under "
    "`rejected` with its code, and leaves no trace.",
)
async def record_contributions_bulk(
    body: BulkContributionsIn, session: DbSession, _ops: OpsPrincipal, clock: ClockDep, policy: PolicyDep
) -> BulkContributionsOut:
    """Record up to 10,000 contributions in one call (initial load), each under the rules of one."""
    outcome = await service.record_contributions_bulk(session, body.contributions, clock=clock, policy=policy)
    return BulkContributionsOut(
        created=[BulkCreated(index=i, psn_no=p, id=n) for i, p, n in outcome.created],
        existing=[BulkCreated(index=i, psn_no=p, id=n) for i, p, n in outcome.existing],
        rejected=[BulkRejected(index=i, code=c, detail=d) for i, c, d in outcome.rejected],
    )


@router.get(
    "/persons/{psn_no}/contributions",
    response_model=list[ContributionOut],
    responses=PROBLEMS,
    tags=["contributions 缴费"],
    summary="A person's contributions by period",
)
async def list_contributions(psn_no: str, session: DbSession, _ops: OpsPrincipal) -> list[ContributionOut]:
    """A person's contributions, by insutype and period.

    Each with the share credited to the personal account and whether it was a back-payment (补缴).
    404 PERSON_NOT_FOUND.
    """
    await repo.get_person(session, psn_no)
    return [_contribution_out(c) for c in await repo.contributions_of(session, psn_no)]


@router.post(
    "/families",
    response_model=FamilyOut,
    responses=PROBLEMS,
    tags=["families 家庭共济"],
    summary="Bind relatives to an employee's personal account 家庭共济绑定",
)
async def bind_family(body: FamilyIn, session: DbSession, _ops: OpsPrincipal, clock: ClockDep) -> FamilyOut:
    """Bind close relatives to an employee's personal account (家庭共济), so they can pay from it.

    The holder needs an active 310 coverage (HOLDER_NOT_ELIGIBLE); members must be registered and alive
    (MEMBER_NOT_FOUND, MEMBER_DECEASED) and bound to no other holder (409 MEMBER_ALREADY_BOUND). Binding
    a member again is harmless. Answers the holder's whole family.
    """
    members = await service.bind_family(session, body.holder_psn_no, body.member_psn_nos, clock=clock)
    return FamilyOut(holder_psn_no=body.holder_psn_no, member_psn_nos=members)


@router.get(
    "/families/{holder_psn_no}",
    response_model=FamilyOut,
    responses=PROBLEMS,
    tags=["families 家庭共济"],
    summary="An employee's bound family",
)
async def get_family(holder_psn_no: str, session: DbSession, _who: LookupPrincipal) -> FamilyOut:
    """The relatives bound to an employee's personal account (家庭共济); an empty list when none are.

    404 PERSON_NOT_FOUND.
    """
    await repo.get_person(session, holder_psn_no)
    return FamilyOut(holder_psn_no=holder_psn_no, member_psn_nos=await repo.family_of(session, holder_psn_no))


# --- eligibility and statistics ---------------------------------------------------------------------------


@router.get(
    "/eligibility",
    response_model=EligibilityOut,
    responses=PROBLEMS,
    tags=["eligibility 待遇资格"],
    summary="Eligibility look-up 待遇资格查询 (1101-style): may the fund pay for care begun on this date?",
)
async def eligibility(
    session: DbSession,
    _who: LookupPrincipal,
    clock: ClockDep,
    policy: PolicyDep,
    psn_no: Annotated[str | None, Query(max_length=20)] = None,
    certno: Annotated[str | None, Query(max_length=18)] = None,
    insutype: Annotated[LookupInsutype | None, Query(description="310 330 390 392")] = None,
    date_: Annotated[date | None, Query(alias="date", description="default today")] = None,
) -> EligibilityOut:
    """The look-up a hospital or pharmacy makes before treating (1101-style): does the fund pay for care begun
    on `date` (default today)?

    Give exactly one of `psn_no` and `certno` (PERSON_KEY_REQUIRED). Without `insutype` the person's basic
    coverage answers; 330 and 392 answer for the attached coverages. When not eligible, `reason` says why:
    NO_COVERAGE, SUSPENDED, WAITING_PERIOD (with `waiting_days` left) or DECEASED. Residents also get the
    critical-illness cap raise they have earned (`incentive_raise`). 404 PERSON_NOT_FOUND.
    """
    if (psn_no is None) == (certno is None):
        raise Unprocessable("Give exactly one of psn_no and certno.", code="PERSON_KEY_REQUIRED")
    answer = await service.eligibility(
        session,
        psn_no=psn_no,
        certno=certno,
        insutype=insutype,
        on=date_ or business_date(clock.now()),
        policy=policy,
    )
    return EligibilityOut(
        eligible=answer.eligible,
        psn_no=answer.psn_no,
        date_=answer.on,
        insutype=answer.insutype,
        coverage_id=answer.coverage_id,
        psn_type=answer.psn_type,
        assistance=answer.assistance,
        benefit_start_date=answer.benefit_start_date,
        waiting_days=answer.waiting_days,
        incentive_raise=fen_to_yuan(answer.incentive_raise_fen)
        if answer.incentive_raise_fen is not None
        else None,
        reason=IneligibleReason(answer.reason) if answer.reason else None,
    )


@router.get(
    "/stats/enrollment",
    response_model=EnrollmentStats,
    responses=PROBLEMS,
    tags=["statistics 统计"],
    summary="Counts of persons and coverages by insutype and status 参保统计",
)
async def enrollment_stats(
    session: DbSession, _ops: OpsPrincipal, admdvs: Annotated[str | None, Query(pattern=r"^\d{6}$")] = None
) -> EnrollmentStats:
    """Counts for the bureau's reports: persons registered and deceased, and coverages by insutype and
    status, for the whole city or one region (`admdvs`).
    """
    persons, deceased, rows = await repo.stats(session, admdvs)
    return EnrollmentStats(
        admdvs=admdvs,
        persons=persons,
        deceased=deceased,
        coverages=[StatsRow(insutype=i, status=s, count=c) for i, s, c in rows],
    )
