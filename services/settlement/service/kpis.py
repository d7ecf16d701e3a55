"""Fund KPIs (基金运行): one fund's month, the money read from the ledger, counts and the ratio from settlements.

Every money figure comes from the journal legs on the fund's account (`fund:<fund_pay_type>`, debit-normal
for expenditure), by the journal's business date:
- income: contributions credited to the fund in the month (journals of kind "contribution", negated);
- expenditure: the fund pay of the month's settlement journals less that of its reversal journals — a
  reversal lands in the month it was made, whatever the month of the settlement it cancels;
- accumulated balance: minus the sum of every leg on the account through the month's last day (any kind of
  journal, so later kinds that move the fund — deductions, transfers — count there without being income or
  expenditure);
- months payable: the accumulated balance ÷ the average monthly expenditure over the 12 months ending with
  this one, where only months in which the ledger has any journal at all count (a young ledger is not
  averaged over months before it existed; a month the system ran with no pay from this fund counts as 0).
Counts and the inpatient ratio come from the settlement table (see FundKpisOut).
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from common.money import fen_to_yuan, round_half_up
from common.national import Benefit, med_types_of
from settlement.domain.ledger import CONTRIBUTION_FUND, fund_account
from settlement.models import Journal, JournalLeg, Settlement, SettlementReversal
from settlement.schemas.reports import FundInsutype, FundKpisOut
from settlement.service.claims import SETTLED

WINDOW_MONTHS = 12
# The in-policy ratio is an inpatient figure: the med_types the default table pays as admissions.
INPATIENT_MED_TYPES = med_types_of(Benefit.INPATIENT)
# The settlement's insutype (the basic scheme a claim is settled under) for each fund.
BASIC_INSUTYPE = {"310": "310", "330": "310", "390": "390", "392": "390"}
# The settlement amount that is this fund's pay.
FUND_PAY_COLUMN = {
    "310": Settlement.hifp_pay_fen,
    "330": Settlement.hifob_pay_fen,
    "390": Settlement.hifp_pay_fen,
    "392": Settlement.hifmi_pay_fen,
}
SPENDING_KINDS = ("settlement", "reversal")


@dataclass(frozen=True, slots=True)
class Month:
    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> Month:
        """YYYY-MM (already checked by the route's pattern)."""
        year, month = text.split("-")
        return cls(int(year), int(month))

    def shifted(self, months: int) -> Month:
        index = self.year * 12 + self.month - 1 + months
        return Month(index // 12, index % 12 + 1)

    @property
    def first_day(self) -> date:
        return date(self.year, self.month, 1)

    @property
    def last_day(self) -> date:
        return date(self.year, self.month, calendar.monthrange(self.year, self.month)[1])

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


def _month_of(day: date) -> Month:
    return Month(day.year, day.month)


def months_payable(balance_fen: int, expenditure_by_month: dict[Month, int]) -> Decimal | None:
    """Balance ÷ average monthly expenditure, 2 places half-up; None when the months spent nothing (net)."""
    total = sum(expenditure_by_month.values())
    if not expenditure_by_month or total <= 0:
        return None
    # balance ÷ (total ÷ n) as one division, so the average is never rounded on the way.
    return round_half_up(Decimal(balance_fen) * len(expenditure_by_month) / Decimal(total), 2)


def ratio(part_fen: int, whole_fen: int) -> Decimal | None:
    """part ÷ whole, 4 places half-up; None when there is no whole."""
    return round_half_up(Decimal(part_fen) / Decimal(whole_fen), 4) if whole_fen else None


async def _ledger_figures(
    session: AsyncSession, account: str, month: Month
) -> tuple[int, int, int, dict[Month, int]]:
    """(income, expenditure, accumulated balance) of the month in fen, and expenditure by counted month."""
    leg, journal = JournalLeg, Journal
    window_start = month.shifted(1 - WINDOW_MONTHS).first_day
    end = month.last_day
    by_day = (
        await session.execute(
            sa.select(journal.business_date, journal.kind, sa.func.sum(leg.amount_fen))
            .join(journal, journal.journal_id == leg.journal_id)
            .where(
                leg.account == account,
                journal.business_date >= window_start,
                journal.business_date <= end,
            )
            .group_by(journal.business_date, journal.kind)
        )
    ).all()
    journal_days = (
        await session.scalars(
            sa.select(journal.business_date)
            .where(journal.business_date >= window_start, journal.business_date <= end)
            .group_by(journal.business_date)
        )
    ).all()
    expenditure_by_month = {_month_of(day): 0 for day in journal_days}
    income = 0
    for day, kind, total in by_day:
        if kind in SPENDING_KINDS:
            expenditure_by_month[_month_of(day)] += int(total)
        elif kind == "contribution" and _month_of(day) == month:
            income -= int(total)
    ledger_sum = await session.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(leg.amount_fen), 0))
        .join(journal, journal.journal_id == leg.journal_id)
        .where(leg.account == account, journal.business_date <= end)
    )
    return income, expenditure_by_month.get(month, 0), -int(ledger_sum or 0), expenditure_by_month


async def fund_kpis(session: AsyncSession, *, insutype: FundInsutype, month: str) -> FundKpisOut:
    """基金运行 of one fund (310, 330, 390, 392) in one month (YYYY-MM)."""
    wanted = Month.parse(month)
    fund_pay_type = CONTRIBUTION_FUND[insutype.value]
    income, expenditure, balance, by_month = await _ledger_figures(
        session, fund_account(fund_pay_type), wanted
    )
    s, r = Settlement, SettlementReversal
    basic = BASIC_INSUTYPE[insutype.value]
    in_month = (wanted.first_day, wanted.last_day)
    settlement_count = await session.scalar(
        sa.select(sa.func.count())
        .select_from(s)
        .where(s.insutype == basic, s.business_date.between(*in_month))
    )
    reversal_count = await session.scalar(
        sa.select(sa.func.count())
        .select_from(r)
        .join(s, s.setl_id == r.orig_setl_id)
        .where(s.insutype == basic, r.business_date.between(*in_month))
    )
    inscp, fund_pay = (
        int(value)
        for value in (
            await session.execute(
                sa.select(
                    sa.func.coalesce(sa.func.sum(s.inscp_scp_fen), 0),
                    sa.func.coalesce(sa.func.sum(FUND_PAY_COLUMN[insutype.value]), 0),
                ).where(
                    s.insutype == basic,
                    s.med_type.in_(sorted(INPATIENT_MED_TYPES)),
                    s.status == SETTLED,
                    s.business_date.between(*in_month),
                )
            )
        ).one()
    )
    return FundKpisOut(
        insutype=insutype.value,
        month=str(wanted),
        fund_pay_type=fund_pay_type,
        income=fen_to_yuan(income),
        expenditure=fen_to_yuan(expenditure),
        current_surplus=fen_to_yuan(income - expenditure),
        accumulated_balance=fen_to_yuan(balance),
        months_payable=months_payable(balance, by_month),
        months_averaged=len(by_month),
        inpatient_inscp_amt=fen_to_yuan(inscp),
        inpatient_fund_pay=fen_to_yuan(fund_pay),
        inpatient_reimbursement_ratio=ratio(fund_pay, inscp),
        settlement_count=int(settlement_count or 0),
        reversal_count=int(reversal_count or 0),
    )
