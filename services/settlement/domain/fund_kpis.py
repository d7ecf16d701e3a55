"""The arithmetic of fund KPIs (基金运行): months, the 12-month window, months payable, the ratio."""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from common.money import round_half_up

WINDOW_MONTHS = 12
SPENDING_KINDS = ("settlement", "reversal")
CONTRIBUTION = "contribution"


@dataclass(frozen=True, slots=True)
class Month:
    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> Month:
        """YYYY-MM (already checked by the route's pattern)."""
        year, month = text.split("-")
        return cls(int(year), int(month))

    @classmethod
    def of(cls, day: date) -> Month:
        return cls(day.year, day.month)

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


@dataclass(frozen=True, slots=True)
class FundFlows:
    """A fund's month from its ledger legs, in fen: income, expenditure, and expenditure by counted month."""

    income_fen: int
    expenditure_fen: int
    expenditure_by_month: dict[Month, int]


def fund_flows(
    month: Month, journal_days: Iterable[date], leg_sums: Iterable[tuple[date, str, int]]
) -> FundFlows:
    """Income and expenditure of a month from the fund's leg sums (day, journal kind, sum), and expenditure by
    month over the window — only months with any journal at all count (a young ledger is not averaged over
    months before it existed)."""
    by_month = {Month.of(day): 0 for day in journal_days}
    income = 0
    for day, kind, total in leg_sums:
        if kind in SPENDING_KINDS:
            by_month[Month.of(day)] += int(total)
        elif kind == CONTRIBUTION and Month.of(day) == month:
            income -= int(total)
    return FundFlows(income, by_month.get(month, 0), by_month)


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
