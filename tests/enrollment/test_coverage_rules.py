"""Coverage rules without a database: contribution periods, the incentive's reference year, covered years."""

from datetime import date

import pytest

from enrollment.domain.coverages import PeriodError, covered_years, period_end, reference_year


def test_a_resident_contribution_period_is_a_year_ending_on_31_december() -> None:
    assert period_end("390", "2026") == date(2026, 12, 31)


def test_an_employee_contribution_period_is_a_month_ending_on_its_last_day() -> None:
    assert period_end("310", "2028-02") == date(2028, 2, 29)
    assert period_end("310", "2026-11") == date(2026, 11, 30)


@pytest.mark.parametrize(("insutype", "period"), [("390", "2026-01"), ("310", "2026"), ("310", "2026-13")])
def test_a_period_of_the_other_shape_is_refused(insutype: str, period: str) -> None:
    with pytest.raises(PeriodError):
        period_end(insutype, period)


def test_a_running_coverage_states_its_incentive_for_this_year() -> None:
    assert reference_year(begndate=date(2024, 1, 1), enddate=None, today=date(2026, 5, 1)) == 2026
    assert reference_year(begndate=date(2027, 1, 1), enddate=None, today=date(2026, 12, 1)) == 2027


def test_an_ended_coverage_states_its_incentive_for_its_first_year() -> None:
    assert (
        reference_year(begndate=date(2022, 3, 1), enddate=date(2024, 6, 30), today=date(2026, 5, 1)) == 2022
    )


def test_covered_years_run_from_each_coverage_to_its_end_or_today_and_add_timely_contributions() -> None:
    years = covered_years(
        [(date(2019, 1, 1), date(2020, 6, 30)), (date(2025, 1, 1), None)],
        [("2022", False), ("2021", True), ("2019", True)],
        today=date(2026, 3, 1),
    )
    assert years.covered == {2019, 2020, 2022, 2025, 2026}
    assert years.back_paid == 1  # 2021 only: 2019 was covered anyway
