"""Request and response models of POS sale refunds (退货)."""

from __future__ import annotations

from datetime import datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from pricing.schemas.drugs import FixmedinsCode, Strict
from pricing.schemas.monitoring import MAX_SALES_LINES, SaleId

MAX_REFUND_NOTE = 500


class RefundLineIn(Strict):
    """One sale line refunded (退货): which sale, when, and why."""

    sale_id: SaleId = Field(description="销售流水号 the sale_id the line was uploaded with")
    refund_time: AwareDatetime = Field(description="退货时间 time of the refund (ISO 8601 with offset)")
    note: str | None = Field(default=None, max_length=MAX_REFUND_NOTE, description="退货原因 why")


class RefundsIn(Strict):
    """A pharmacy's refunds of sale lines it uploaded; each refund is accepted or rejected on its own."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "fixmedins_code": "P42010200001",
                    "refunds": [
                        {
                            "sale_id": "S20260302000001",
                            "refund_time": "2026-03-02T16:40:00+08:00",
                            "note": "顾客退货 returned unopened",
                        }
                    ],
                }
            ]
        },
    )

    fixmedins_code: FixmedinsCode = Field(description="定点零售药店编码 the pharmacy")
    refunds: list[RefundLineIn] = Field(min_length=1, max_length=MAX_SALES_LINES, description="退货明细")


class RefundResult(BaseModel):
    sale_id: str
    status: str = Field(description="refunded | rejected")
    refund_time: datetime | None = Field(default=None, description="退货时间 as recorded; null when rejected")
    replay: bool = Field(default=False, description="The sale was already refunded so: the original answer")
    reason: str | None = Field(
        default=None,
        description="Why rejected: SALE_NOT_FOUND, SALE_NOT_REFUNDABLE (a pharmacy settlement's line: reverse "
        "the settlement), REFUND_CONFLICT (already refunded at another time), REFUND_BEFORE_SALE, "
        "REFUND_TIME_IN_FUTURE",
    )
    message: str | None = None


class RefundsOut(BaseModel):
    fixmedins_code: str
    refunded: int = Field(description="refunds recorded (new or replayed)")
    rejected: int = Field(description="refunds rejected, each with its reason")
    results: list[RefundResult] = Field(description="one per refund, in the order sent")
