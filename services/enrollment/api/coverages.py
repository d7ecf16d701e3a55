"""Routes of coverages (参保关系): enrolment, bulk load, look-ups, suspend, resume, end, assistance."""

from __future__ import annotations

from fastapi import APIRouter

from common.clock import business_date
from common.deps import PROBLEMS, ClockDep
from common.params import PathId
from common.principal import OpsPrincipal
from enrollment.api.deps import LookupPrincipal, PolicyDep
from enrollment.schemas.base import BulkCreated, BulkRejected
from enrollment.schemas.coverages import (
    AssistanceIn,
    BulkCoveragesIn,
    BulkCoveragesOut,
    CoverageIn,
    CoverageOut,
    EndCoverageIn,
    StatusChangeIn,
)
from enrollment.service import coverages as service
from enrollment.uow import Uow

router = APIRouter()


def coverage_out(state: service.CoverageState) -> CoverageOut:
    """The answer about a coverage: the view its event carried, nothing computed twice."""
    return CoverageOut(
        **state.view.model_dump(),
        enrolled_on=state.coverage.enrolled_on,
        break_years=state.coverage.break_years,
        end_reason=state.coverage.end_reason,
    )


@router.post(
    "/persons/{psn_no}/coverages",
    status_code=201,
    response_model=CoverageOut,
    responses=PROBLEMS,
    tags=["coverages 参保关系"],
    summary="Enroll 参保: 310 employee or 390 resident (392 attached)",
)
async def add_coverage(
    psn_no: str, body: CoverageIn, uow: Uow, _ops: OpsPrincipal, clock: ClockDep, policy: PolicyDep
) -> CoverageOut:
    """Enroll a person: 310 employee insurance (with the employer's `emp_code`) or 390 resident insurance.

    A person has one current basic coverage at a time: a second is 409 DUPLICATE_COVERAGE (重复参保) with
    the existing `coverage_id`. A resident coverage gets its waiting period under the 2025 rules (late
    enrolment and years without coverage lengthen it; continuous years and back-payments shorten it): the
    answer shows `benefit_start_date` and `waiting_months`. The attached 330 and 392 coverages follow from
    310 and 390 and are not enrolled separately. Publishes enrollment.coverage.changed.
    """
    return coverage_out(
        await service.add_coverage(uow=uow, psn_no=psn_no, data=body, clock=clock, policy=policy)
    )


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
    body: BulkCoveragesIn, uow: Uow, _ops: OpsPrincipal, clock: ClockDep, policy: PolicyDep
) -> BulkCoveragesOut:
    """Enroll up to 10,000 persons in one call (initial load), each item under the rules of one enrolment."""
    outcome = await service.add_coverages_bulk(uow=uow, items=body.coverages, clock=clock, policy=policy)
    return BulkCoveragesOut(
        created=[BulkCreated(index=c.index, psn_no=c.psn_no, id=c.id) for c in outcome.created],
        rejected=[BulkRejected(index=r.index, code=r.code, detail=r.detail) for r in outcome.rejected],
    )


@router.get(
    "/persons/{psn_no}/coverages",
    response_model=list[CoverageOut],
    responses=PROBLEMS,
    tags=["coverages 参保关系"],
    summary="A person's coverages, oldest first",
)
async def list_coverages(
    psn_no: str, uow: Uow, _who: LookupPrincipal, clock: ClockDep, policy: PolicyDep
) -> list[CoverageOut]:
    """Every coverage of a person, oldest first, current and ended.

    Each as of today: status, suspensions, waiting period and benefit start date. 404 PERSON_NOT_FOUND.
    """
    today = business_date(clock.now())
    states = await service.coverages_of(uow=uow, psn_no=psn_no, today=today, policy=policy)
    return [coverage_out(state) for state in states]


@router.get(
    "/coverages/{coverage_id}",
    response_model=CoverageOut,
    responses=PROBLEMS,
    tags=["coverages 参保关系"],
    summary="One coverage",
)
async def get_coverage(
    coverage_id: PathId, uow: Uow, _who: LookupPrincipal, clock: ClockDep, policy: PolicyDep
) -> CoverageOut:
    """One coverage as of today.

    Status, suspensions, waiting period, benefit start date, assistance category and the resident
    incentive. 404 COVERAGE_NOT_FOUND.
    """
    today = business_date(clock.now())
    return coverage_out(await service.coverage(uow=uow, coverage_id=coverage_id, today=today, policy=policy))


@router.post(
    "/coverages/{coverage_id}/suspend",
    response_model=CoverageOut,
    responses=PROBLEMS,
    tags=["coverages 参保关系"],
    summary="Suspend 暂停参保 from a date (default today)",
)
async def suspend(
    coverage_id: PathId,
    uow: Uow,
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
    change = body or StatusChangeIn()
    return coverage_out(
        await service.suspend(
            uow=uow,
            coverage_id=coverage_id,
            on=change.date_,
            reason=change.reason,
            clock=clock,
            policy=policy,
        )
    )


@router.post(
    "/coverages/{coverage_id}/resume",
    response_model=CoverageOut,
    responses=PROBLEMS,
    tags=["coverages 参保关系"],
    summary="Resume 恢复参保 from a date (default today)",
)
async def resume(
    coverage_id: PathId,
    uow: Uow,
    _ops: OpsPrincipal,
    clock: ClockDep,
    policy: PolicyDep,
    body: StatusChangeIn | None = None,
) -> CoverageOut:
    """Resume a suspended coverage from a date (default today), closing its open suspension.

    The date may not be before the suspension began (INVALID_DATE); a coverage that is not suspended is
    409 INVALID_COVERAGE_STATE. Publishes enrollment.coverage.changed. The body is optional.
    """
    change = body or StatusChangeIn()
    return coverage_out(
        await service.resume(
            uow=uow,
            coverage_id=coverage_id,
            on=change.date_,
            reason=change.reason,
            clock=clock,
            policy=policy,
        )
    )


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
    uow: Uow,
    _ops: OpsPrincipal,
    clock: ClockDep,
    policy: PolicyDep,
) -> CoverageOut:
    """End a coverage: `enddate` is its last covered day (moving away, changing to the other scheme).

    An ended coverage cannot be ended again (409 INVALID_COVERAGE_STATE) and `enddate` may not be before
    `begndate` (INVALID_DATE). Publishes enrollment.coverage.changed; a new coverage may then be enrolled.
    """
    return coverage_out(
        await service.end_coverage(
            uow=uow,
            coverage_id=coverage_id,
            enddate=body.enddate,
            reason=body.reason,
            clock=clock,
            policy=policy,
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
    uow: Uow,
    _ops: OpsPrincipal,
    clock: ClockDep,
    policy: PolicyDep,
) -> CoverageOut:
    """Set or clear the medical-assistance category (特困, 低保, 监测对象) of a coverage that has not ended.

    Settlement applies it to the assistance share (医疗救助) of each bill. Send `null` to clear it. Publishes
    enrollment.coverage.changed.
    """
    value = body.assistance.value if body.assistance else None
    return coverage_out(
        await service.set_assistance(
            uow=uow, coverage_id=coverage_id, assistance=value, clock=clock, policy=policy
        )
    )
