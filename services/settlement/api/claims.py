"""Routes of visits, fee details, pre-settlement, settlement, reversal and the settlement record."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Query, Request, Response
from fastapi.responses import JSONResponse

from common.db import DbSession
from settlement.api.deps import PROBLEMS, ClockDep, DatabaseDep, InstitutionPrincipal
from settlement.schemas.claims import (
    FeeDetailsIn,
    FeeDetailsOut,
    OneCallSettlementIn,
    PreSettleIn,
    PreSettlementOut,
    ReversalIn,
    ReversalOut,
    SettlementOut,
    SettlementPage,
    SettlementRecord,
    SettleVisitIn,
    VisitIn,
    VisitOut,
)
from settlement.service import claims
from settlement.service.reference import PolicyBook
from settlement.service.review import Reviewer

router = APIRouter(tags=["settlement 结算"], responses=PROBLEMS)


async def _policy_book(request: Request) -> PolicyBook:
    book: PolicyBook = request.app.state.policy_book
    return book


PolicyBookDep = Annotated[PolicyBook, Depends(_policy_book)]


async def _settle_deps(
    request: Request, db: DatabaseDep, clock: ClockDep, book: PolicyBookDep
) -> claims.SettleDeps:
    settings = request.app.state.settings
    reviewer = Reviewer(
        request.app.state.nats, timeout_s=settings.review_timeout_ms / 1000, enabled=settings.review_enabled
    )
    return claims.SettleDeps(db=db, clock=clock, policy_book=book, reviewer=reviewer)


SettleDepsDep = Annotated[claims.SettleDeps, Depends(_settle_deps)]


def _settled(result: claims.SettleResult) -> JSONResponse:
    """201 for a new settlement; 200 with the very same body for a retry of it."""
    return JSONResponse(
        result.body,
        status_code=201 if result.created else 200,
        headers={} if result.created else {"Idempotent-Replay": "true"},
    )


@router.post(
    "/visits",
    status_code=201,
    response_model=VisitOut,
    summary="Register a visit or admission 就诊登记 (2201/2401)",
)
async def register_visit(
    body: VisitIn, session: DbSession, principal: InstitutionPrincipal, clock: ClockDep
) -> VisitOut:
    visit = await claims.register_visit(session, body, principal=principal, clock=clock)
    return claims.visit_out(visit, [])


@router.get("/visits/{mdtrt_id}", response_model=VisitOut, summary="A visit with its fee details 就诊信息")
async def get_visit(mdtrt_id: str, session: DbSession, principal: InstitutionPrincipal) -> VisitOut:
    visit = await claims.get_visit(session, mdtrt_id, principal=principal)
    return claims.visit_out(visit, await claims.active_lines(session, mdtrt_id))


@router.post(
    "/visits/{mdtrt_id}/fee-details",
    status_code=201,
    response_model=FeeDetailsOut,
    summary="Upload fee details 费用明细上传 (2204/2301): each line's split in `result`",
)
async def upload_fee_details(
    mdtrt_id: str,
    body: FeeDetailsIn,
    session: DbSession,
    principal: InstitutionPrincipal,
    clock: ClockDep,
    book: PolicyBookDep,
) -> FeeDetailsOut:
    return await claims.upload_fee_details(
        session, mdtrt_id, body.feedetail, principal=principal, clock=clock, policy_book=book
    )


@router.delete(
    "/visits/{mdtrt_id}/fee-details/{feedetl_sn}",
    status_code=204,
    summary="Withdraw a fee line 费用明细撤销 (2205), before settlement",
)
async def withdraw_fee_detail(
    mdtrt_id: str, feedetl_sn: str, session: DbSession, principal: InstitutionPrincipal
) -> Response:
    await claims.withdraw_fee_detail(session, mdtrt_id, feedetl_sn, principal=principal)
    return Response(status_code=204)


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
    async with db.transaction(readonly=True) as session:
        return await claims.pre_settle(
            session,
            mdtrt_id,
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
    return _settled(await claims.settle_visit(mdtrt_id, body, principal=principal, deps=deps))


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
    return _settled(await claims.settle_one_call(body, principal=principal, deps=deps))


@router.post(
    "/settlements/{setl_id}/reversal",
    status_code=201,
    response_model=ReversalOut,
    summary="Reverse a settlement 冲正/撤销 (2208/2305); a second reversal is 409",
)
async def reverse(
    setl_id: str, body: ReversalIn, principal: InstitutionPrincipal, db: DatabaseDep, clock: ClockDep
) -> ReversalOut:
    return await claims.reverse_settlement(
        setl_id, reason=body.reason, principal=principal, db=db, clock=clock
    )


@router.get(
    "/settlements/{setl_id}",
    response_model=SettlementRecord,
    summary="A settlement as answered, with its status",
)
async def get_settlement(
    setl_id: str, session: DbSession, principal: InstitutionPrincipal
) -> SettlementRecord:
    return await claims.get_settlement(session, setl_id, principal=principal)


@router.get("/settlements", response_model=SettlementPage, summary="Settlements, newest first")
async def list_settlements(
    session: DbSession,
    principal: InstitutionPrincipal,
    fixmedins_code: Annotated[str | None, Query(max_length=30)] = None,
    date: Annotated[date | None, Query(description="business date (Asia/Shanghai)")] = None,
    psn_no: Annotated[str | None, Query(max_length=20)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> SettlementPage:
    return await claims.list_settlements(
        session,
        principal=principal,
        fixmedins_code=fixmedins_code,
        on=date,
        psn_no=psn_no,
        limit=limit,
        cursor=cursor,
    )
