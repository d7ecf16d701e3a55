"""The arithmetic of a month's reconciliation (月核算): months, totals, mismatched days, the net adjustment."""

from __future__ import annotations

import calendar
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

DRAFT, CONFIRMED, LOCKED = "draft", "confirmed", "locked"
SHANGHAI = ZoneInfo("Asia/Shanghai")

# Amount columns shared by Settlement and DailyStatement (integer fen), and their names on the wire.
AMOUNTS = {
    "medfee_fen": "medfee_sumamt",
    "inscp_scp_fen": "inscp_scp_amt",
    "hifp_pay_fen": "hifp_pay",
    "hifmi_pay_fen": "hifmi_pay",
    "hifob_pay_fen": "hifob_pay",
    "maf_pay_fen": "maf_pay",
    "fund_pay_fen": "fund_pay_sumamt",
    "acct_pay_fen": "acct_pay",
    "acct_mulaid_pay_fen": "acct_mulaid_pay",
    "psn_cash_pay_fen": "psn_cash_pay",
}
COUNTS = ("setl_cnt", "reversal_cnt")
TOTAL_KEYS = (*COUNTS, *AMOUNTS)
WIRE_NAMES = {**{name: name for name in COUNTS}, **AMOUNTS}

Counts = dict[str, int]
"""Totals of a period: the two counts and every amount in fen, keyed as in TOTAL_KEYS (how they are stored)."""


# --- months --------------------------------------------------------------------------------------------


def month_bounds(month: str) -> tuple[date, date]:
    """The first and last day of a month given as YYYY-MM (already checked by the schema)."""
    year, number = int(month[:4]), int(month[5:7])
    return date(year, number, 1), date(year, number, calendar.monthrange(year, number)[1])


def month_of(day: date) -> str:
    """The YYYY-MM of a day."""
    return f"{day.year:04d}-{day.month:02d}"


def next_day_start(day: date) -> datetime:
    """The first moment after a business date ends, in Asia/Shanghai."""
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=SHANGHAI)


def open_dates(month: str, latest_closed: date | None) -> list[date]:
    """The days of a month not closed yet, given the latest closed day (closes run in date order)."""
    first, last = month_bounds(month)
    if latest_closed is not None and latest_closed >= last:
        return []
    start = first if latest_closed is None else max(first, latest_closed + timedelta(days=1))
    return [start + timedelta(days=n) for n in range((last - start).days + 1)]


# --- totals --------------------------------------------------------------------------------------------


def zero_totals() -> Counts:
    return dict.fromkeys(TOTAL_KEYS, 0)


def add_totals(into: Counts, other: Mapping[str, int]) -> None:
    for key in TOTAL_KEYS:
        into[key] += int(other.get(key, 0))


def differing_fields(statements: Mapping[str, int], settlements: Mapping[str, int]) -> list[str]:
    """The wire names of the totals that differ between a daily statement and its settlements."""
    return [
        WIRE_NAMES[key] for key in TOTAL_KEYS if int(statements.get(key, 0)) != int(settlements.get(key, 0))
    ]


@dataclass
class InstitutionMonth:
    """One institution's month as computed: both sides of the reconciliation, the mismatched days."""

    statements: Counts = field(default_factory=zero_totals)
    settlements: Counts = field(default_factory=zero_totals)
    mismatches: list[dict[str, Any]] = field(default_factory=list)
    deduction_ids: list[str] = field(default_factory=list)
    deductions_fen: int = 0
    prepayment_ids: list[int] = field(default_factory=list)
    prepayments_fen: int = 0
    quality_reserve_fen: int = 0  # 质量保证金 of a points-paid institution
    points: list[dict[str, Any]] | None = None
    penalty_case_ids: list[str] = field(default_factory=list)  # 罚款/违约金 of decided cases
    penalties_fen: int = 0

    @property
    def net_adjustment_fen(self) -> int:
        """Negative: what the institution owes the bureau (withheld from its next disbursements)."""
        return -(self.deductions_fen + self.penalties_fen + self.prepayments_fen + self.quality_reserve_fen)


def reconcile_days(
    statements: Mapping[tuple[str, date], Counts], settlements: Mapping[tuple[str, date], Counts]
) -> dict[str, InstitutionMonth]:
    """Sum each institution's days on both sides and list every day where they differ (setl_ids added later)."""
    months: dict[str, InstitutionMonth] = defaultdict(InstitutionMonth)
    for code, day in sorted(set(statements) | set(settlements)):
        stated = statements.get((code, day), zero_totals())
        recomputed = settlements.get((code, day), zero_totals())
        entry = months[code]
        add_totals(entry.statements, stated)
        add_totals(entry.settlements, recomputed)
        fields = differing_fields(stated, recomputed)
        if fields:
            entry.mismatches.append(
                {
                    "business_date": day.isoformat(),
                    "fields": fields,
                    "statements": {key: int(stated.get(key, 0)) for key in TOTAL_KEYS},
                    "settlements": {key: int(recomputed.get(key, 0)) for key in TOTAL_KEYS},
                    "setl_ids": [],
                    "setl_id_count": 0,
                }
            )
    return dict(months)


def stale_institution(
    drafted: Mapping[str, tuple[Mapping[str, int], Mapping[str, int]]], now: Mapping[str, InstitutionMonth]
) -> str | None:
    """The first institution whose closed days no longer add up to its draft (statements, settlements), or None."""
    for code in sorted(set(now) | set(drafted)):
        current = now.get(code, InstitutionMonth())
        statements, settlements = drafted.get(code, (zero_totals(), zero_totals()))
        if (
            differing_fields(statements, current.statements)
            or differing_fields(settlements, current.settlements)
            or current.mismatches
        ):
            return code
    return None
