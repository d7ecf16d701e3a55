"""Request and response models of drug reference data and of the monitoring settings."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints

from common.money import Price, parse_decimal

FixmedinsCode = Annotated[str, StringConstraints(pattern=r"^[0-9A-Za-z]{1,30}$")]
"""定点医药机构编码, e.g. P42010200001 (a pharmacy)."""
MedListCodg = Annotated[str, StringConstraints(pattern=r"^[0-9A-Za-z][0-9A-Za-z._-]{0,49}$")]
"""医保目录编码 of a drug, e.g. XC10AAA0001010101."""
Admdvs = Annotated[str, StringConstraints(pattern=r"^\d{6}$")]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


def _positive(value: Decimal) -> Decimal:
    if value <= 0:
        raise ValueError("must be greater than 0")
    return value


PositivePrice = Annotated[Price, AfterValidator(_positive)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DrugIn(Strict):
    """A drug's reference data (药品基础信息), created or replaced as a whole."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "generic_name": "阿托伐他汀钙片",
                    "dosage_form": "片剂",
                    "spec": "20mg*7片",
                    "manufacturer": "北京嘉林药业股份有限公司",
                    "listing_price": "25.80",
                    "procurement_price": "4.68",
                }
            ]
        },
    )

    generic_name: Name = Field(description="通用名 generic name")
    dosage_form: Annotated[str, StringConstraints(strip_whitespace=True, max_length=50)] | None = Field(
        default=None, description="剂型 dosage form, e.g. 片剂"
    )
    spec: ShortText | None = Field(default=None, description="规格 specification, e.g. 20mg*7片")
    manufacturer: Name | None = Field(default=None, description="生产企业 manufacturer")
    listing_price: PositivePrice | None = Field(default=None, description="挂网价 listing price (yuan)")
    procurement_price: PositivePrice | None = Field(
        default=None,
        description="集采中选价 centralised-procurement price (yuan); a price above 1.5 × it is red",
    )


class DrugRow(DrugIn):
    """One record of a bulk load: the drug's code and its reference data."""

    model_config = ConfigDict(extra="forbid")

    med_list_codg: MedListCodg = Field(description="医保目录编码 drug code")


class DrugOut(BaseModel):
    med_list_codg: str = Field(description="医保目录编码 drug code")
    generic_name: str = Field(description="通用名 generic name")
    dosage_form: str | None = Field(description="剂型 dosage form")
    spec: str | None = Field(description="规格 specification")
    manufacturer: str | None = Field(description="生产企业 manufacturer")
    listing_price: Price | None = Field(description="挂网价 listing price")
    procurement_price: Price | None = Field(description="集采中选价 procurement price")
    updated_at: datetime


class DrugPage(BaseModel):
    items: list[DrugOut]
    next_cursor: str | None = Field(description="Give it as `cursor` for the next page; null: the last")


class BulkOut(BaseModel):
    created: int = Field(description="新增 records created")
    updated: int = Field(description="更新 records that existed and changed")
    unchanged: int = Field(description="未变 records identical to what was stored")


# --- monitoring settings --------------------------------------------------------------------------------


def _ratio(value: Any) -> Decimal:
    ratio = parse_decimal(value, places=4, what="ratio", limit=Decimal(100))
    if ratio <= 0:
        raise ValueError("must be greater than 0")
    return ratio


Ratio = Annotated[
    Decimal,
    BeforeValidator(_ratio),
    Field(json_schema_extra={"anyOf": [{"type": "string"}, {"type": "number"}]}),
]


class MonitoringSettingsIn(Strict):
    """The thresholds of the lights, the window of the reference price and the index warning line."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "yellow_threshold": "0.15",
                    "red_threshold": "0.30",
                    "procurement_factor": "1.5",
                    "window_days": 30,
                    "index_warning_line": "1.10",
                }
            ]
        },
    )

    yellow_threshold: Ratio = Field(description="黄灯阈值: a difference ratio above it is yellow (0.15)")
    red_threshold: Ratio = Field(description="红灯阈值: a difference ratio above it is red (0.30)")
    procurement_factor: Ratio = Field(description="集采价倍数: a price above it × 集采中选价 is red (1.5)")
    window_days: int = Field(ge=1, le=366, description="参考价窗口 days of the rolling window (30)")
    index_warning_line: Ratio = Field(description="量价比较指数预警线: above it a pharmacy is listed (1.10)")


class MonitoringSettingsOut(BaseModel):
    yellow_threshold: str = Field(description="黄灯阈值")
    red_threshold: str = Field(description="红灯阈值")
    procurement_factor: str = Field(description="集采价倍数")
    window_days: int = Field(description="参考价窗口 (days)")
    index_warning_line: str = Field(description="量价比较指数预警线")
    updated_by: str | None = Field(description="Who set them; null: the defaults")
    updated_at: datetime | None
