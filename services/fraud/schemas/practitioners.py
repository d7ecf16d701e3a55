"""Request and response models of practitioners (医保支付资格管理): registry, points (记分), suspensions."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from common.national import PRAC_CODE_EXAMPLE, PRAC_CODE_PATTERN, PRAC_CODE_RULE

PracCode = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=13, max_length=14, pattern=PRAC_CODE_PATTERN)
]
FixmedinsCode = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=30, pattern=r"^[0-9A-Za-z_.-]+$")
]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
SourceId = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40, pattern=r"^[0-9A-Za-z_.:-]+$")
]
PracType = Literal["doctor", "pharmacist", "nurse", "technician"]
PracStatus = Literal["active", "suspended", "terminated"]
Level = Literal["suspended", "terminated"]


class PractitionerIn(BaseModel):
    """登记备案 register a practitioner with their institution (no names: the code identifies them)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"prac_codg": PRAC_CODE_EXAMPLE, "prac_type": "doctor", "fixmedins_code": "H42010000001"}
            ]
        },
    )

    prac_codg: PracCode = Field(description=f"医保医师/药师/护士代码: {PRAC_CODE_RULE}")
    prac_type: PracType = Field(
        description="类别 doctor (医师, D…) | pharmacist (药师, Y… or HY…) | nurse (护士, N…) | technician "
        "(技术类, HJ…); must agree with the code's identifier (422 PRACTITIONER_TYPE_MISMATCH)"
    )
    fixmedins_code: FixmedinsCode = Field(
        description="定点医药机构编号 the institution they practise at; an institution's key registers only its own"
    )


class PractitionerOut(BaseModel):
    prac_codg: str = Field(description="医保医师/药师/护士代码")
    prac_type: PracType = Field(description="类别")
    fixmedins_code: str = Field(description="定点医药机构编号")
    status: PracStatus = Field(
        description="医保支付资格 active (正常) | suspended (暂停) | terminated (终止), as of the last change; "
        "settlement decides by the periods, not by this"
    )
    registered_at: datetime
    updated_at: datetime


class PractitionerPage(BaseModel):
    items: list[PractitionerOut] = Field(description="by code, descending")
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; null on the last")


class PointsIn(BaseModel):
    """记分 points against a practitioner for a violation (ops only)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "points": 6,
                    "reason": "开具与诊断不符的检查，所在科室受行政处罚，负主要责任",
                    "source": "finding",
                    "source_id": "12",
                    "on_date": "2026-03-02",
                },
                {"points": 3, "reason": "无正当理由使用高价非中选产品，被通报", "source": "manual"},
            ]
        },
    )

    points: int = Field(
        ge=1,
        le=12,
        description="记分 1–12: minor 1–3, general 4–6, serious 7–9, grave (e.g. fraud, 欺诈骗保) 10–12",
    )
    reason: Reason = Field(description="记分事由 why (no personal data)")
    source: Literal["finding", "manual"] = Field(
        default="manual",
        description="来源 finding (a confirmed finding, source_id its id) | manual; a case decision gives its "
        "points itself",
    )
    source_id: SourceId | None = Field(
        default=None, description="the finding's id; a finding gives a practitioner points once"
    )
    on_date: date | None = Field(
        default=None,
        description="记分日期 the date the points count from (its calendar year; a suspension starts on it); "
        "default today, never after today",
    )


class PointsEntryOut(BaseModel):
    entry_id: int
    prac_codg: str
    points: int
    band: str = Field(description="minor (1–3) | general (4–6) | serious (7–9) | grave (10–12)")
    year: int = Field(description="the calendar year it counts in")
    reason: str
    source: str = Field(description="finding | case | manual")
    source_id: str | None
    on_date: date
    recorded_at: datetime
    recorded_by: str


class SuspensionOut(BaseModel):
    suspension_id: int
    prac_codg: str
    fixmedins_code: str
    level: Level = Field(description="suspended (暂停) | terminated (终止)")
    suspended_from: date = Field(description="first day refused")
    suspended_until: date = Field(description="last day refused (inclusive)")
    points: int = Field(description="the year's points when it began")
    reinstated_on: date | None = Field(description="first day paid again, once the sweep ended it")


class PointsOut(BaseModel):
    entry: PointsEntryOut
    year_points: int = Field(description="the practitioner's points in the entry's calendar year, after it")
    suspension: SuspensionOut | None = Field(description="the suspension this entry started, if any")


class PractitionerDetail(PractitionerOut):
    year: int = Field(description="the calendar year year_points counts")
    year_points: int = Field(description="记分 points in that year")
    entries: list[PointsEntryOut] = Field(description="every points entry, newest first")
    suspensions: list[SuspensionOut] = Field(description="every suspension, newest first")


class ReinstatementsIn(BaseModel):
    """恢复 end the suspensions whose period is over by a date (idempotent)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"as_of": "2026-04-10"}, {}]})

    as_of: date | None = Field(
        default=None, description="the first day to be paid again; default today, never after today"
    )


class ReinstatementsOut(BaseModel):
    as_of: date
    reinstated: list[SuspensionOut] = Field(description="the suspensions ended now (empty when run again)")
