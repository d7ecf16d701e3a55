"""Request and response models of sales uploads, reference prices, alerts, the index and the comparison."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidatorFunctionWrapHandler,
    WrapValidator,
)

from common.money import Price, Quantity, Yuan
from pricing.schemas.drugs import FixmedinsCode, MedListCodg, PositivePrice, Strict

MAX_SALES_LINES = 1000
SaleId = Annotated[str, StringConstraints(pattern=r"^[0-9A-Za-z][0-9A-Za-z._:/-]{0,99}$")]
TraceCode = Annotated[str, StringConstraints(pattern=r"^[0-9A-Za-z]{1,64}$")]


def _positive(value: Decimal) -> Decimal:
    if value <= 0:
        raise ValueError("must be greater than 0")
    return value


def _remembered(limit: int = 4096) -> WrapValidator:
    """Validate each distinct wire text once: an upload of 500 lines repeats its prices and quantities, and
    the same text always parses to the same (immutable) Decimal. Only texts that passed every validator are
    kept (a bad one is refused by the same validators every time); the memory is bounded."""
    known: dict[str, Decimal] = {}

    def validate(value: Any, handler: ValidatorFunctionWrapHandler) -> Decimal:
        if type(value) is not str:
            return handler(value)  # type: ignore[no-any-return]
        parsed = known.get(value)
        if parsed is None:
            parsed = handler(value)
            if len(known) >= limit:
                known.clear()
            known[value] = parsed
        return parsed

    return WrapValidator(validate)


class Light(StrEnum):
    GREEN = "green"  # 绿灯
    YELLOW = "yellow"  # 黄灯
    RED = "red"  # 红灯


class AlertLight(StrEnum):
    YELLOW = "yellow"
    RED = "red"


class AlertStatus(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"


class SaleLineIn(Strict):
    """One sale line (like 3505 商品销售): what was sold, at what final price, how many, when."""

    sale_id: SaleId = Field(description="销售流水号 the POS's unique id of the line: a retry sends the same")
    med_list_codg: MedListCodg = Field(description="医保目录编码 drug code")
    finl_trns_pric: Annotated[PositivePrice, _remembered()] = Field(
        description="最终成交单价 final unit price (yuan, ≤ 6 places)"
    )
    cnt: Annotated[Quantity, AfterValidator(_positive), _remembered()] = Field(
        description="数量 quantity (≤ 4 places)"
    )
    sel_time: AwareDatetime = Field(description="销售时间 time of the sale (ISO 8601 with offset)")
    drug_trac_codg: list[TraceCode] = Field(
        default_factory=list, max_length=1000, description="药品追溯码 traceability codes, one per pack"
    )


class SalesIn(Strict):
    """A pharmacy's sales upload; each line is accepted or rejected on its own."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "fixmedins_code": "P42010200001",
                    "sales": [
                        {
                            "sale_id": "S20260302000001",
                            "med_list_codg": "XC10AAA0001010101",
                            "finl_trns_pric": "24.50",
                            "cnt": "2",
                            "sel_time": "2026-03-02T10:15:00+08:00",
                            "drug_trac_codg": ["81234567890123456789", "81234567890123456790"],
                        }
                    ],
                }
            ]
        },
    )

    fixmedins_code: FixmedinsCode = Field(description="定点零售药店编码 the pharmacy")
    sales: list[SaleLineIn] = Field(min_length=1, max_length=MAX_SALES_LINES, description="销售明细 lines")


class SaleResult(BaseModel):
    sale_id: str
    status: str = Field(description="accepted | rejected")
    light: Light | None = Field(default=None, description="红黄绿灯 of the price; null when rejected")
    pric: Price | None = Field(default=None, description="The price as recorded")
    reference_pric: Price | None = Field(
        default=None, description="参考价 the drug's reference in the region"
    )
    diff_ratio: str | None = Field(default=None, description="差值比 price ÷ reference − 1 (4 places)")
    over_procurement: bool | None = Field(default=None, description="Above the factor × 集采中选价")
    replay: bool = Field(default=False, description="The line was already recorded: the original answer")
    reason: str | None = Field(
        default=None,
        description="Why rejected: DRUG_NOT_FOUND, PHARMACY_NOT_FOUND, SALE_ID_CONFLICT, SEL_TIME_IN_FUTURE",
    )
    message: str | None = None


class SalesOut(BaseModel):
    fixmedins_code: str
    accepted: int = Field(description="lines accepted (new or replayed)")
    rejected: int = Field(description="lines rejected, each with its reason")
    results: list[SaleResult] = Field(description="one per line, in the order sent")


class ReferencePriceOut(BaseModel):
    med_list_codg: str
    admdvs: str = Field(description="行政区划 region")
    reference_pric: Price = Field(description="参考价")
    basis: str = Field(description="mode (众数价) | median (中位数)")
    pharmacies: int = Field(description="how many pharmacies' latest prices it is drawn from")
    computed_at: datetime


class RecomputeOut(BaseModel):
    aged_out: int = Field(description="latest prices that left the window")
    references: int = Field(description="reference prices now held")
    previous_references: int = Field(description="reference prices held before the rebuild")
    seconds: float


class AlertOut(BaseModel):
    alert_id: int
    fixmedins_code: str
    med_list_codg: str
    admdvs: str
    light: AlertLight
    status: AlertStatus
    pric: Price = Field(description="the price that raised it")
    reference_pric: Price = Field(description="参考价 then")
    diff_ratio: str = Field(description="差值比")
    over_procurement: bool
    sale_id: str
    occurrences: int = Field(description="sales seen with this light while open")
    raised_at: datetime
    last_seen_at: datetime
    resolved_at: datetime | None
    resolved_by: str | None
    note: str | None


class AlertPage(BaseModel):
    items: list[AlertOut]
    next_cursor: str | None


class ResolveIn(Strict):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"note": "已约谈药店，价格已下调"}]}
    )

    note: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)] = Field(
        description="处理意见 what was done"
    )


class PriceIndexOut(BaseModel):
    fixmedins_code: str
    fixmedins_name: str | None
    admdvs: str | None
    month: str = Field(description="YYYY-MM (Asia/Shanghai dates of the sales)")
    lines: int = Field(description="sale lines counted")
    sales_amount: Yuan = Field(description="Σ(price × qty)")
    reference_amount: Yuan = Field(description="Σ(reference × qty)")
    price_index: str | None = Field(description="量价比较指数, 4 places; null: no sales")
    warning_line: str
    above_warning_line: bool = Field(description="listed for an interview (约谈)")


class RankingOut(BaseModel):
    month: str
    admdvs: str | None
    warning_line: str
    items: list[PriceIndexOut] = Field(description="highest index first")
    listed: list[str] = Field(description="pharmacies above the warning line (约谈名单)")


class ComparedPharmacy(BaseModel):
    fixmedins_code: str
    fixmedins_name: str
    pric: Price = Field(description="its latest price")
    light: Light
    observed_at: datetime = Field(description="when it sold at that price")


class CompareOut(BaseModel):
    med_list_codg: str
    generic_name: str
    spec: str | None
    manufacturer: str | None
    admdvs: str
    reference_pric: Price | None = Field(description="参考价; null: no price in the window")
    pharmacies: list[ComparedPharmacy] = Field(description="cheapest first")


__all__ = ["FixmedinsCode", "MedListCodg"]
