"""The eligibility look-up (待遇资格, 1101-style)."""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from pydantic import BaseModel, Field

from common.money import Yuan


class IneligibleReason(StrEnum):
    NO_COVERAGE = "NO_COVERAGE"
    SUSPENDED = "SUSPENDED"
    WAITING_PERIOD = "WAITING_PERIOD"
    DECEASED = "DECEASED"


class EligibilityOut(BaseModel):
    """The 1101-style look-up HIS calls first."""

    eligible: bool
    psn_no: str
    date_: date = Field(serialization_alias="date", description="the date asked about")
    insutype: str | None = Field(description="the insutype asked for (or the basic one)")
    coverage_id: int | None
    psn_type: str | None
    assistance: str | None
    benefit_start_date: date | None
    waiting_days: int = Field(description="days left until the fund pays (0 when eligible)")
    incentive_raise: Yuan | None = Field(description="critical-illness cap raise (residents)")
    reason: IneligibleReason | None = Field(description="why not eligible")
