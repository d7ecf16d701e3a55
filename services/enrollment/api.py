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
    persons, deceased, rows = await repo.stats(session, admdvs)
    return EnrollmentStats(
        admdvs=admdvs,
        persons=persons,
        deceased=deceased,
        coverages=[StatsRow(insutype=i, status=s, count=c) for i, s, c in rows],
    )
