"""Routes of personal accounts and the fund ledger's check."""

from __future__ import annotations

from fastapi import APIRouter

from common.db import DbSession
from common.principal import OpsPrincipal
from settlement.api.deps import PROBLEMS, InstitutionPrincipal
from settlement.schemas.claims import AccountOut, LedgerCheckOut
from settlement.service import claims, ledger

router = APIRouter(tags=["accounts and ledger 个人账户与基金账"], responses=PROBLEMS)


@router.get("/accounts/{psn_no}", response_model=AccountOut, summary="A personal account 个人账户")
async def get_account(psn_no: str, session: DbSession, principal: InstitutionPrincipal) -> AccountOut:
    return await claims.account_view(session, psn_no)


@router.get(
    "/ledger/check",
    response_model=LedgerCheckOut,
    summary="Recompute balances from the journal and report every difference 账务核对",
)
async def check_ledger(session: DbSession, principal: OpsPrincipal) -> LedgerCheckOut:
    return LedgerCheckOut.model_validate(await ledger.check_ledger(session))
