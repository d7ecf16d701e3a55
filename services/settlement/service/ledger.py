"""Personal accounts, a person's yearly totals, and the check that every balance derives from the journal."""

from __future__ import annotations

from typing import Any

from common.errors import NotFound
from common.money import fen_to_yuan
from settlement.domain.ledger_check import (
    account_differences,
    accumulator_differences,
    reserve_differences,
    totals,
)
from settlement.mappers import year_totals as year_totals_out
from settlement.repository.journal import YEAR_FIELDS
from settlement.schemas.claims import AccountOut, AccumulatorsOut
from settlement.uow import SettlementUnitOfWork


async def account_view(*, uow: SettlementUnitOfWork, psn_no: str) -> AccountOut:
    """个人账户: the balance (0 when nothing was ever credited) and the family holder, if bound."""
    if await uow.persons.get(psn_no) is None:
        raise NotFound(f"No insured person {psn_no}.", code="PERSON_NOT_FOUND")
    holder = await uow.persons.family_holder(psn_no)
    return AccountOut(
        psn_no=psn_no, balc=fen_to_yuan(await uow.accounts.balance(psn_no)), family_holder_psn_no=holder
    )


async def year_totals(*, uow: SettlementUnitOfWork, psn_no: str, year: int) -> AccumulatorsOut:
    """累计信息 (like 5206): the person's running totals of a year, per basic insutype."""
    if await uow.persons.get(psn_no) is None:
        raise NotFound(f"No insured person {psn_no}.", code="PERSON_NOT_FOUND")
    rows = await uow.accumulators.of_year(psn_no, year)
    return AccumulatorsOut(psn_no=psn_no, year=year, totals=[year_totals_out(row) for row in rows])


async def check_ledger(*, uow: SettlementUnitOfWork, limit: int = 100) -> dict[str, Any]:
    """Recompute from the journal and compare with every balance and total kept elsewhere."""
    journal = uow.journal
    journals, legs = await journal.counts()
    unbalanced = [
        {"journal_id": journal_id, "sum_fen": total}
        for journal_id, total in (await journal.unbalanced(limit=limit)).items()
    ]
    by_account = await journal.by_account()
    accounts = account_differences(await journal.stored_balances(), by_account, limit=limit)
    accumulators = accumulator_differences(
        await journal.stored_year_totals(),
        await journal.year_totals_from_settlements(),
        fields=YEAR_FIELDS,
        limit=limit,
    )
    settlements = [
        {
            "kind": row.kind,
            "setl_id": row.setl_id,
            "expected_fen": row.expected_fen,
            "journal_fen": row.journal_fen,
        }
        for row in await journal.posted_amounts()
        if row.expected_fen != row.journal_fen
    ][:limit]
    reserves = reserve_differences(await uow.points.reserves_kept(), by_account, limit=limit)
    return {
        "balanced": not (unbalanced or accounts or accumulators or settlements or reserves),
        "journals": journals,
        "legs": legs,
        "unbalanced_journals": unbalanced,
        "account_differences": accounts,
        "accumulator_differences": accumulators,
        "settlement_differences": settlements,
        "reserve_differences": reserves,
        "totals": {key: fen_to_yuan(value) for key, value in totals(by_account).items()},
    }
