"""Practitioners' payment qualification: registering them, recording points (记分), suspending, reinstating.

Every change publishes its event through the outbox in the same transaction: fraud.practitioner.pointed for
each points entry (the institution is told), .suspended when a year's points cross the scale's thresholds,
.reinstated when the reinstatement sweep ends a period. Settlement keeps the periods and refuses lines by
fee date within them, so it is right whether or not the sweep has run yet.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from common.clock import Clock, business_date
from common.errors import Conflict, NotFound, Unprocessable
from common.events.contracts import Subject
from common.events.envelope import new_event
from common.events.fraud import PractitionerPointed, PractitionerReinstated, PractitionerSuspended
from common.principal import Principal, Role
from common.repository import Page
from fraud.domain.practitioners import (
    ACTIVE,
    MAX_POINTS,
    SOURCES,
    TERMINATED,
    PointsScale,
    status_on,
    suspension_after,
    type_of_code,
)
from fraud.models import Practitioner, PractitionerPoints, PractitionerSuspension
from fraud.uow import FraudUnitOfWork

SOURCE = "fraud"
DEFAULT_SCALE = PointsScale()


def scale_of(settings: Any) -> PointsScale:
    """The scale a fraud Settings configures (FRAUD_PRACTITIONER_*)."""
    return PointsScale(
        suspend_at=settings.practitioner_suspend_at,
        suspend_months=settings.practitioner_suspend_months,
        terminate_at=settings.practitioner_terminate_at,
        terminate_months=settings.practitioner_terminate_months,
        terminate_at_once_months=settings.practitioner_terminate_at_once_months,
    )


@dataclass(frozen=True, slots=True)
class PointsOutcome:
    """A points entry as recorded: the year's points after it and the suspension it began, if any."""

    entry: PractitionerPoints
    year_points: int
    suspension: PractitionerSuspension | None
    replayed: bool = False  # the same finding or case gave these points before: nothing new was written


@dataclass(frozen=True, slots=True)
class PractitionerRecord:
    practitioner: Practitioner
    year: int
    year_points: int
    entries: list[PractitionerPoints]
    suspensions: list[PractitionerSuspension]


# --- the registry ----------------------------------------------------------------------------------------


async def register_practitioner(
    *,
    uow: FraudUnitOfWork,
    prac_codg: str,
    prac_type: str,
    fixmedins_code: str,
    principal: Principal,
    clock: Clock,
) -> tuple[Practitioner, bool]:
    """登记备案: a new practitioner (True), or the same registration again (False).

    Ops may move a practitioner to another institution (变更执业机构); an institution's key may not take
    over another's practitioner (409 PRACTITIONER_CONFLICT), and nobody changes a practitioner's type.
    """
    kinds = type_of_code(prac_codg)
    if kinds is None:
        raise Unprocessable(f"{prac_codg!r} is not a practitioner code.", code="PRACTITIONER_CODE_INVALID")
    if prac_type not in kinds:
        raise Unprocessable(
            f"The code {prac_codg} is a {' or '.join(kinds)} code, not a {prac_type}'s.",
            code="PRACTITIONER_TYPE_MISMATCH",
        )
    now = clock.now()
    row = await uow.practitioners.get(prac_codg, for_update=True)
    if row is None:
        row = Practitioner(
            prac_codg=prac_codg,
            prac_type=prac_type,
            fixmedins_code=fixmedins_code,
            status=ACTIVE,
            registered_at=now,
            registered_by=principal.client_id,
            updated_at=now,
        )
        uow.practitioners.add(row)
        await uow.practitioners.flush()
        return row, True
    if row.prac_type != prac_type:
        raise Conflict(
            f"Practitioner {prac_codg} is registered as a {row.prac_type}.", code="PRACTITIONER_CONFLICT"
        )
    if row.fixmedins_code == fixmedins_code:
        return row, False
    if principal.role is not Role.OPS:
        raise Conflict(
            f"Practitioner {prac_codg} is registered with another institution; the bureau moves them.",
            code="PRACTITIONER_CONFLICT",
        )
    if row.status == TERMINATED:
        raise Conflict(
            f"Practitioner {prac_codg}'s payment qualification is terminated (终止): they cannot register again "
            "before the period ends.",
            code="PRACTITIONER_TERMINATED",
        )
    row.fixmedins_code, row.updated_at = fixmedins_code, now
    await uow.practitioners.flush()
    return row, False


async def get_practitioner(*, uow: FraudUnitOfWork, prac_codg: str, for_update: bool = False) -> Practitioner:
    """One registered practitioner; 404 PRACTITIONER_NOT_FOUND."""
    row = await uow.practitioners.get(prac_codg, for_update=for_update)
    if row is None:
        raise NotFound(f"No practitioner {prac_codg} is registered.", code="PRACTITIONER_NOT_FOUND")
    return row


async def practitioner_record(*, uow: FraudUnitOfWork, prac_codg: str, year: int) -> PractitionerRecord:
    """A practitioner with the year's points, every entry and every suspension."""
    row = await get_practitioner(uow=uow, prac_codg=prac_codg)
    return PractitionerRecord(
        practitioner=row,
        year=year,
        year_points=await uow.practitioners.year_points(prac_codg, year),
        entries=list(await uow.practitioners.entries(prac_codg)),
        suspensions=list(await uow.practitioners.suspensions(prac_codg)),
    )


async def list_practitioners(
    *,
    uow: FraudUnitOfWork,
    fixmedins_code: str | None,
    status: str | None,
    prac_type: str | None,
    limit: int,
    cursor: str | None,
) -> Page[Practitioner]:
    return await uow.practitioners.page(
        fixmedins_code=fixmedins_code, status=status, prac_type=prac_type, limit=limit, cursor=cursor
    )


# --- 记分 ---------------------------------------------------------------------------------------------------


async def record_points(
    *,
    uow: FraudUnitOfWork,
    prac_codg: str,
    points: int,
    reason: str,
    source: str,
    source_id: str | None,
    on_date: date,
    by: str,
    clock: Clock,
    scale: PointsScale | None = None,
) -> PointsOutcome:
    """记分: an entry against a registered practitioner, counted in the calendar year of `on_date`.

    When the year's points cross the scale's thresholds (default 9: suspended; 12: terminated) a suspension
    starts on `on_date`. Publishes fraud.practitioner.pointed, and .suspended when one starts. A finding or
    case gives a practitioner points once: the same again answers the first outcome (replayed), other points
    are 409 POINTS_ALREADY_RECORDED. 404 PRACTITIONER_NOT_FOUND; 422 for points outside 1–12, an unknown
    source, or a date after today.
    """
    scale = scale or DEFAULT_SCALE
    if not 1 <= points <= MAX_POINTS:
        raise Unprocessable(f"points must be 1–{MAX_POINTS}, not {points}.", code="POINTS_OUT_OF_RANGE")
    if source not in SOURCES:
        raise Unprocessable(f"source must be one of {', '.join(SOURCES)}.", code="POINTS_SOURCE_UNKNOWN")
    if source != "manual" and not source_id:
        raise Unprocessable(
            f"Points from a {source} name its id (source_id).", code="POINTS_SOURCE_ID_MISSING"
        )
    today = business_date(clock.now())
    if on_date > today:
        raise Unprocessable(
            f"on_date {on_date} is after today ({today}): points count from a day that has come.",
            code="POINTS_DATE_IN_FUTURE",
        )
    # Locked: two entries for one practitioner count the year one after the other.
    practitioner = await get_practitioner(uow=uow, prac_codg=prac_codg, for_update=True)
    if source_id is not None:
        before = await uow.practitioners.entry_of_source(prac_codg, source, source_id)
        if before is not None:
            if before.points != points:
                raise Conflict(
                    f"The {source} {source_id} already gave {prac_codg} {before.points} points.",
                    code="POINTS_ALREADY_RECORDED",
                    entry_id=before.entry_id,
                )
            return PointsOutcome(
                entry=before,
                year_points=await uow.practitioners.year_points(prac_codg, before.year),
                suspension=await uow.practitioners.suspension_of_entry(before.entry_id),
                replayed=True,
            )
    if source == "finding":
        await _ensure_confirmed_finding(uow, source_id or "", practitioner)
    year_before = await uow.practitioners.year_points(prac_codg, on_date.year)
    now = clock.now()
    entry = PractitionerPoints(
        prac_codg=prac_codg,
        year=on_date.year,
        points=points,
        reason=reason[:500],
        source=source,
        source_id=source_id,
        on_date=on_date,
        recorded_at=now,
        recorded_by=by,
    )
    await uow.practitioners.add_entry(entry)
    year_points = year_before + points
    await _publish(
        uow,
        Subject.PRACTITIONER_POINTED,
        prac_codg,
        PractitionerPointed(
            entry_id=str(entry.entry_id),
            prac_codg=prac_codg,
            prac_type=practitioner.prac_type,
            fixmedins_code=practitioner.fixmedins_code,
            points=points,
            year=entry.year,
            year_points=year_points,
            reason=entry.reason,
            source=source,
            source_id=source_id,
            on_date=on_date,
            recorded_at=now,
            recorded_by=by,
        ),
        clock,
    )
    start = suspension_after(year_points_before=year_before, points=points, on_date=on_date, scale=scale)
    suspension = None
    if start is not None:
        suspension = PractitionerSuspension(
            prac_codg=prac_codg,
            fixmedins_code=practitioner.fixmedins_code,
            level=start.level,
            suspended_from=start.suspended_from,
            suspended_until=start.suspended_until,
            points=start.year_points,
            entry_id=entry.entry_id,
            created_at=now,
        )
        await uow.practitioners.add_suspension(suspension)
        await _publish(
            uow,
            Subject.PRACTITIONER_SUSPENDED,
            prac_codg,
            PractitionerSuspended(
                suspension_id=str(suspension.suspension_id),
                prac_codg=prac_codg,
                prac_type=practitioner.prac_type,
                fixmedins_code=practitioner.fixmedins_code,
                points=start.year_points,
                level=start.level,
                suspended_from=start.suspended_from,
                suspended_until=start.suspended_until,
            ),
            clock,
        )
        await _restate(uow, [practitioner], today=today, now=now)
    return PointsOutcome(entry=entry, year_points=year_points, suspension=suspension)


async def _ensure_confirmed_finding(uow: FraudUnitOfWork, source_id: str, practitioner: Practitioner) -> None:
    """Points from a finding: it exists, was confirmed, and is about the practitioner's institution."""
    finding = await uow.findings.get(int(source_id)) if source_id.isdigit() and len(source_id) < 19 else None
    if finding is None:
        raise NotFound(f"No finding {source_id}.", code="FINDING_NOT_FOUND")
    if finding.status != "confirmed":
        raise Conflict(
            f"Finding {source_id} is {finding.status}: only a confirmed finding gives points.",
            code="FINDING_NOT_CONFIRMED",
        )
    if finding.fixmedins_code != practitioner.fixmedins_code:
        raise Unprocessable(
            f"Finding {source_id} is about another institution than practitioner {practitioner.prac_codg}'s.",
            code="FINDING_OF_ANOTHER_INSTITUTION",
        )


# --- the reinstatement sweep ---------------------------------------------------------------------------


async def reinstate_due(
    *, uow: FraudUnitOfWork, as_of: date | None, clock: Clock
) -> tuple[date, list[PractitionerSuspension]]:
    """End every suspension whose last day is before `as_of` (default today): fraud.practitioner.reinstated.

    Idempotent: an ended suspension is never ended again, so a second run ends nothing. 422
    REINSTATEMENT_DATE_IN_FUTURE for a date after today.
    """
    today = business_date(clock.now())
    as_of = as_of or today
    if as_of > today:
        raise Unprocessable(f"as_of {as_of} is after today ({today}).", code="REINSTATEMENT_DATE_IN_FUTURE")
    now = clock.now()
    over = list(await uow.practitioners.over_before(as_of))
    for suspension in over:
        suspension.reinstated_on = suspension.suspended_until + timedelta(days=1)
        suspension.reinstated_at = now
    await uow.practitioners.flush()
    for suspension in over:
        await _publish(
            uow,
            Subject.PRACTITIONER_REINSTATED,
            suspension.prac_codg,
            PractitionerReinstated(
                suspension_id=str(suspension.suspension_id),
                prac_codg=suspension.prac_codg,
                fixmedins_code=suspension.fixmedins_code,
                level=suspension.level,
                suspended_from=suspension.suspended_from,
                suspended_until=suspension.suspended_until,
                reinstated_on=suspension.suspended_until + timedelta(days=1),
            ),
            clock,
        )
    codes = sorted({suspension.prac_codg for suspension in over})
    practitioners = [await get_practitioner(uow=uow, prac_codg=code, for_update=True) for code in codes]
    await _restate(uow, practitioners, today=today, now=now)
    return as_of, over


async def _restate(uow: FraudUnitOfWork, practitioners: list[Practitioner], *, today: date, now: Any) -> None:
    """Each practitioner's status as their periods not yet ended make it today."""
    running = await uow.practitioners.running([p.prac_codg for p in practitioners])
    for practitioner in practitioners:
        periods = [
            (s.level, s.suspended_from, s.suspended_until)
            for s in running
            if s.prac_codg == practitioner.prac_codg
        ]
        status = status_on(periods, today)
        if status != practitioner.status:
            practitioner.status, practitioner.updated_at = status, now
    await uow.practitioners.flush()


async def _publish(uow: FraudUnitOfWork, subject: str, prac_codg: str, data: Any, clock: Clock) -> None:
    await uow.publish(
        new_event(
            type=subject, source=SOURCE, subject=prac_codg, data=data.model_dump(mode="json"), clock=clock
        )
    )
