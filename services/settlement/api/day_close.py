"""Routes of day close (日结算), daily statements and disbursements (拨付)."""

from __future__ import annotations

from datetime import UTC, date
from typing import Annotated

from fastapi import APIRouter, Body, Query
from fastapi.responses import JSONResponse

from common.deps import PROBLEMS, ClockDep
from common.money import fen_to_yuan
from common.params import PathId
from common.principal import OpsPrincipal, Role
from settlement.api.deps import InstitutionPrincipal, ensure_scope
from settlement.models import DailyStatement, DayClose, Disbursement
from settlement.schemas.day_close import DailyStatementOut, DayCloseIn, DayCloseOut, DisbursementOut, PaidIn
from settlement.service import day_close
from settlement.uow import Uow

router = APIRouter(tags=["day close 日结算"], responses=PROBLEMS)


def _statement(row: DailyStatement) -> DailyStatementOut:
    return DailyStatementOut.model_validate(day_close.statement_json(row))


def _close_out(closed: DayClose, statements: list[DailyStatement]) -> DayCloseOut:
    return DayCloseOut(
        business_date=closed.business_date,
        settlement_count=closed.settlement_count,
        reversal_count=closed.reversal_count,
        institution_count=closed.institution_count,
        closed_at=closed.closed_at.astimezone(UTC),
        closed_by=closed.closed_by,
        statements=[_statement(row) for row in statements],
    )


def _disbursement(row: Disbursement) -> DisbursementOut:
    return DisbursementOut(
        disbursement_id=row.disbursement_id,
        business_date=row.business_date,
        fixmedins_code=row.fixmedins_code,
        amount=fen_to_yuan(row.amount_fen),
        due_date=row.due_date,
        status=row.status,
        paid_at=row.paid_at,
        payment_ref=row.payment_ref,
    )


@router.post(
    "/day-closes",
    status_code=201,
    response_model=DayCloseOut,
    summary="Close a business day 日结算: statements per institution, disbursements due the next day",
    responses={200: {"description": "The day was already closed: the same statements", "model": DayCloseOut}},
)
async def close_day(body: DayCloseIn, principal: OpsPrincipal, uow: Uow, clock: ClockDep) -> JSONResponse:
    """Close a business day (日结算): per institution a statement and a disbursement order due the next day.

    Each statement totals the day's settlements and reversals; the disbursement order (拨付单) is what the
    bureau owes the institution for it. A settlement made after its day was closed falls into the next
    open day, so nothing is lost or counted twice. The day must be over (DAY_NOT_OVER) and days close in
    order (409 PREVIOUS_DAY_OPEN); closing a closed day answers 200 with what was closed then. A scheduler also
    closes each day after 00:30 (Asia/Shanghai) when enabled. Publishes settlement.day.closed.
    """
    outcome = await day_close.close_day(uow=uow, day=body.date, closed_by=principal.client_id, clock=clock)
    answer = _close_out(outcome.day_close, outcome.statements)
    return JSONResponse(answer.model_dump(mode="json"), status_code=201 if outcome.created else 200)


@router.get(
    "/day-closes/{business_date}", response_model=DayCloseOut, summary="A closed day with its statements"
)
async def get_day_close(business_date: date, uow: Uow, principal: OpsPrincipal) -> DayCloseOut:
    """A closed day: when and by whom it was closed, with every institution's statement.

    404 DAY_NOT_CLOSED.
    """
    closed = await day_close.get_day_close(uow=uow, day=business_date)
    return _close_out(closed.day_close, closed.statements)


@router.get(
    "/daily-statements",
    response_model=list[DailyStatementOut],
    summary="Daily statements 日结算单, newest first; an institution sees only its own",
)
async def daily_statements(
    uow: Uow,
    principal: InstitutionPrincipal,
    date: Annotated[date | None, Query(description="business date")] = None,
    fixmedins_code: Annotated[str | None, Query(max_length=30)] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> list[DailyStatementOut]:
    """Daily statements (日结算单), newest first: per institution and day, the counts and amounts settled.

    A hospital or pharmacy sees only its own; staff filter by date and institution.
    """
    if principal.role is not Role.OPS:
        fixmedins_code = fixmedins_code or principal.scope
    if fixmedins_code is not None:
        ensure_scope(principal, fixmedins_code)
    rows = await day_close.daily_statements(uow=uow, day=date, fixmedins_code=fixmedins_code, limit=limit)
    return [_statement(row) for row in rows]


@router.get("/disbursements", response_model=list[DisbursementOut], summary="Disbursement orders 拨付单")
async def disbursements(
    uow: Uow,
    principal: InstitutionPrincipal,
    date: Annotated[date | None, Query(description="business date")] = None,
    fixmedins_code: Annotated[str | None, Query(max_length=30)] = None,
    status: Annotated[str | None, Query(pattern="^(pending|paid)$")] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> list[DisbursementOut]:
    """Disbursement orders (拨付单): what the bureau owes each institution for a closed day.

    Each is pending until the treasury pays it. Filter by date, institution and status (pending, paid); an
    institution sees only its own.
    """
    if principal.role is not Role.OPS:
        fixmedins_code = fixmedins_code or principal.scope
    if fixmedins_code is not None:
        ensure_scope(principal, fixmedins_code)
    rows = await day_close.list_disbursements(
        uow=uow, day=date, fixmedins_code=fixmedins_code, status=status, limit=limit
    )
    return [_disbursement(row) for row in rows]


@router.post(
    "/disbursements/{disbursement_id}/paid",
    response_model=DisbursementOut,
    summary="Mark a disbursement paid (pending → paid), with its journal",
)
async def mark_paid(
    disbursement_id: PathId,
    uow: Uow,
    principal: OpsPrincipal,
    clock: ClockDep,
    body: Annotated[PaidIn | None, Body(examples=[{"payment_ref": "BANK-20260302-0001"}])] = None,
) -> DisbursementOut:
    """Record that the treasury paid a disbursement (pending → paid), with the bank's reference if given.

    Posts the journal that moves the money from the fund's bank account to the institution. The body is
    optional. 409 ALREADY_PAID; 404 DISBURSEMENT_NOT_FOUND.
    """
    row = await day_close.mark_paid(
        uow=uow,
        disbursement_id=disbursement_id,
        paid_by=principal.client_id,
        payment_ref=body.payment_ref if body else None,
        clock=clock,
    )
    return _disbursement(row)
