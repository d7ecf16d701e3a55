"""Routes of personal accounts and the fund ledger's check."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from common.clock import business_date
from common.db import DbSession
from common.principal import OpsPrincipal
from settlement.api.deps import PROBLEMS, ClockDep, InstitutionPrincipal
from settlement.schemas.claims import AccountOut, AccumulatorsOut, LedgerCheckOut
from settlement.service import claims, ledger

router = APIRouter(tags=["accounts and ledger 个人账户与基金账"], responses=PROBLEMS)


@router.get("/accounts/{psn_no}", response_model=AccountOut, summary="A personal account 个人账户")
async def get_account(psn_no: str, session: DbSession, principal: InstitutionPrincipal) -> AccountOut:
    return await claims.account_view(session, psn_no)


@router.get(
    "/accounts/{psn_no}/accumulators",
    response_model=AccumulatorsOut,
    summary="A person's yearly totals 累计信息 (like 5206), per basic insutype",
)
async def get_accumulators(
    psn_no: str,
    session: DbSession,
    principal: InstitutionPrincipal,
    clock: ClockDep,
    year: Annotated[
        int | None, Query(ge=2000, le=2100, description="default: this year (Asia/Shanghai)")
    ] = None,
) -> AccumulatorsOut:
    return await claims.year_totals(session, psn_no, year or business_date(clock.now()).year)


@router.get(
    "/ledger/check",
    response_model=LedgerCheckOut,
    summary="Recompute balances from the journal and report every difference 账务核对",
)
async def check_ledger(session: DbSession, principal: OpsPrincipal) -> LedgerCheckOut:
    return LedgerCheckOut.model_validate(await ledger.check_ledger(session))
