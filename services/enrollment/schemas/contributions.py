"""Contributions (缴费): one period's payment, bulk loads."""

from __future__ import annotations

from datetime import datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from common.money import Yuan
from enrollment.schemas.base import BulkCreated, BulkRejected, Insutype, Strict


class ContributionIn(Strict):
    """A contribution (缴费) for one period."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "insutype": "310",
                    "period": "2026-01",
                    "amount": "800.00",
                    "paid_at": "2026-01-15T10:00:00+08:00",
                },
                {
                    "insutype": "390",
                    "period": "2026",
                    "amount": "400.00",
                    "paid_at": "2025-11-02T09:30:00+08:00",
                },
            ]
        },
    )

    insutype: Insutype
    period: str = Field(description="缴费期 YYYY for 390, YYYY-MM for 310", max_length=7)
    amount: Yuan = Field(description="缴费金额 amount (yuan)")
    paid_at: AwareDatetime = Field(description="缴费时间 time of payment, ISO 8601 with offset")
    acct_amount: Yuan | None = Field(
        None,
        description="划入个人账户 part credited to the personal account: for 310 default amount × 2 ÷ 10; "
        "for 390 always 0",
    )


class BulkContributionItem(ContributionIn):
    """One contribution of a bulk load: the person and the contribution."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "psn_no": "P4201000000001",
                    "insutype": "310",
                    "period": "2026-01",
                    "amount": "800.00",
                    "paid_at": "2026-01-15T10:00:00+08:00",
                }
            ]
        },
    )
    psn_no: str = Field(min_length=1, max_length=30, description="人员编号 the contributor")


class BulkContributionsIn(Strict):
    """Initial load: many contributions at once (at most 10,000 per call), idempotent per person and period."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "contributions": [
                        {
                            "psn_no": "P4201000000001",
                            "insutype": "310",
                            "period": "2026-01",
                            "amount": "800.00",
                            "paid_at": "2026-01-15T10:00:00+08:00",
                        },
                        {
                            "psn_no": "P4201000000002",
                            "insutype": "390",
                            "period": "2026",
                            "amount": "400.00",
                            "paid_at": "2025-11-02T09:30:00+08:00",
                        },
                    ]
                }
            ]
        },
    )

    contributions: list[BulkContributionItem] = Field(min_length=1, max_length=10_000)


class BulkContributionsOut(BaseModel):
    created: list[BulkCreated]
    existing: list[BulkCreated] = Field(description="the same contribution was recorded before (a retry)")
    rejected: list[BulkRejected]


class ContributionOut(BaseModel):
    contribution_id: int
    psn_no: str
    insutype: str
    period: str
    amount: Yuan
    acct_amount: Yuan
    paid_at: datetime
    back_payment: bool = Field(description="补缴: paid after its period; repairs a break, covers nothing")
