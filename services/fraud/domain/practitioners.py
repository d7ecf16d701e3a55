"""Practitioners' payment qualification (医保支付资格管理, 驾照式记分): the scale and when a suspension begins.

National rules (医保发〔2024〕23号《关于建立定点医药机构相关人员医保支付资格管理制度的指导意见》, as the
National Healthcare Security Administration presented them on 2024-09-27): each violation is given 1–3, 4–6,
7–9 or 10–12 points by its gravity; points add up over a natural year and start again at zero on 1 January;
9 points in a year suspend the practitioner's payment qualification for 1–6 months (暂停); 12 points end it
(终止) and the practitioner may not register again for 1 year — 3 years when the 12 came at once. Lines they
order or dispense within the period are not paid by the fund. Pure functions: stdlib only.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, timedelta

from common.national import PRAC_CODE_PATTERN

DOCTOR, PHARMACIST, NURSE, TECHNICIAN = "doctor", "pharmacist", "nurse", "technician"
PRAC_TYPES = (DOCTOR, PHARMACIST, NURSE, TECHNICIAN)
ACTIVE, SUSPENDED, TERMINATED = "active", "suspended", "terminated"
STATUSES = (ACTIVE, SUSPENDED, TERMINATED)
SOURCES = ("finding", "case", "manual")
MAX_POINTS = 12

# The code's identifier for each kind of practitioner (医保医师 D, 医保护士 N, 医保药师 Y; 药学类 HY, 技术类 HJ).
PREFIXES: dict[str, tuple[str, ...]] = {
    DOCTOR: ("D",),
    NURSE: ("N",),
    PHARMACIST: ("Y", "HY"),
    TECHNICIAN: ("HJ",),
}
_CODE = re.compile(PRAC_CODE_PATTERN)


@dataclass(frozen=True, slots=True)
class PointsScale:
    """The scale in force: when a year's points suspend or end the qualification, and for how long."""

    suspend_at: int = 9
    suspend_months: int = 1  # the national rule leaves 1–6 months to the bureau; the mildest by default
    terminate_at: int = 12
    terminate_months: int = 12  # no registration again for 1 year
    terminate_at_once_months: int = 36  # 3 years when 12 points were given at once

    def __post_init__(self) -> None:
        # suspend_at equal to terminate_at: no suspension before the termination.
        if not 1 <= self.suspend_at <= self.terminate_at <= MAX_POINTS:
            raise ValueError("the scale needs 1 ≤ suspend_at ≤ terminate_at ≤ 12")
        if min(self.suspend_months, self.terminate_months, self.terminate_at_once_months) < 1:
            raise ValueError("every period of the scale is at least one month")


@dataclass(frozen=True, slots=True)
class SuspensionStart:
    """A suspension the points just caused."""

    level: str  # suspended | terminated
    suspended_from: date
    suspended_until: date  # inclusive
    year_points: int


def band(points: int) -> str:
    """The national band of a single entry: minor 1–3, general 4–6, serious 7–9, grave 10–12."""
    if not 1 <= points <= MAX_POINTS:
        raise ValueError(f"points must be 1–{MAX_POINTS}")
    return ("minor", "general", "serious", "grave")[(points - 1) // 3]


def type_of_code(prac_codg: str) -> tuple[str, ...] | None:
    """The kinds of practitioner a code's identifier allows; None when it is no practitioner code at all."""
    match = _CODE.match(prac_codg)
    if match is None:
        return None
    return tuple(kind for kind, prefixes in PREFIXES.items() if match.group(1) in prefixes)


def add_months(day: date, months: int) -> date:
    """The same day `months` later (the month's last day when it is shorter)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def period_end(start: date, months: int) -> date:
    """The last day of a period of `months` beginning on `start` (e.g. 03-10 + 1 month → 04-09)."""
    return add_months(start, months) - timedelta(days=1)


def suspension_after(
    *, year_points_before: int, points: int, on_date: date, scale: PointsScale
) -> SuspensionStart | None:
    """The suspension an entry starts on its date, if it takes the year's points across a threshold.

    Crossing the termination threshold ends the qualification (even when a suspension is running); crossing
    only the suspension threshold suspends it. An entry that crosses nothing starts nothing.
    """
    after = year_points_before + points
    if year_points_before < scale.terminate_at <= after:
        at_once = points >= scale.terminate_at
        months = scale.terminate_at_once_months if at_once else scale.terminate_months
        return SuspensionStart(TERMINATED, on_date, period_end(on_date, months), after)
    if year_points_before < scale.suspend_at <= after:
        return SuspensionStart(SUSPENDED, on_date, period_end(on_date, scale.suspend_months), after)
    return None


def status_on(periods: list[tuple[str, date, date]], day: date) -> str:
    """A practitioner's status on a day from their (level, from, until) periods not yet ended."""
    levels = {level for level, start, until in periods if start <= day <= until}
    if TERMINATED in levels:
        return TERMINATED
    return SUSPENDED if SUSPENDED in levels else ACTIVE
