"""Routes of personal accounts and the fund ledger's check."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from common.clock import business_date
from common.deps import PROBLEMS, ClockDep
from common.principal import OpsPrincipal
from settlement.api.deps import InstitutionPrincipal
from settlement.schemas.claims import AccountOut, AccumulatorsOut, LedgerCheckOut
from settlement.service import ledger
from settlement.uow import Uow

router = APIRouter(tags=["accounts and ledger 个人账户与基金账"], responses=PROBLEMS)


@router.get("/accounts/{psn_no}", response_model=AccountOut, summary="A personal account 个人账户")
async def get_account(psn_no: str, uow: Uow, principal: InstitutionPrincipal) -> AccountOut:
    """A person's personal account (个人账户): its balance, and the family holder if one is bound.

    A relative bound through family mutual aid (家庭共济) pays from the holder's account.
    """
    return await ledger.account_view(uow=uow, psn_no=psn_no)


@router.get(
    "/accounts/{psn_no}/accumulators",
    response_model=AccumulatorsOut,
    summary="A person's yearly totals 累计信息 (like 5206), per basic insutype",
)
async def get_accumulators(
    psn_no: str,
    uow: Uow,
    principal: InstitutionPrincipal,
    clock: ClockDep,
    year: Annotated[
        int | None, Query(ge=2000, le=2100, description="default: this year (Asia/Shanghai)")
    ] = None,
) -> AccumulatorsOut:
    """A person's totals for a year, per basic insutype, like the national 5206 query.

    The outpatient deductible (起付线) used, the outpatient pool and basic pool paid (the latter counts
    toward the yearly ceiling), the supplementary insurance paid and more: where the patient stands, and
    what the split of the next settlement reads. Only settlements that stand count (a reversal takes its
    amounts back out).
    """
    return await ledger.year_totals(uow=uow, psn_no=psn_no, year=year or business_date(clock.now()).year)


@router.get(
    "/ledger/check",
    response_model=LedgerCheckOut,
    summary="Recompute balances from the journal and report every difference 账务核对",
)
async def check_ledger(uow: Uow, principal: OpsPrincipal) -> LedgerCheckOut:
    """Recompute every balance and total from the double-entry journal and report each difference.

    Covers the funds and the bank, every personal account and institution account, each person's yearly
    totals and each settlement's journal. `balanced: true` means nothing differs; a difference is a bug
    to investigate, never corrected here. Read-only; for the bureau's auditors and the on-call engineer.
    """
    return LedgerCheckOut.model_validate(await ledger.check_ledger(uow=uow))
