"""The 2025 resident waiting period, clause by clause, with the edges of every date."""

from datetime import date

import pytest

from enrollment.domain.waiting import (
    ResidentPolicy,
    WaitingPeriod,
    add_months,
    concentrated_period,
    resident_waiting_period,
)

POLICY = ResidentPolicy()
ADULT = date(1990, 3, 7)


def waiting(
    enrolled_on: date,
    *,
    covered: tuple[int, ...] = (),
    back_paid: int = 0,
    birth: date = ADULT,
    year: int = 2026,
    begndate: date | None = None,
    policy: ResidentPolicy = POLICY,
) -> WaitingPeriod:
    return resident_waiting_period(
        coverage_year=year,
        begndate=begndate or date(year, 1, 1),
        enrolled_on=enrolled_on,
        birth_date=birth,
        covered_years=covered,
        back_paid_years=back_paid,
        policy=policy,
    )


def test_the_concentrated_period_is_september_to_december_of_the_year_before() -> None:
    assert concentrated_period(2026, POLICY) == (date(2025, 9, 1), date(2025, 12, 31))


def test_a_configured_period_may_run_into_the_coverage_year() -> None:
    policy = ResidentPolicy(concentrated_start=(10, 1), concentrated_end=(2, 28))
    assert concentrated_period(2026, policy) == (date(2025, 10, 1), date(2026, 2, 28))
    assert waiting(date(2026, 2, 28), policy=policy).months == 0
    assert waiting(date(2026, 3, 1), policy=policy).months == 3


def test_enrolling_on_the_last_day_of_the_concentrated_period_has_no_wait() -> None:
    result = waiting(date(2025, 12, 31), covered=(2025,))
    assert (result.months, result.benefit_start_date, result.in_concentrated_period) == (
        0,
        date(2026, 1, 1),
        True,
    )


def test_enrolling_on_the_first_day_of_the_concentrated_period_has_no_wait() -> None:
    assert waiting(date(2025, 9, 1), covered=(2025,)).months == 0


def test_a_first_enrollment_inside_the_period_has_no_wait() -> None:
    assert waiting(date(2025, 10, 15)).months == 0


def test_enrolling_one_day_after_the_period_waits_three_months() -> None:
    result = waiting(date(2026, 1, 1), covered=(2025,))
    assert (result.fixed_months, result.variable_months) == (3, 0)
    assert result.benefit_start_date == date(2026, 4, 1)
    assert not result.in_concentrated_period


def test_enrolling_one_day_before_the_period_waits_three_months_from_enrolment() -> None:
    # Enrolled 2025-08-31 for 2026 with no break: 3 months from enrolment ends before January, so the
    # fund pays from the coverage's first day.
    result = waiting(date(2025, 8, 31), covered=(2025,))
    assert result.months == 3
    assert result.benefit_start_date == date(2026, 1, 1)


def test_mid_year_enrolment_waits_three_months_from_the_enrolment_date() -> None:
    result = waiting(date(2026, 5, 20), covered=(2025,), begndate=date(2026, 5, 20))
    assert result.benefit_start_date == date(2026, 8, 20)


def test_the_waiting_end_is_clamped_to_the_end_of_a_short_month() -> None:
    assert add_months(date(2025, 11, 30), 3) == date(2026, 2, 28)
    assert add_months(date(2027, 11, 30), 3) == date(2028, 2, 29)
    result = waiting(date(2026, 11, 30), covered=(2025,), begndate=date(2026, 11, 30))
    assert result.benefit_start_date == date(2027, 2, 28)


@pytest.mark.parametrize(
    ("covered", "breaks", "fixed", "variable"),
    [
        ((2025,), 0, 3, 0),  # continuous, outside the period: the fixed wait only
        ((2024,), 1, 3, 0),  # one year of break: the fixed 3 months cover it
        ((2023,), 2, 3, 1),  # each further year adds a month
        ((2022,), 3, 3, 2),
        ((2021,), 4, 3, 3),
        ((2015, 2016), 9, 3, 8),
    ],
)
def test_each_further_year_of_break_adds_a_month(
    covered: tuple[int, ...], breaks: int, fixed: int, variable: int
) -> None:
    result = waiting(date(2026, 3, 10), covered=covered, begndate=date(2026, 3, 10))
    assert (result.break_years, result.fixed_months, result.variable_months) == (breaks, fixed, variable)
    assert result.benefit_start_date == add_months(date(2026, 3, 10), fixed + variable)


def test_a_break_means_a_wait_even_inside_the_concentrated_period() -> None:
    result = waiting(date(2025, 10, 1), covered=(2023,))
    assert (result.fixed_months, result.variable_months, result.in_concentrated_period) == (3, 1, True)
    # 3 + 1 months from 2025-10-01 is 2026-02-01.
    assert result.benefit_start_date == date(2026, 2, 1)


@pytest.mark.parametrize(("back_paid", "variable"), [(0, 2), (1, 1), (2, 0), (3, 0)])
def test_each_year_paid_back_removes_a_month_of_the_variable_part_only(back_paid: int, variable: int) -> None:
    result = waiting(date(2026, 3, 10), covered=(2022,), back_paid=back_paid)
    assert (result.fixed_months, result.variable_months) == (3, variable)


@pytest.mark.parametrize(("back_paid", "months"), [(0, 6), (1, 6), (3, 6)])
def test_after_a_four_year_break_repair_stops_at_six_months(back_paid: int, months: int) -> None:
    result = waiting(date(2026, 3, 10), covered=(2021,), back_paid=back_paid)  # 2022-2025: 4 years
    assert result.break_years == 4
    assert result.months == months


def test_after_a_long_break_without_repair_the_wait_is_longer_than_the_floor() -> None:
    result = waiting(date(2026, 3, 10), covered=(2019,))  # 6 years of break
    assert (result.fixed_months, result.variable_months) == (3, 5)
    assert waiting(date(2026, 3, 10), covered=(2019,), back_paid=4).months == 6


def test_a_three_year_break_fully_repaid_has_no_floor() -> None:
    assert waiting(date(2026, 3, 10), covered=(2022,), back_paid=2).months == 3


@pytest.mark.parametrize(("age_days", "months"), [(0, 0), (90, 0), (91, 3)])
def test_newborns_enrolled_within_90_days_have_no_wait(age_days: int, months: int) -> None:
    from datetime import timedelta

    birth = date(2026, 2, 1)
    enrolled = birth + timedelta(days=age_days)
    result = waiting(enrolled, birth=birth, begndate=birth)
    assert result.months == months
    assert result.newborn is (age_days <= 90)
    assert result.benefit_start_date == (birth if months == 0 else add_months(enrolled, 3))
