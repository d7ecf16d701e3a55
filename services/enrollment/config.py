"""Settings of the enrollment service (environment variables prefixed ENROLLMENT_)."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import ClassVar

from pydantic import field_validator
from pydantic_settings import SettingsConfigDict

from common.config import ServiceSettings
from common.money import yuan_to_fen
from enrollment.domain.waiting import ResidentPolicy

_MONTH_DAY = re.compile(r"^(\d{2})-(\d{2})$")


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ENROLLMENT_", extra="ignore", populate_by_name=True)

    service_name: ClassVar[str] = "enrollment"
    default_port: ClassVar[int] = 8001

    concentrated_period_start: str = "09-01"  # MM-DD, in the year before the coverage year
    concentrated_period_end: str = "12-31"
    waiting_fixed_months: int = 3
    waiting_floor_months: int = 6
    long_break_years: int = 4
    newborn_days: int = 90
    incentive_after_years: int = 4
    incentive_step_yuan: Decimal = Decimal("3000")
    incentive_max_yuan: Decimal = Decimal("80000")

    @field_validator("concentrated_period_start", "concentrated_period_end")
    @classmethod
    def _month_day(cls, value: str) -> str:
        match = _MONTH_DAY.match(value)
        if not match or not (1 <= int(match[1]) <= 12 and 1 <= int(match[2]) <= 31):
            raise ValueError("must be MM-DD, e.g. 09-01")
        return value

    def resident_policy(self) -> ResidentPolicy:
        start_month, start_day = (int(part) for part in self.concentrated_period_start.split("-"))
        end_month, end_day = (int(part) for part in self.concentrated_period_end.split("-"))
        return ResidentPolicy(
            concentrated_start=(start_month, start_day),
            concentrated_end=(end_month, end_day),
            fixed_months=self.waiting_fixed_months,
            floor_months_after_long_break=self.waiting_floor_months,
            long_break_years=self.long_break_years,
            newborn_days=self.newborn_days,
            incentive_after_years=self.incentive_after_years,
            incentive_fen=yuan_to_fen(self.incentive_step_yuan),
            incentive_max_fen=yuan_to_fen(self.incentive_max_yuan),
        )
