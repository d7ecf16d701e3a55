"""Coverages (参保关系): enrolment, status changes, assistance, bulk loads."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field

from common.money import Yuan
from enrollment.schemas.base import (
    Assistance,
    BulkCreated,
    BulkRejected,
    CoverageStatus,
    EmpCode,
    Insutype,
    PsnType,
    Reason,
    Strict,
)


class CoverageIn(Strict):
    """Enroll a person in basic insurance (参保)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "insutype": "310",
                    "begndate": "2026-01-01",
                    "emp_code": "91420100MA4K123456",
                    "psn_type": "employed",
                },
                {"insutype": "390", "begndate": "2026-01-01", "assistance": "minimum_living"},
            ]
        },
    )

    insutype: Insutype = Field(
        description="险种 310 职工基本医疗保险 employee | 390 城乡居民基本医疗保险 resident"
    )
    begndate: date = Field(description="开始日期 first day of coverage")
    emp_code: EmpCode | None = Field(None, description="单位编号 employer code (310 only, required)")
    psn_type: PsnType | None = Field(None, description="人员类别 employed 在职 | retired 退休 (310 only)")
    assistance: Assistance | None = Field(None, description="医疗救助类别 assistance category")
    enrolled_on: date | None = Field(
        None, description="参保登记日期 date of enrolment (default today; earlier dates load history)"
    )


class SuspensionOut(BaseModel):
    from_date: date
    to_date: date | None


class CoverageOut(BaseModel):
    coverage_id: int
    psn_no: str
    insutype: str
    attached_insutypes: list[str] = Field(description="330 with 310, 392 with 390")
    status: CoverageStatus
    begndate: date
    enddate: date | None
    emp_code: str | None
    psn_type: str | None
    assistance: str | None
    enrolled_on: date
    benefit_start_date: date = Field(description="待遇享受开始日期 first day the fund pays")
    waiting_months: int = Field(description="待遇等待期 months (fixed + variable)")
    break_years: int = Field(description="断保年数 years without coverage before this one")
    continuous_years: int = Field(description="连续参保年数")
    incentive_raise: Yuan = Field(description="大病保险最高支付限额提高额 raise of the critical-illness cap")
    suspensions: list[SuspensionOut]
    end_reason: str | None


class StatusChangeIn(Strict):
    """Suspend or resume a coverage from a date (default today)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"date": "2026-03-01", "reason": "单位停缴 employer stopped paying"}]
        },
    )

    date_: date | None = Field(None, alias="date", description="生效日期 effective date (default today)")
    reason: Reason | None = None


class EndCoverageIn(Strict):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"enddate": "2026-06-30", "reason": "转出 moved to another city"}]},
    )

    enddate: date = Field(description="终止日期 last day covered")
    reason: Reason | None = None


class AssistanceIn(Strict):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"assistance": "minimum_living"}, {"assistance": None}]},
    )

    assistance: Assistance | None = Field(description="new assistance category, or null to clear it")


class BulkCoverageItem(CoverageIn):
    """One enrolment of a bulk load: the person and the coverage."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "psn_no": "P4201000000001",
                    "insutype": "310",
                    "begndate": "2026-01-01",
                    "emp_code": "91420100MA4K123456",
                    "psn_type": "employed",
                }
            ]
        },
    )
    psn_no: str = Field(min_length=1, max_length=30, description="人员编号 the person enrolled")


class BulkCoveragesIn(Strict):
    """Initial load: many enrolments at once (at most 10,000 per call), each under the rules of one."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "coverages": [
                        {
                            "psn_no": "P4201000000001",
                            "insutype": "310",
                            "begndate": "2026-01-01",
                            "emp_code": "91420100MA4K123456",
                        },
                        {"psn_no": "P4201000000002", "insutype": "390", "begndate": "2026-01-01"},
                    ]
                }
            ]
        },
    )

    coverages: list[BulkCoverageItem] = Field(min_length=1, max_length=10_000)


class BulkCoveragesOut(BaseModel):
    created: list[BulkCreated]
    rejected: list[BulkRejected] = Field(description="items refused, each with the code one call would give")
