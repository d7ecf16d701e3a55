"""Coverage facts that need no database: attached insutypes, the basic one, contribution periods."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date

EMPLOYEE = "310"
RESIDENT = "390"
ATTACHED = {EMPLOYEE: ["330"], RESIDENT: ["392"]}
"""The coverages that follow from a basic one: 330 大额 with 310, 392 大病 with 390."""
BASIC_OF = {"310": EMPLOYEE, "330": EMPLOYEE, "390": RESIDENT, "392": RESIDENT}
_YEAR = re.compile(r"^(\d{4})$")
_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


class PeriodError(ValueError):
    """A contribution period not of its insutype's shape; the message says which shape."""


def reference_year(*, begndate: date, enddate: date | None, today: date) -> int:
    """The year a coverage's incentive is stated for: this year while it runs, else its first year."""
    if enddate is None or enddate >= today:
        return max(begndate.year, today.year)
    return begndate.year


def period_end(insutype: str, period: str) -> date:
    """The last day of a contribution period: a year (YYYY) for 390, a month (YYYY-MM) for 310."""
    if insutype == RESIDENT:
        if not _YEAR.match(period):
            raise PeriodError("A resident (390) contribution is for a year: YYYY.")
        return date(int(period), 12, 31)
    match = _MONTH.match(period)
    if not match:
        raise PeriodError("An employee (310) contribution is for a month: YYYY-MM.")
    year, month = int(match[1]), int(match[2])
    return date(year, month, calendar.monthrange(year, month)[1])


@dataclass(frozen=True, slots=True)
class CoveredYears:
    """A person's years with basic coverage, and how many more years were only paid back late (补缴)."""

    covered: frozenset[int]
    back_paid: int


def covered_years(
    coverages: list[tuple[date, date | None]], contributions: list[tuple[str, bool]], *, today: date
) -> CoveredYears:
    """Years covered (the coverages' spans up to today, timely contributions) and years only paid back late."""
    covered: set[int] = set()
    for begndate, enddate in coverages:
        last = min(enddate or today, today)
        covered.update(range(begndate.year, last.year + 1))
    back_paid: set[int] = set()
    for period, back_payment in contributions:
        (back_paid if back_payment else covered).add(int(period[:4]))
    return CoveredYears(frozenset(covered), len(back_paid - covered))
