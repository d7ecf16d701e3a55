"""Cases (案件) as pure rules: the appeal window in working days, the penalty scale, the lifecycle's states."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from common.money import fen_half_up

# The lifecycle (疑点核查 → 告知 → 申诉 → 处理决定):
#   notified ──appeal──▶ appealed ──review: upheld──▶ upheld ──decide──▶ decided ──close──▶ closed
#      │                     └──review: overturned (findings dismissed, nothing recovered)──▶ closed
#      ├──refund (自查自纠: recovery = the amounts notified, no penalty)──▶ decided
#      └──decide (once the appeal window has passed without an appeal)──▶ decided
NOTIFIED, APPEALED, UPHELD, DECIDED, CLOSED = "notified", "appealed", "upheld", "decided", "closed"
STATUSES = (NOTIFIED, APPEALED, UPHELD, DECIDED, CLOSED)
LIVE = (NOTIFIED, APPEALED, UPHELD)
# How a case ended: decided by ops, refunded by the institution, or overturned on appeal.
OUTCOME_DECIDED, OUTCOME_REFUNDED, OUTCOME_OVERTURNED = "decided", "refunded", "overturned"


# --- the appeal window ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WorkingCalendar:
    """Monday to Friday, less the statutory holidays (法定节假日), plus the weekend days worked instead (调休)."""

    holidays: frozenset[date] = frozenset()
    makeup_workdays: frozenset[date] = frozenset()

    @classmethod
    def of(cls, holidays: Iterable[date], makeup_workdays: Iterable[date] = ()) -> WorkingCalendar:
        return cls(frozenset(holidays), frozenset(makeup_workdays))

    def is_working_day(self, day: date) -> bool:
        if day in self.makeup_workdays:
            return True
        return day.weekday() < 5 and day not in self.holidays

    def add_working_days(self, start: date, days: int) -> date:
        """The `days`-th working day after `start` (start itself never counts); `start` when days is 0."""
        if days < 0:
            raise ValueError("days must not be negative")
        day, left = start, days
        while left:
            day += timedelta(days=1)
            if self.is_working_day(day):
                left -= 1
        return day


def appeal_deadline(notified_on: date, working_days: int, calendar: WorkingCalendar) -> date:
    """The last day an appeal (or a voluntary refund) is accepted: N working days after the notification date."""
    return calendar.add_working_days(notified_on, working_days)


def window_open(today: date, deadline: date) -> bool:
    """Whether the institution may still answer: up to and including the deadline day."""
    return today <= deadline


# --- the penalty scale (协议处理 / 行政处罚) ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PenaltyBand:
    """The multiples of the recovery a basis allows, inclusive, e.g. 欺诈骗保 2–5 倍 (条例 第四十条)."""

    minimum: Decimal
    maximum: Decimal


class PenaltyOutOfScale(ValueError):
    """A basis the scale does not know, or a multiple outside its band."""

    def __init__(self, message: str, *, code: str, band: PenaltyBand | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.band = band


def check_penalty(scale: Mapping[str, PenaltyBand], basis: str, multiple: Decimal) -> PenaltyBand:
    """The band of `basis`, once `multiple` is checked to lie in it."""
    band = scale.get(basis)
    if band is None:
        raise PenaltyOutOfScale(
            f"penalty_basis {basis!r} is not in the scale ({', '.join(sorted(scale))}).",
            code="PENALTY_BASIS_UNKNOWN",
        )
    if not band.minimum <= multiple <= band.maximum:
        raise PenaltyOutOfScale(
            f"penalty_multiple {multiple} is outside the scale of {basis!r}: {band.minimum} to {band.maximum}.",
            code="PENALTY_MULTIPLE_OUT_OF_SCALE",
            band=band,
        )
    return band


def penalty_fen(recovery_fen: int, multiple: Decimal) -> int:
    """罚款/违约金 = multiple × the recovery, rounded half-up to the fen."""
    return fen_half_up(Decimal(recovery_fen) * multiple)


# --- defaults of the fraud service's settings --------------------------------------------------------------

# 《医疗保障基金使用监督管理条例》: art. 38 (违规: 分解住院, 挂床住院, 过度诊疗, 重复/超标准/分解收费, 串换...):
# 责令退回, 处造成损失金额 1 倍以上 2 倍以下罚款; art. 40 (欺诈骗保: 诱导/协助虚假就医, 伪造/变造/隐匿/
# 涂改/销毁医学文书, 虚构服务...): 责令退回, 处骗取金额 2 倍以上 5 倍以下罚款. "none": 责令退回 only.
DEFAULT_PENALTY_SCALE: dict[str, tuple[Decimal, Decimal]] = {
    "none": (Decimal(0), Decimal(0)),
    "violation": (Decimal(1), Decimal(2)),
    "fraud": (Decimal(2), Decimal(5)),
}


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


# 国务院办公厅关于2026年部分节假日安排的通知 (2025-11-04): the days off, and the weekend days worked instead.
DEFAULT_HOLIDAYS: list[date] = [
    *_days(date(2026, 1, 1), date(2026, 1, 3)),
    *_days(date(2026, 2, 15), date(2026, 2, 23)),
    *_days(date(2026, 4, 4), date(2026, 4, 6)),
    *_days(date(2026, 5, 1), date(2026, 5, 5)),
    *_days(date(2026, 6, 19), date(2026, 6, 21)),
    *_days(date(2026, 9, 25), date(2026, 9, 27)),
    *_days(date(2026, 10, 1), date(2026, 10, 7)),
]
DEFAULT_MAKEUP_WORKDAYS: list[date] = [
    date(2026, 1, 4),
    date(2026, 2, 14),
    date(2026, 2, 28),
    date(2026, 5, 9),
    date(2026, 9, 20),
    date(2026, 10, 10),
]
