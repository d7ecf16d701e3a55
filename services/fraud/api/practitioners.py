"""Routes of practitioners (医保支付资格管理): register, list, read with points and suspensions, 记分, reinstate."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse

from common.clock import business_date
from common.national import PRAC_CODE_PATTERN
from common.principal import OpsPrincipal
from fraud.api.deps import PROBLEMS, ClockDep, InstitutionPrincipal, ensure_scope, listing_scope
from fraud.domain.practitioners import PointsScale, band
from fraud.models import Practitioner, PractitionerPoints, PractitionerSuspension
from fraud.schemas.practitioners import (
    PointsEntryOut,
    PointsIn,
    PointsOut,
    PracStatus,
    PractitionerDetail,
    PractitionerIn,
    PractitionerOut,
    PractitionerPage,
    PracType,
    ReinstatementsIn,
    ReinstatementsOut,
    SuspensionOut,
)
from fraud.service import practitioners
from fraud.uow import Uow

router = APIRouter(tags=["practitioners 医保支付资格"], responses=PROBLEMS)
PracCodg = Annotated[
    str, Path(min_length=13, max_length=14, pattern=PRAC_CODE_PATTERN, description="医保医师/药师/护士代码")
]


async def _scale(request: Request) -> PointsScale:
    return practitioners.scale_of(request.app.state.settings)


PointsScaleDep = Annotated[PointsScale, Depends(_scale)]
"""The 记分 scale the service is configured with (FRAUD_PRACTITIONER_*); case decisions pass it on too."""


def practitioner_out(row: Practitioner) -> PractitionerOut:
    return PractitionerOut(
        prac_codg=row.prac_codg,
        prac_type=row.prac_type,
        fixmedins_code=row.fixmedins_code,
        status=row.status,
        registered_at=row.registered_at,
        updated_at=row.updated_at,
    )


def entry_out(row: PractitionerPoints) -> PointsEntryOut:
    return PointsEntryOut(
        entry_id=row.entry_id,
        prac_codg=row.prac_codg,
        points=row.points,
        band=band(row.points),
        year=row.year,
        reason=row.reason,
        source=row.source,
        source_id=row.source_id,
        on_date=row.on_date,
        recorded_at=row.recorded_at,
        recorded_by=row.recorded_by,
    )


def suspension_out(row: PractitionerSuspension) -> SuspensionOut:
    return SuspensionOut(
        suspension_id=row.suspension_id,
        prac_codg=row.prac_codg,
        fixmedins_code=row.fixmedins_code,
        level=row.level,
        suspended_from=row.suspended_from,
        suspended_until=row.suspended_until,
        points=row.points,
        reinstated_on=row.reinstated_on,
    )


@router.post(
    "/practitioners",
    response_model=PractitionerOut,
    status_code=201,
    summary="Register a practitioner (登记备案) with their institution",
    responses={200: {"model": PractitionerOut, "description": "registered already: the same registration"}},
)
async def register(
    body: PractitionerIn, uow: Uow, principal: InstitutionPrincipal, clock: ClockDep
) -> JSONResponse:
    """Register a doctor, pharmacist, nurse or technician by their national code; no names are kept.

    201 when new, 200 when the same registration is sent again. An institution's HIS/POS key registers only
    its own practitioners (403 SCOPE_FORBIDDEN); ops may move a practitioner to another institution. The type
    must agree with the code's identifier (422 PRACTITIONER_TYPE_MISMATCH); another type or a takeover by
    another institution's key is 409 PRACTITIONER_CONFLICT.
    """
    ensure_scope(principal, body.fixmedins_code)
    row, created = await practitioners.register_practitioner(
        uow=uow,
        prac_codg=body.prac_codg,
        prac_type=body.prac_type,
        fixmedins_code=body.fixmedins_code,
        principal=principal,
        clock=clock,
    )
    return JSONResponse(practitioner_out(row).model_dump(mode="json"), status_code=201 if created else 200)


@router.get(
    "/practitioners",
    response_model=PractitionerPage,
    summary="Practitioners, by institution and status; an institution's client sees only its own",
)
async def list_practitioners(
    uow: Uow,
    principal: InstitutionPrincipal,
    fixmedins_code: Annotated[str | None, Query(max_length=30, description="定点医药机构编号")] = None,
    status: Annotated[PracStatus | None, Query(description="active | suspended | terminated")] = None,
    prac_type: Annotated[
        PracType | None, Query(description="doctor | pharmacist | nurse | technician")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> PractitionerPage:
    """Registered practitioners, by code, filtered by institution, status (正常/暂停/终止) and type.

    A hospital's or pharmacy's key sees only its own institution's practitioners (403 SCOPE_FORBIDDEN for
    another's); staff see all.
    """
    page = await practitioners.list_practitioners(
        uow=uow,
        fixmedins_code=listing_scope(principal, fixmedins_code),
        status=status,
        prac_type=prac_type,
        limit=limit,
        cursor=cursor,
    )
    return PractitionerPage(items=[practitioner_out(r) for r in page.items], next_cursor=page.next_cursor)


@router.get(
    "/practitioners/{prac_codg}",
    response_model=PractitionerDetail,
    summary="One practitioner: points this year, every entry, every suspension",
)
async def get_practitioner(
    prac_codg: PracCodg,
    uow: Uow,
    principal: InstitutionPrincipal,
    clock: ClockDep,
    year: Annotated[int | None, Query(ge=2000, le=2100, description="年度 default this year")] = None,
) -> PractitionerDetail:
    """A practitioner's registration, their points (记分) in the calendar year, and their history.

    Every points entry (with its band, source and date) and every suspension (暂停/终止, its period and
    whether it has ended) newest first. An institution sees only its own practitioners. 404
    PRACTITIONER_NOT_FOUND.
    """
    record = await practitioners.practitioner_record(
        uow=uow, prac_codg=prac_codg, year=year or business_date(clock.now()).year
    )
    ensure_scope(principal, record.practitioner.fixmedins_code)
    return PractitionerDetail(
        **practitioner_out(record.practitioner).model_dump(),
        year=record.year,
        year_points=record.year_points,
        entries=[entry_out(row) for row in record.entries],
        suspensions=[suspension_out(row) for row in record.suspensions],
    )


@router.post(
    "/practitioners/{prac_codg}/points",
    response_model=PointsOut,
    status_code=201,
    summary="记分: points against a practitioner; 9 or 12 in a year suspend or end their qualification",
    responses={
        200: {"model": PointsOut, "description": "the same finding's points again: the first outcome"}
    },
)
async def record_points(
    prac_codg: PracCodg,
    body: PointsIn,
    uow: Uow,
    principal: OpsPrincipal,
    clock: ClockDep,
    scale: PointsScaleDep,
) -> JSONResponse:
    """Record points (记分, 1–12) against a registered practitioner for a violation, with the reason.

    Points add up over the calendar year of `on_date` (default today). When the year's points reach the
    scale's thresholds (defaults from the national rules: 9 → suspended 暂停 for 1 month; 12 → terminated
    终止 for 1 year, 3 years when given at once) a suspension starts on that date and
    fraud.practitioner.suspended is published; settlement then refuses the lines they order or dispense in
    the period. Every entry publishes fraud.practitioner.pointed for the institution. From a finding: it must
    be confirmed and about the practitioner's institution, and gives points once. 404
    PRACTITIONER_NOT_FOUND; 422 for points outside 1–12 or a date after today.
    """
    outcome = await practitioners.record_points(
        uow=uow,
        prac_codg=prac_codg,
        points=body.points,
        reason=body.reason,
        source=body.source,
        source_id=body.source_id,
        on_date=body.on_date or business_date(clock.now()),
        by=principal.client_id,
        clock=clock,
        scale=scale,
    )
    answer = PointsOut(
        entry=entry_out(outcome.entry),
        year_points=outcome.year_points,
        suspension=suspension_out(outcome.suspension) if outcome.suspension else None,
    )
    return JSONResponse(answer.model_dump(mode="json"), status_code=200 if outcome.replayed else 201)


@router.post(
    "/practitioners/reinstatements",
    response_model=ReinstatementsOut,
    summary="End the suspensions whose period is over (恢复医保支付资格); idempotent",
)
async def reinstate(
    body: ReinstatementsIn, uow: Uow, principal: OpsPrincipal, clock: ClockDep
) -> ReinstatementsOut:
    """The reinstatement sweep (ops, or a daily scheduler): every suspension whose last day is before `as_of`
    ends, and fraud.practitioner.reinstated is published for it.

    Running it again ends nothing more. Settlement does not wait for it: it refuses a line only when the fee
    date is within a period. 422 REINSTATEMENT_DATE_IN_FUTURE for a date after today.
    """
    as_of, ended = await practitioners.reinstate_due(uow=uow, as_of=body.as_of, clock=clock)
    return ReinstatementsOut(as_of=as_of, reinstated=[suspension_out(row) for row in ended])
