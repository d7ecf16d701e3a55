"""The resident waiting period (待遇等待期) from 2025 and the continuous-enrollment incentives.

Rules (DESIGN.md §5, the national 2025 rule):
- Enrolling outside the concentrated period (集中参保期), or after a break, gives a fixed waiting period
  of 3 months.
- Each further year of break adds 1 month (the variable waiting period).
- Each extra year of back-payment (补缴) removes 1 month of the variable part.
- After a break of 4 years or more, fixed + variable is at least 6 months, whatever was paid back.
- Newborns enrolled within 90 days of birth have none.
- Incentives: after 4 continuous years, each further continuous year raises the critical-illness cap by
  an amount; a covered year with zero fund reimbursement raises the next year's cap by the same; the
  total raise is capped; using the zero-claim raise resets it; a break restarts the count of
  continuous years but keeps what was earned.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True, slots=True)
class ResidentPolicy:
    """The configurable parts of the resident rules (settings of the enrollment service)."""

    concentrated_start: tuple[int, int] = (9, 1)  # month, day in the year before the coverage year
    concentrated_end: tuple[int, int] = (12, 31)
    fixed_months: int = 3
    floor_months_after_long_break: int = 6
    long_break_years: int = 4
    newborn_days: int = 90
    incentive_after_years: int = 4
    incentive_fen: int = 300_000  # 3,000 yuan
    incentive_max_fen: int = 8_000_000  # 80,000 yuan


@dataclass(frozen=True, slots=True)
class WaitingPeriod:
    fixed_months: int
    variable_months: int
    break_years: int
    in_concentrated_period: bool
    newborn: bool
    benefit_start_date: date

    @property
    def months(self) -> int:
        return self.fixed_months + self.variable_months


def add_months(day: date, months: int) -> date:
    """The same day `months` later, clamped to the month's end (Nov 30 + 3 months = Feb 28/29)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def concentrated_period(coverage_year: int, policy: ResidentPolicy) -> tuple[date, date]:
    """The concentrated enrollment period for a coverage year (by default Sep 1 – Dec 31 of the year before)."""
    (start_month, start_day), (end_month, end_day) = policy.concentrated_start, policy.concentrated_end
    start = date(coverage_year - 1, start_month, start_day)
    end_year = coverage_year - 1 if (end_month, end_day) >= (start_month, start_day) else coverage_year
    return start, date(end_year, end_month, end_day)


def break_years(coverage_year: int, covered_years: Iterable[int]) -> int:
    """Full years without basic coverage between the last covered year and this one (0 for a first enrollment)."""
    earlier = [year for year in covered_years if year < coverage_year]
    return coverage_year - 1 - max(earlier) if earlier else 0


def resident_waiting_period(
    *,
    coverage_year: int,
    begndate: date,
    enrolled_on: date,
    birth_date: date,
    covered_years: Iterable[int],
    back_paid_years: int,
    policy: ResidentPolicy,
) -> WaitingPeriod:
    """The waiting period of a resident enrollment and the date from which the fund pays."""
    start, end = concentrated_period(coverage_year, policy)
    in_period = start <= enrolled_on <= end
    breaks = break_years(coverage_year, covered_years)
    newborn = (enrolled_on - birth_date).days <= policy.newborn_days
    if newborn or (in_period and breaks == 0):
        return WaitingPeriod(0, 0, breaks, in_period, newborn, begndate)
    variable = max(0, breaks - 1 - max(0, back_paid_years))
    fixed = policy.fixed_months
    if breaks >= policy.long_break_years and fixed + variable < policy.floor_months_after_long_break:
        variable = policy.floor_months_after_long_break - fixed
    benefit_start = max(begndate, add_months(enrolled_on, fixed + variable))
    return WaitingPeriod(fixed, variable, breaks, in_period, False, benefit_start)


@dataclass(frozen=True, slots=True)
class ClaimYear:
    """What settlement reported of one year: fund reimbursement and whether the zero-claim raise was used."""

    year: int
    fund_pay_fen: int
    zero_claim_raise_used: bool = False


@dataclass(frozen=True, slots=True)
class Incentive:
    continuous_years: int
    continuity_raise_fen: int
    zero_claim_raise_fen: int

    @property
    def total_fen(self) -> int:
        return self.continuity_raise_fen + self.zero_claim_raise_fen


def incentive(
    *, year: int, covered_years: Iterable[int], claims: Iterable[ClaimYear], policy: ResidentPolicy
) -> Incentive:
    """The critical-illness cap raise available in `year`, from the years before it and the year itself."""
    covered = set(covered_years)
    by_year = {claim.year: claim for claim in claims}
    continuous = continuity = zero_claim = 0
    first = min(covered, default=year)
    for current in range(first, year + 1):
        if current in covered:
            continuous = continuous + 1 if current - 1 in covered else 1
            if continuous > policy.incentive_after_years:
                continuity += policy.incentive_fen
        else:
            continuous = 0  # a break restarts the count; the raise already earned stays
        if current == year:
            break
        claim = by_year.get(current)
        if claim is not None and claim.zero_claim_raise_used:
            zero_claim = 0
        if current in covered and (claim is None or claim.fund_pay_fen == 0):
            zero_claim += policy.incentive_fen
    # The total is capped; the continuity part is counted first, the zero-claim part fills what is left.
    continuity = min(continuity, policy.incentive_max_fen)
    zero_claim = min(zero_claim, policy.incentive_max_fen - continuity)
    return Incentive(continuous, continuity, zero_claim)
