"""An institution's activity on one business date as it stands now (before or after the day's close)."""

from __future__ import annotations

from datetime import date

from common.errors import NotFound
from common.money import fen_to_yuan
from settlement.schemas.reports import ActivityOut
from settlement.uow import SettlementUnitOfWork


async def institution_activity(*, uow: SettlementUnitOfWork, fixmedins_code: str, on: date) -> ActivityOut:
    """Settlements made that business date (whatever happened to them since) and reversals made that date."""
    if await uow.institutions.find(fixmedins_code) is None:
        raise NotFound(f"No designated institution {fixmedins_code}.", code="INSTITUTION_NOT_FOUND")
    made = await uow.reports.made_on(fixmedins_code, on)
    taken_back = await uow.reports.reversed_on(fixmedins_code, on)
    return ActivityOut(
        fixmedins_code=fixmedins_code,
        date=on,
        setl_cnt=made.count,
        reversal_cnt=taken_back.count,
        medfee_sumamt=fen_to_yuan(made.medfee_fen - taken_back.medfee_fen),
        fund_pay_sumamt=fen_to_yuan(made.fund_pay_fen - taken_back.fund_pay_fen),
        acct_pay=fen_to_yuan(made.acct_pay_fen - taken_back.acct_pay_fen),
        psn_cash_pay=fen_to_yuan(made.psn_cash_pay_fen - taken_back.psn_cash_pay_fen),
    )
