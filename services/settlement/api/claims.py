"""Routes of visits, fee details, pre-settlement, settlement, reversal and the settlement record."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Query, Request, Response
from fastapi.responses import JSONResponse

from common.deps import PROBLEMS, ClockDep, DatabaseDep
from settlement.api.deps import InstitutionPrincipal
from settlement.schemas.claims import (
    DischargeIn,
    FeeDetailsIn,
    FeeDetailsOut,
    FeeWithdrawalIn,
    FeeWithdrawalOut,
    OneCallSettlementIn,
    PreSettleIn,
    PreSettlementOut,
    ReversalIn,
    ReversalOut,
    SettlementOut,
    SettlementPage,
    SettlementRecord,
    SettleVisitIn,
    VisitAmendmentIn,
    VisitCancellationIn,
    VisitIn,
    VisitOut,
    VisitPage,
)
from settlement.service import reversal, settle, settlements, visits
from settlement.service.reference import PolicyBook
from settlement.service.review import Reviewer
from settlement.uow import Uow

router = APIRouter(tags=["settlement 结算"], responses=PROBLEMS)


async def _policy_book(request: Request) -> PolicyBook:
    book: PolicyBook = request.app.state.policy_book
    return book


PolicyBookDep = Annotated[PolicyBook, Depends(_policy_book)]


async def _settle_deps(
    request: Request, db: DatabaseDep, clock: ClockDep, book: PolicyBookDep
) -> settle.SettleDeps:
    settings = request.app.state.settings
    reviewer = Reviewer(
        request.app.state.nats, timeout_s=settings.review_timeout_ms / 1000, enabled=settings.review_enabled
    )
    return settle.SettleDeps(db=db, clock=clock, policy_book=book, reviewer=reviewer)


SettleDepsDep = Annotated[settle.SettleDeps, Depends(_settle_deps)]


def _settled(result: settle.SettleResult) -> JSONResponse:
    """201 for a new settlement; 200 with the very same body for a retry of it."""
    return JSONResponse(
        result.body,
        status_code=201 if result.created else 200,
        headers={} if result.created else {"Idempotent-Replay": "true"},
    )


# --- visits ----------------------------------------------------------------------------------------------


@router.post(
    "/visits",
    status_code=201,
    response_model=VisitOut,
    summary="Register a visit or admission 就诊登记 (2201/2401)",
)
async def register_visit(
    body: VisitIn, uow: Uow, principal: InstitutionPrincipal, clock: ClockDep, book: PolicyBookDep
) -> VisitOut:
    """Opens a visit (an outpatient visit, an admission, a pharmacy purchase) for lines to be uploaded to.

    The institution must be active and give this kind of care (a pharmacy only med_types the policy pays as
    pharmacy purchases, 41 by default; a hospital every other), and the person covered under `insutype` on the
    day the care began (a waiting period is allowed: the settlement then goes through as self-pay).
    `med_type` is any national code (MED_TYPE_UNKNOWN otherwise) that the policy in force maps to a benefit
    (MED_TYPE_NOT_COVERED otherwise). Nothing is written on a refusal.
    """
    return await visits.register_visit(uow=uow, data=body, principal=principal, clock=clock, policy_book=book)


@router.get(
    "/visits",
    response_model=VisitPage,
    summary="A person's visits 就诊信息查询 (5201), newest first",
)
async def list_visits(
    uow: Uow,
    principal: InstitutionPrincipal,
    psn_no: Annotated[str, Query(min_length=1, max_length=20, description="人员编号 the person")],
    fixmedins_code: Annotated[
        str | None, Query(max_length=30, description="定点医药机构编号 only this institution's")
    ] = None,
    begndate: Annotated[
        dt.date | None, Query(description="开始日期 visits begun on or after this day (Asia/Shanghai)")
    ] = None,
    enddate: Annotated[
        dt.date | None, Query(description="结束日期 visits begun on or before this day (Asia/Shanghai)")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> VisitPage:
    """The person's visits by begntime, newest first, each with its standing fee lines, paginated with
    `limit` and `cursor` as GET /settlements. An institution's HIS/POS sees only its own institution's."""
    return await visits.list_visits(
        uow=uow,
        principal=principal,
        psn_no=psn_no,
        fixmedins_code=fixmedins_code,
        begndate=begndate,
        enddate=enddate,
        limit=limit,
        cursor=cursor,
    )


@router.get("/visits/{mdtrt_id}", response_model=VisitOut, summary="A visit with its fee details 就诊信息")
async def get_visit(mdtrt_id: str, uow: Uow, principal: InstitutionPrincipal) -> VisitOut:
    """The visit as it stands (open, settled or cancelled) with the lines uploaded and not withdrawn."""
    return await visits.get_visit(uow=uow, mdtrt_id=mdtrt_id, principal=principal)


@router.patch(
    "/visits/{mdtrt_id}",
    response_model=VisitOut,
    summary="Amend an open visit's diagnosis or med_type 就诊信息上传 (2203)",
)
async def amend_visit(
    mdtrt_id: str,
    body: VisitAmendmentIn,
    uow: Uow,
    principal: InstitutionPrincipal,
    clock: ClockDep,
    book: PolicyBookDep,
) -> VisitOut:
    """Replaces the diagnosis (a new `dise_codg` takes the `dise_name` sent with it, or none) and/or the
    med_type, while the visit is open (VISIT_SETTLED, VISIT_CANCELLED otherwise). The new med_type is checked
    as at registration and may not move the visit into or out of a stay (MED_TYPE_CHANGE_REFUSED)."""
    return await visits.amend_visit(
        uow=uow, mdtrt_id=mdtrt_id, data=body, principal=principal, clock=clock, policy_book=book
    )


@router.post(
    "/visits/{mdtrt_id}/cancellation",
    response_model=VisitOut,
    summary="Cancel a visit 挂号撤销 / 入院撤销 (2202/2404)",
)
async def cancel_visit(
    mdtrt_id: str,
    body: VisitCancellationIn,
    uow: Uow,
    principal: InstitutionPrincipal,
    clock: ClockDep,
) -> VisitOut:
    """Cancels an open visit with no standing settlement (VISIT_SETTLED: reverse it first); its uploaded lines
    are withdrawn with it and nothing more can be done on it (VISIT_CANCELLED). Cancelling a cancelled visit
    again answers the same."""
    return await visits.cancel_visit(
        uow=uow, mdtrt_id=mdtrt_id, reason=body.reason, principal=principal, clock=clock
    )


@router.post(
    "/visits/{mdtrt_id}/discharge",
    response_model=VisitOut,
    summary="Discharge the patient 出院办理 (2402)",
)
async def discharge_visit(
    mdtrt_id: str,
    body: DischargeIn,
    uow: Uow,
    principal: InstitutionPrincipal,
    clock: ClockDep,
    book: PolicyBookDep,
) -> VisitOut:
    """Records the discharge of a stay (a med_type the policy pays as inpatient care, else
    VISIT_NOT_INPATIENT): `endtime` (not before begntime: ENDTIME_BEFORE_BEGNTIME) becomes the visit's
    endtime, and the stay's settlement ends there; a discharge diagnosis replaces the visit's. The same
    discharge again answers the same; a different one is VISIT_DISCHARGED (undo the first)."""
    return await visits.discharge_visit(
        uow=uow, mdtrt_id=mdtrt_id, data=body, principal=principal, clock=clock, policy_book=book
    )


@router.delete(
    "/visits/{mdtrt_id}/discharge",
    response_model=VisitOut,
    summary="Undo a discharge 出院撤销 (2405)",
)
async def undo_discharge(mdtrt_id: str, uow: Uow, principal: InstitutionPrincipal) -> VisitOut:
    """Clears the discharge time and way: the stay goes on. Not while a settlement stands (VISIT_SETTLED:
    reverse it first); VISIT_NOT_DISCHARGED when there is no discharge to undo."""
    return await visits.undo_discharge(uow=uow, mdtrt_id=mdtrt_id, principal=principal)


# --- fee details -----------------------------------------------------------------------------------------


@router.post(
    "/visits/{mdtrt_id}/fee-details",
    status_code=201,
    response_model=FeeDetailsOut,
    summary="Upload fee details 费用明细上传 (2204/2301): each line's split in `result`",
)
async def upload_fee_details(
    mdtrt_id: str,
    body: FeeDetailsIn,
    uow: Uow,
    principal: InstitutionPrincipal,
    clock: ClockDep,
    book: PolicyBookDep,
) -> FeeDetailsOut:
    """Stores the lines of an open visit (stays upload day by day) and answers each line's split (steps 1–2
    of the split). A line sent again unchanged is a retry; with other content FEEDETL_SN_CONFLICT (withdraw
    it first). Each line must add up (cnt × pric) and fall within the visit."""
    return await visits.upload_fee_details(
        uow=uow, mdtrt_id=mdtrt_id, lines=body.feedetail, principal=principal, clock=clock, policy_book=book
    )


@router.delete(
    "/visits/{mdtrt_id}/fee-details/{feedetl_sn}",
    status_code=204,
    summary="Withdraw a fee line 费用明细撤销 (2205), before settlement",
)
async def withdraw_fee_detail(
    mdtrt_id: str, feedetl_sn: str, uow: Uow, principal: InstitutionPrincipal
) -> Response:
    """Withdraws one standing line of an open visit (FEE_DETAIL_NOT_FOUND when there is none such); the same
    number may be uploaded again afterwards."""
    await visits.withdraw_fee_detail(uow=uow, mdtrt_id=mdtrt_id, feedetl_sn=feedetl_sn, principal=principal)
    return Response(status_code=204)


@router.post(
    "/visits/{mdtrt_id}/fee-details/withdrawal",
    response_model=FeeWithdrawalOut,
    summary="Withdraw fee lines by charge batch or number 费用明细撤销 (2205), atomically",
)
async def withdraw_fee_details(
    mdtrt_id: str, body: FeeWithdrawalIn, uow: Uow, principal: InstitutionPrincipal
) -> FeeWithdrawalOut:
    """Withdraws at once every standing line of an open visit that matches: of charge batch `chrg_bchno`,
    among the numbers `feedetl_sn`, both (the batch's lines among those numbers), or every line when neither
    is given. Nothing matching is FEE_DETAIL_NOT_FOUND and withdraws nothing."""
    return await visits.withdraw_fee_details(uow=uow, mdtrt_id=mdtrt_id, data=body, principal=principal)


# --- settlement ------------------------------------------------------------------------------------------


@router.post(
    "/visits/{mdtrt_id}/pre-settlement",
    response_model=PreSettlementOut,
    summary="Pre-settlement 预结算 (2206/2303): the split as it stands, nothing stored",
)
async def pre_settle(
    mdtrt_id: str,
    db: DatabaseDep,
    principal: InstitutionPrincipal,
    clock: ClockDep,
    book: PolicyBookDep,
    body: Annotated[PreSettleIn | None, Body(examples=[{"acct_used_flag": 1}])] = None,
) -> PreSettlementOut:
    """The split of the visit's standing lines under the policy in force and the person's year as it stands,
    as the settlement would answer it now. Nothing is stored or locked: a settlement may differ if the year
    moves in between."""
    return await settle.pre_settle(
        db=db,
        mdtrt_id=mdtrt_id,
        acct_used=bool(body and body.acct_used_flag),
        principal=principal,
        clock=clock,
        policy_book=book,
    )


@router.post(
    "/visits/{mdtrt_id}/settlement",
    status_code=201,
    response_model=SettlementOut,
    summary="Settle a visit 结算 (2207/2304), idempotent on medins_setl_id",
    responses={200: {"description": "A retry: the original result", "model": SettlementOut}},
)
async def settle_visit(
    mdtrt_id: str, body: SettleVisitIn, principal: InstitutionPrincipal, deps: SettleDepsDep
) -> JSONResponse:
    """Settles the visit's standing lines: the split, the ledger, the person's year and accounts, and the
    settlement.settled event, together. A stay ends at `endtime` if sent, else at its discharge (2402); with
    neither it is NOT_DISCHARGED unless `mid_setl_flag` is 1 (中途结算). The same medins_setl_id with the same
    body answers the original result (200); with another body SETTLEMENT_CONFLICT."""
    return _settled(await settle.settle_visit(mdtrt_id=mdtrt_id, data=body, principal=principal, deps=deps))


@router.post(
    "/settlements",
    status_code=201,
    response_model=SettlementOut,
    summary="One-call settlement 一站式结算: visit + lines + settlement, idempotent on medins_setl_id",
    responses={200: {"description": "A retry: the original result", "model": SettlementOut}},
)
async def settle_one_call(
    body: OneCallSettlementIn, principal: InstitutionPrincipal, deps: SettleDepsDep
) -> JSONResponse:
    """For a visit whose lines are all known when it settles (outpatient care, a pharmacy purchase, a stay
    sent whole): the visit, its lines and the settlement in one transaction. The same medins_setl_id with the
    same body answers the original result (200); with another body SETTLEMENT_CONFLICT."""
    return _settled(await settle.settle_one_call(data=body, principal=principal, deps=deps))


@router.post(
    "/settlements/{setl_id}/reversal",
    status_code=201,
    response_model=ReversalOut,
    summary="Reverse a settlement 冲正/撤销 (2208/2305); a second reversal is 409",
)
async def reverse(
    setl_id: str, body: ReversalIn, principal: InstitutionPrincipal, uow: Uow, clock: ClockDep
) -> ReversalOut:
    """Takes back what the settlement added to the person's year and drew from the accounts, with opposite
    ledger legs, in today's business day; the visit is open again. A second reversal is ALREADY_REVERSED."""
    return await reversal.reverse_settlement(
        uow=uow, setl_id=setl_id, reason=body.reason, principal=principal, clock=clock
    )


@router.get(
    "/settlements/{setl_id}",
    response_model=SettlementRecord,
    summary="A settlement as answered, with its status",
)
async def get_settlement(setl_id: str, uow: Uow, principal: InstitutionPrincipal) -> SettlementRecord:
    """The very body the settlement answered, with its status (settled | reversed) and the reversal's id."""
    return await settlements.get_settlement(uow=uow, setl_id=setl_id, principal=principal)


@router.get("/settlements", response_model=SettlementPage, summary="Settlements, newest first")
async def list_settlements(
    uow: Uow,
    principal: InstitutionPrincipal,
    fixmedins_code: Annotated[str | None, Query(max_length=30)] = None,
    date: Annotated[dt.date | None, Query(description="business date (Asia/Shanghai)")] = None,
    psn_no: Annotated[str | None, Query(max_length=20)] = None,
    mdtrt_id: Annotated[
        str | None, Query(max_length=32, description="就诊ID the visit's settlements")
    ] = None,
    medins_setl_id: Annotated[
        str | None, Query(max_length=64, description="医药机构结算ID the institution's own id")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> SettlementPage:
    """Settlements by setl_time, newest first, reversed ones included (with their status), filtered by any of
    institution, business date, person, visit and medins_setl_id (exact). An institution's HIS/POS sees only
    its own institution's."""
    return await settlements.list_settlements(
        uow=uow,
        principal=principal,
        fixmedins_code=fixmedins_code,
        on=date,
        psn_no=psn_no,
        mdtrt_id=mdtrt_id,
        medins_setl_id=medins_setl_id,
        limit=limit,
        cursor=cursor,
    )
