"""Routes of month reconciliation (月核算), prepayments (预付) and deductions (扣款)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Path, Query
from fastapi.responses import JSONResponse

from common.deps import PROBLEMS, ClockDep
from common.money import fen_to_yuan
from common.principal import OpsPrincipal, Principal, Role
from settlement.api.deps import InstitutionPrincipal, ensure_scope
from settlement.models import Deduction, Prepayment
from settlement.schemas.monthly import (
    MONTH_PATTERN,
    DeductionOut,
    DeductionPage,
    MonthIn,
    MonthlyReconciliationOut,
    MonthlyStatementOut,
    PrepaymentIn,
    PrepaymentOut,
    PrepaymentPage,
)
from settlement.service import monthly
from settlement.uow import Uow

router = APIRouter(tags=["month reconciliation 月核算"], responses=PROBLEMS)

MonthPath = Annotated[str, Path(pattern=MONTH_PATTERN, description="核算月份 YYYY-MM", examples=["2026-03"])]
CodeQuery = Annotated[str | None, Query(max_length=30, description="定点医药机构编码")]
Limit = Annotated[int, Query(ge=1, le=500)]
Cursor = Annotated[str | None, Query(max_length=200)]


def _scoped(principal: Principal, fixmedins_code: str | None) -> str | None:
    """The institution a list is for: an institution's client sees only its own."""
    if principal.role is not Role.OPS:
        fixmedins_code = fixmedins_code or principal.scope
    if fixmedins_code is not None:
        ensure_scope(principal, fixmedins_code)
    return fixmedins_code


def _prepayment(row: Prepayment) -> PrepaymentOut:
    return PrepaymentOut(
        prepayment_id=row.prepayment_id,
        fixmedins_code=row.fixmedins_code,
        amount=fen_to_yuan(row.amount_fen),
        paid_date=row.paid_date,
        note=row.note,
        created_by=row.created_by,
        created_at=row.created_at,
        recovered_month=row.recovered_month,
    )


def _deduction(row: Deduction) -> DeductionOut:
    return DeductionOut(
        finding_id=row.finding_id,
        fixmedins_code=row.fixmedins_code,
        setl_id=row.setl_id,
        psn_no=row.psn_no,
        family=row.family,
        source=row.source,
        amount=fen_to_yuan(row.amount_fen),
        kind=row.kind,
        case_id=row.case_id,
        confirmed_at=row.confirmed_at,
        note=row.note,
        month_applied=row.month_applied,
        received_at=row.received_at,
    )


# --- prepayments and deductions ------------------------------------------------------------------------


@router.post(
    "/prepayments",
    status_code=201,
    response_model=PrepaymentOut,
    summary="Record a prepayment 预付 to an institution, recovered by the next confirmed month",
    description="Send an `Idempotency-Key` to make a retry safe: the same key with the same body answers "
    "the original prepayment (200, `Idempotent-Replay: true`); the same key with another body is 409 "
    "`IDEMPOTENCY_KEY_CONFLICT`. Without a key every call records a new prepayment.",
    responses={200: {"model": PrepaymentOut, "description": "A retry: the prepayment recorded first"}},
)
async def record_prepayment(
    body: PrepaymentIn,
    uow: Uow,
    principal: OpsPrincipal,
    clock: ClockDep,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            min_length=1,
            max_length=64,
            pattern=r"^[A-Za-z0-9._:-]+$",
            description="the caller's unique key for this prepayment (letters, digits, . _ : -)",
        ),
    ] = None,
) -> JSONResponse:
    recorded = await monthly.record_prepayment(
        uow=uow, data=body, created_by=principal.client_id, clock=clock, idempotency_key=idempotency_key
    )
    return JSONResponse(
        _prepayment(recorded.row).model_dump(mode="json"),
        status_code=201 if recorded.created else 200,
        headers={} if recorded.created else {"Idempotent-Replay": "true"},
    )


@router.get("/prepayments", response_model=PrepaymentPage, summary="Prepayments 预付, newest first")
async def list_prepayments(
    uow: Uow,
    principal: InstitutionPrincipal,
    fixmedins_code: CodeQuery = None,
    outstanding: Annotated[
        bool | None, Query(description="true: not yet recovered; false: recovered; absent: all")
    ] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> PrepaymentPage:
    """Prepayments (预付) advanced to institutions, newest first.

    Filter by institution and by whether a confirmed month has recovered them yet. An institution sees only
    its own.
    """
    page = await monthly.list_prepayments(
        uow=uow,
        fixmedins_code=_scoped(principal, fixmedins_code),
        outstanding=outstanding,
        limit=limit,
        cursor=cursor or None,
    )
    return PrepaymentPage(items=[_prepayment(row) for row in page.items], next_cursor=page.next_cursor)


@router.get(
    "/deductions",
    response_model=DeductionPage,
    summary="Deductions 扣款 from confirmed fraud findings, newest first",
)
async def list_deductions(
    uow: Uow,
    principal: InstitutionPrincipal,
    fixmedins_code: CodeQuery = None,
    outstanding: Annotated[
        bool | None, Query(description="true: not yet applied; false: applied; absent: all")
    ] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> DeductionPage:
    """Deductions (扣款): the amounts to recover from confirmed fraud findings, newest first.

    Filter by institution and by whether a confirmed month has applied them yet. An institution sees only
    its own.
    """
    page = await monthly.list_deductions(
        uow=uow,
        fixmedins_code=_scoped(principal, fixmedins_code),
        outstanding=outstanding,
        limit=limit,
        cursor=cursor or None,
    )
    return DeductionPage(items=[_deduction(row) for row in page.items], next_cursor=page.next_cursor)


# --- month reconciliation ------------------------------------------------------------------------------


def _answer(outcome: monthly.MonthOutcome, *, created_status: int = 200) -> JSONResponse:
    return JSONResponse(
        outcome.reconciliation.model_dump(mode="json"),
        status_code=created_status if outcome.created else 200,
    )


@router.post(
    "/monthly-reconciliations",
    status_code=201,
    response_model=MonthlyReconciliationOut,
    summary="Compute a month 月核算 (or recompute its draft): daily statements against settlements, "
    "minus deductions and prepayments",
    responses={200: {"description": "The draft recomputed", "model": MonthlyReconciliationOut}},
)
async def compute_month(body: MonthIn, principal: OpsPrincipal, uow: Uow, clock: ClockDep) -> JSONResponse:
    """Reconcile a month (月核算) per institution, or recompute its draft.

    Each institution's daily statements are summed against the same totals recomputed from the settlements
    and reversals they claimed; a day where the two differ is listed as a mismatch with its settlements and
    blocks confirmation. Deductions and outstanding prepayments are taken off; a negative net means the
    institution owes the bureau. Every day of the month must be closed (422), and months go in order: every
    earlier month locked or without statements, no later month begun (409). 201 for a new draft, 200 for a
    recomputed one.
    """
    outcome = await monthly.compute_month(
        uow=uow, month=body.month, computed_by=principal.client_id, clock=clock
    )
    return _answer(outcome, created_status=201)


@router.post(
    "/monthly-reconciliations/{month}/confirm",
    response_model=MonthlyReconciliationOut,
    summary="Confirm a balanced draft (draft → confirmed): takes its deductions and prepayments, "
    "publishes settlement.month.reconciled",
)
async def confirm_month(month: MonthPath, principal: OpsPrincipal, uow: Uow, clock: ClockDep) -> JSONResponse:
    """Confirm a month's draft once it has no mismatch (draft → confirmed).

    Marks its deductions and prepayments as taken by this month and publishes settlement.month.reconciled.
    409 when the closed days no longer add up to the draft (recompute it first) or a deduction or prepayment
    was taken by another month meanwhile. Anything arriving later is left for the next month.
    """
    return _answer(
        await monthly.confirm_month(uow=uow, month=month, confirmed_by=principal.client_id, clock=clock)
    )


@router.post(
    "/monthly-reconciliations/{month}/lock",
    response_model=MonthlyReconciliationOut,
    summary="Lock a confirmed month (confirmed → locked): it never changes again",
)
async def lock_month(month: MonthPath, principal: OpsPrincipal, uow: Uow, clock: ClockDep) -> JSONResponse:
    """Lock a confirmed month (confirmed → locked): it never changes again.

    The next month may then be computed. Locking a locked month answers it unchanged.
    """
    return _answer(await monthly.lock_month(uow=uow, month=month, locked_by=principal.client_id, clock=clock))


@router.get(
    "/monthly-reconciliations/{month}",
    response_model=MonthlyReconciliationOut,
    summary="A month's reconciliation; an institution's client sees only its own statement",
)
async def get_month(month: MonthPath, uow: Uow, principal: InstitutionPrincipal) -> MonthlyReconciliationOut:
    """A month's reconciliation: its status and every institution's statement.

    Each statement with both sides, the mismatched days and the net adjustment. An institution's client
    sees only its own statement.
    """
    only = None if principal.role is Role.OPS else (principal.scope or "")
    return await monthly.get_month(uow=uow, month=month, only_fixmedins_code=only)


@router.get(
    "/monthly-reconciliations/{month}/statements/{fixmedins_code}",
    response_model=MonthlyStatementOut,
    summary="One institution's monthly statement 月结算单",
)
async def get_statement(
    month: MonthPath,
    fixmedins_code: Annotated[str, Path(max_length=30)],
    uow: Uow,
    principal: InstitutionPrincipal,
) -> MonthlyStatementOut:
    """One institution's monthly statement (月结算单).

    Its daily statements against its settlements, the mismatched days, the deductions and prepayments
    taken and the net adjustment. An institution may read only its own.
    """
    ensure_scope(principal, fixmedins_code)
    return await monthly.get_statement(uow=uow, month=month, fixmedins_code=fixmedins_code)
