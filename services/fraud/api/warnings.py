"""Routes of the institution-level rules' monthly run and the monthly warnings (每月推送预警)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from common.principal import OpsPrincipal
from fraud.api.deps import PROBLEMS, ClockDep, InstitutionPrincipal, listing_scope
from fraud.models import InstitutionWarning
from fraud.schemas.institutions import (
    MONTH_PATTERN,
    MonthIn,
    PublishOut,
    RunOut,
    WarningOut,
    WarningPage,
)
from fraud.service import institution_rules, warnings
from fraud.uow import Uow

router = APIRouter(tags=["institutions 机构监管"], responses=PROBLEMS)
WarningId = Annotated[int, Path(ge=1, le=2**62, description="预警ID")]


def warning_out(row: InstitutionWarning) -> WarningOut:
    return WarningOut.model_validate(
        {
            "warning_id": row.warning_id,
            "fixmedins_code": row.fixmedins_code,
            "month": row.month,
            "version": row.version,
            **row.content,
            "published_at": row.published_at,
            "published_by": row.published_by,
        }
    )


@router.post(
    "/institution-rules/run",
    response_model=RunOut,
    summary="Run the institution-level rules over a month: findings per institution (诱导住院, 指标异常, 高套)",
)
async def run_institution_rules(body: MonthIn, uow: Uow, principal: OpsPrincipal, clock: ClockDep) -> RunOut:
    """Every enabled institution-level rule (induced_admission, institution_outlier, upcoding) over every
    institution's month: its standing settlements of the month's settlement dates, against its peers of the
    same hosp_lv.

    Each hit is a finding with no settlement and no person (`setl_id` null), keyed by rule, institution and
    month (and metric for institution_outlier): running a month again raises nothing twice. The month must
    be over (409 MONTH_NOT_OVER). To try a rule without raising anything, backtest it
    (`POST /rules/{id}/backtest`).
    """
    return await institution_rules.run_month(uow=uow, month=body.month, clock=clock)


@router.post(
    "/warnings/publish",
    response_model=PublishOut,
    summary="Publish the monthly warnings 每月推送预警: per institution, stored and sent",
)
async def publish_warnings(body: MonthIn, uow: Uow, principal: OpsPrincipal, clock: ClockDep) -> PublishOut:
    """Build each institution's warning of a finished month and send it (`fraud.warning.published`).

    A warning holds the institution's open fraud findings as of publication (count, amount concerned, by
    family; the assistance category is not the institution's doing and is left out), its deviations (cost
    per inpatient case, admissions per insured person, drug share against the mean of its peers of the same
    hosp_lv, flagged when above the institution_outlier rule's multiple) and its traceability-code scan
    rate (追溯码扫码率) of the month. Every institution with settlements, open findings or drug lines counted
    for the month gets one.

    Idempotent: publishing the month again sends nothing for an institution whose warning would say the
    same; one whose figures changed gets the next version (the earlier stays readable by its id). 409
    MONTH_NOT_OVER before the month has ended.
    """
    return await warnings.publish_month(uow=uow, month=body.month, by=principal.client_id, clock=clock)


@router.get(
    "/warnings",
    response_model=WarningPage,
    summary="Monthly warnings 预警, newest first; an institution sees only its own",
)
async def list_warnings(
    uow: Uow,
    principal: InstitutionPrincipal,
    month: Annotated[str | None, Query(pattern=MONTH_PATTERN, description="月份 YYYY-MM")] = None,
    fixmedins_code: Annotated[str | None, Query(max_length=30, description="定点医药机构编码")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> WarningPage:
    """The latest version of each institution's monthly warning, newest first, of a month or an institution.

    A hospital's or pharmacy's client sees only its own (403 SCOPE_FORBIDDEN for another's code); staff see
    all.
    """
    page = await warnings.list_warnings(
        uow=uow,
        month=month,
        fixmedins_code=listing_scope(principal, fixmedins_code),
        limit=limit,
        cursor=cursor,
    )
    return WarningPage(items=[warning_out(row) for row in page.items], next_cursor=page.next_cursor)


@router.get("/warnings/{warning_id}", response_model=WarningOut, summary="One monthly warning")
async def get_warning(warning_id: WarningId, uow: Uow, principal: InstitutionPrincipal) -> WarningOut:
    """One monthly warning, any version: open findings, deviations and scan rate as published.

    404 WARNING_NOT_FOUND; 403 SCOPE_FORBIDDEN for another institution's.
    """
    return warning_out(await warnings.get_warning(uow=uow, warning_id=warning_id, principal=principal))
