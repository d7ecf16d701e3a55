"""An institution's activity on one business date as it stands now (before or after the day's close)."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from common.money import fen_to_yuan
from settlement.models import Settlement, SettlementReversal
from settlement.schemas.reports import ActivityOut


async def institution_activity(session: AsyncSession, *, fixmedins_code: str, on: date) -> ActivityOut:
    """Settlements made that business date (whatever happened to them since) and reversals made that date."""
    s, r = Settlement, SettlementReversal
    made = (
        await session.execute(
            sa.select(
                sa.func.count(),
                sa.func.coalesce(sa.func.sum(s.medfee_fen), 0),
                sa.func.coalesce(sa.func.sum(s.fund_pay_fen), 0),
                sa.func.coalesce(sa.func.sum(s.acct_pay_fen + s.acct_mulaid_pay_fen), 0),
                sa.func.coalesce(sa.func.sum(s.psn_cash_pay_fen), 0),
            ).where(s.fixmedins_code == fixmedins_code, s.business_date == on)
        )
    ).one()
    taken_back = (
        await session.execute(
            sa.select(
                sa.func.count(),
                sa.func.coalesce(sa.func.sum(s.medfee_fen), 0),
                sa.func.coalesce(sa.func.sum(s.fund_pay_fen), 0),
                sa.func.coalesce(sa.func.sum(s.acct_pay_fen + s.acct_mulaid_pay_fen), 0),
                sa.func.coalesce(sa.func.sum(s.psn_cash_pay_fen), 0),
            )
            .select_from(r)
            .join(s, s.setl_id == r.orig_setl_id)
            .where(r.fixmedins_code == fixmedins_code, r.business_date == on)
        )
    ).one()
    net = [int(a) - int(b) for a, b in zip(made[1:], taken_back[1:], strict=True)]
    return ActivityOut(
        fixmedins_code=fixmedins_code,
        date=on,
        setl_cnt=int(made[0]),
        reversal_cnt=int(taken_back[0]),
        medfee_sumamt=fen_to_yuan(net[0]),
        fund_pay_sumamt=fen_to_yuan(net[1]),
        acct_pay=fen_to_yuan(net[2]),
        psn_cash_pay=fen_to_yuan(net[3]),
    )
