"""The rules of cases with literals: the appeal window in working days, the penalty scale and its rounding."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from fraud.config import Settings
from fraud.domain.cases import (
    DEFAULT_PENALTY_SCALE,
    PenaltyBand,
    PenaltyOutOfScale,
    WorkingCalendar,
    appeal_deadline,
    check_penalty,
    penalty_fen,
    window_open,
)

SCALE = {basis: PenaltyBand(low, high) for basis, (low, high) in DEFAULT_PENALTY_SCALE.items()}


def test_five_working_days_skip_the_weekend_and_a_holiday_inside_the_window() -> None:
    calendar = WorkingCalendar.of([date(2026, 3, 16)])
    # Thu 12 March: Fri 13, (Sat 14, Sun 15, holiday Mon 16), Tue 17, Wed 18, Thu 19, Fri 20.
    assert appeal_deadline(date(2026, 3, 12), 5, calendar) == date(2026, 3, 20)
    assert appeal_deadline(date(2026, 3, 12), 5, WorkingCalendar()) == date(2026, 3, 19)
    assert window_open(date(2026, 3, 20), date(2026, 3, 20)) is True
    assert window_open(date(2026, 3, 21), date(2026, 3, 20)) is False


def test_a_weekend_day_worked_instead_of_a_holiday_counts_and_a_notification_on_a_holiday_starts_the_next_day() -> (
    None
):
    # 2026's National Day: 1–7 October off, Saturday 10 October worked (调休).
    calendar = WorkingCalendar.of(
        [date(2026, 10, d) for d in range(1, 8)], [date(2026, 9, 20), date(2026, 10, 10)]
    )
    # Notified Wed 30 September: Thu 8 (1), Fri 9 (2), Sat 10 (3, worked), Mon 12 (4), Tue 13 (5).
    assert appeal_deadline(date(2026, 9, 30), 5, calendar) == date(2026, 10, 13)
    # Notified on Saturday 19 September: Sun 20 is worked (1), Mon 21 … Thu 24 (5).
    assert appeal_deadline(date(2026, 9, 19), 5, calendar) == date(2026, 9, 24)
    assert calendar.add_working_days(date(2026, 10, 3), 0) == date(2026, 10, 3)
    with pytest.raises(ValueError):
        calendar.add_working_days(date(2026, 10, 3), -1)


def test_the_default_calendar_is_2026s_and_the_scale_the_regulations() -> None:
    settings = Settings()
    assert settings.case_appeal_working_days == 5
    assert date(2026, 2, 16) in settings.case_holidays and date(2026, 2, 28) in settings.case_makeup_workdays
    assert settings.case_penalty_scale == {
        "none": (Decimal(0), Decimal(0)),
        "violation": (Decimal(1), Decimal(2)),
        "fraud": (Decimal(2), Decimal(5)),
    }


@pytest.mark.parametrize(
    ("basis", "multiple", "code"),
    [
        ("fraud", "1.99", "PENALTY_MULTIPLE_OUT_OF_SCALE"),
        ("fraud", "5.01", "PENALTY_MULTIPLE_OUT_OF_SCALE"),
        ("violation", "0.5", "PENALTY_MULTIPLE_OUT_OF_SCALE"),
        ("none", "0.01", "PENALTY_MULTIPLE_OUT_OF_SCALE"),
        ("agreement", "1", "PENALTY_BASIS_UNKNOWN"),
    ],
)
def test_a_multiple_outside_its_basiss_band_is_refused(basis: str, multiple: str, code: str) -> None:
    with pytest.raises(PenaltyOutOfScale) as refused:
        check_penalty(SCALE, basis, Decimal(multiple))
    assert refused.value.code == code


def test_the_bands_are_inclusive() -> None:
    for basis, multiple in (
        ("fraud", "2"),
        ("fraud", "5"),
        ("violation", "1"),
        ("violation", "2"),
        ("none", "0"),
    ):
        assert check_penalty(SCALE, basis, Decimal(multiple)) == SCALE[basis]


def test_the_penalty_is_the_multiple_of_the_recovery_rounded_half_up_to_the_fen() -> None:
    assert penalty_fen(13_333, Decimal("1.5")) == 20_000  # 199.995 → 200.00
    assert penalty_fen(13_331, Decimal("1.5")) == 19_997  # 199.965 → 199.97
    assert penalty_fen(12_345, Decimal("2.25")) == 27_776  # 277.7625 → 277.76
    assert penalty_fen(1, Decimal("2.5")) == 3  # 0.025 → 0.03
    assert penalty_fen(99_999, Decimal(0)) == 0
    assert penalty_fen(0, Decimal(5)) == 0
