"""Routes of reconciliation with an institution (对总账/对明细) and of fund KPIs (基金运行): read-only."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query

from common.clock import business_date
from common.deps import PROBLEMS, ClockDep, DatabaseDep
from common.principal import OpsPrincipal
from settlement.api.deps import InstitutionPrincipal, ensure_scope
from settlement.schemas.reports import (
    ActivityOut,
    DetailsReconciliationIn,
    DetailsReconciliationOut,
    FundInsutype,
    FundKpisOut,
    TotalsReconciliationIn,
    TotalsReconciliationOut,
)
from settlement.service import activity, kpis, reconcile
from settlement.uow import SettlementUnitOfWork, Uow

router = APIRouter(responses=PROBLEMS)
RECONCILIATION = "reconciliation 对账"
FUND_KPIS = "fund KPIs 基金运行"


@router.post(
    "/reconciliations/totals",
    response_model=TotalsReconciliationOut,
    tags=[RECONCILIATION],
    summary="Reconcile totals 对总账 (3201): the institution's totals of a period against ours",
    description="Ours are the period's settlements that stand: a reversal cancels its settlement whatever "
    "the dates, and counts nowhere itself. `insutype` narrows them to one scheme; `clr_type` (清算类别 11 门诊 "
    "| 21 住院 | 41 药店购药) to the med_types the default table pays as that benefit (CLR_TYPE_UNKNOWN for "
    "another code). An HIS/POS client may reconcile only its own institution. Stores nothing.",
)
async def reconcile_totals(
    body: TotalsReconciliationIn, db: DatabaseDep, principal: InstitutionPrincipal
) -> TotalsReconciliationOut:
    """Compares the institution's totals of a period with ours, optionally of one insutype and of one
    clearing class (`clr_type`: the med_types whose default benefit is that class's)."""
    ensure_scope(principal, body.fixmedins_code)
    # A POST that only reads: a read-only unit of work, not the request's.
    async with SettlementUnitOfWork(db, readonly=True) as uow:
        return await reconcile.reconcile_totals(uow=uow, data=body)


@router.post(
    "/reconciliations/details",
    response_model=DetailsReconciliationOut,
    tags=[RECONCILIATION],
    summary="Reconcile details 对明细 (3202): settlement by settlement — differing, only ours, only theirs",
    description="Each item names a settlement by setl_id or medins_setl_id (or both); it pairs by setl_id "
    "first. Ours are the period's settlements that stand (reversed ones are not ours any more). At most "
    "10,000 items, and 10,000 of our settlements in the period (TOO_MANY_SETTLEMENTS: shorten it). "
    "Stores nothing.",
)
async def reconcile_details(
    body: DetailsReconciliationIn, db: DatabaseDep, principal: InstitutionPrincipal
) -> DetailsReconciliationOut:
    """Pairs the institution's settlements of a period with ours and answers those that differ, those only
    we have and those only they have."""
    ensure_scope(principal, body.fixmedins_code)
    async with SettlementUnitOfWork(db, readonly=True) as uow:
        return await reconcile.reconcile_details(uow=uow, data=body)


@router.get(
    "/fund-kpis",
    response_model=FundKpisOut,
    tags=[FUND_KPIS],
    summary="Fund KPIs 基金运行 of one fund and month: income, expenditure, balance, months payable, ratio",
)
async def fund_kpis(
    uow: Uow,
    _ops: OpsPrincipal,
    insutype: Annotated[
        FundInsutype,
        Query(description="险种 310 职工统筹 | 330 职工大额 | 390 居民统筹 | 392 居民大病"),
    ],
    month: Annotated[
        str,
        Query(
            pattern=r"^[1-9]\d{3}-(0[1-9]|1[0-2])$",
            description="月份 YYYY-MM, by business date (Asia/Shanghai)",
            examples=["2026-03"],
        ),
    ],
) -> FundKpisOut:
    """One fund's month as the bureau reports it: contributions in, fund pay out (net of reversals), the
    month's surplus, the balance accumulated, months payable from it (balance ÷ the average monthly
    expenditure of the last 12 months), the in-policy reimbursement ratio of inpatient care, and the
    settlement count. Bureau staff only."""
    return await kpis.fund_kpis(uow=uow, insutype=insutype, month=month)


@router.get(
    "/institutions/{fixmedins_code}/activity",
    response_model=ActivityOut,
    tags=["settlement 结算"],
    summary="An institution's day so far: settlements and reversals of a business date (default today)",
)
async def institution_activity(
    fixmedins_code: str,
    uow: Uow,
    principal: InstitutionPrincipal,
    clock: ClockDep,
    date: Annotated[dt.date | None, Query(description="business date (Asia/Shanghai); default today")] = None,
) -> ActivityOut:
    """The institution's settlements and reversals of one business date so far, with their totals, as the
    day close will count them. An institution's HIS/POS sees only its own."""
    ensure_scope(principal, fixmedins_code)
    return await activity.institution_activity(
        uow=uow, fixmedins_code=fixmedins_code, on=date or business_date(clock.now())
    )
