"""The arithmetic of a day close (日结算): which close counts a write, and an institution's totals of the day."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta

from settlement.domain.split import FUND_ASSISTANCE, POOL_FUND, SUPPLEMENTARY_FUND

PENDING, PAID = "pending", "paid"

# The amount columns a statement totals (integer fen), as Settlement and DailyStatement name them.
AMOUNTS = (
    "medfee_fen",
    "inscp_scp_fen",
    "hifp_pay_fen",
    "hifmi_pay_fen",
    "hifob_pay_fen",
    "maf_pay_fen",
    "fund_pay_fen",
    "acct_pay_fen",
    "acct_mulaid_pay_fen",
    "psn_cash_pay_fen",
)


def counting_day(on: date, last_closed: date | None) -> date:
    """The day close that counts a write of business date `on`: that day, or the next open one if it is closed."""
    if last_closed is not None and on <= last_closed:
        return last_closed + timedelta(days=1)
    return on


def day_not_over(day: date, today: date, *, allow_today: bool = False) -> bool:
    """Whether a day may not be closed yet: it is today or later (today only when allowed)."""
    return day >= today and not (allow_today and day == today)


@dataclass
class DayTotals:
    """One institution's totals of a close: counts, amounts in fen, and the pay of each fund."""

    setl_cnt: int = 0
    reversal_cnt: int = 0
    amounts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(AMOUNTS, 0))
    by_fund: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    @property
    def payable_fen(self) -> int:
        """What the bureau owes for the day: the funds' part and the personal accounts' (held by the bureau)."""
        return (
            self.amounts["fund_pay_fen"] + self.amounts["acct_pay_fen"] + self.amounts["acct_mulaid_pay_fen"]
        )

    def add(self, insutype: str, amounts: Mapping[str, int], sign: int) -> None:
        """Count one group of settlements (+1) or reversals (−1) of an insutype."""
        for name in AMOUNTS:
            self.amounts[name] += sign * int(amounts[name])
        self.by_fund[POOL_FUND.get(insutype, f"{insutype}100")] += sign * int(amounts["hifp_pay_fen"])
        if insutype in SUPPLEMENTARY_FUND:
            self.by_fund[SUPPLEMENTARY_FUND[insutype]] += sign * int(
                amounts["hifmi_pay_fen"] + amounts["hifob_pay_fen"]
            )
        self.by_fund[FUND_ASSISTANCE] += sign * int(amounts["maf_pay_fen"])

    def fund_by_type(self) -> dict[str, int]:
        """Each fund's pay, in fund order, leaving out the funds that paid nothing net."""
        return {fund: amount for fund, amount in sorted(self.by_fund.items()) if amount}
