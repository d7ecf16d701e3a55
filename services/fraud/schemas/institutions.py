"""Request and response models of the institution-level rules' monthly run and the monthly warnings (每月推送预警)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from common.money import Yuan

MONTH_PATTERN = r"^20[0-9]{2}-(0[1-9]|1[0-2])$"
Month = Annotated[str, StringConstraints(pattern=MONTH_PATTERN)]
"""A calendar month YYYY-MM (settlement dates, Asia/Shanghai), 2000-01 to 2099-12."""


class MonthIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"month": "2026-03"}]})

    month: Month = Field(
        description="月份 YYYY-MM, by settlement date (Asia/Shanghai); the month must be over"
    )


class RuleRunOut(BaseModel):
    rule_id: int = Field(description="规则ID")
    version: int = Field(description="规则版本 the version that ran")
    family: str = Field(description="规则类别")
    hits: int = Field(description="命中次数 hits this run")
    raised: int = Field(
        description="新增疑点 findings raised (a hit already raised in an earlier run is not)"
    )


class RunOut(BaseModel):
    month: str = Field(description="月份")
    institutions: int = Field(description="机构数 institutions with settlements in the month")
    settlements: int = Field(description="结算数 standing settlements of the month")
    rules: list[RuleRunOut] = Field(description="Each enabled institution-level rule, by id")
    finding_ids: list[int] = Field(description="The findings raised by this run")


# --- warnings --------------------------------------------------------------------------------------------


class WarningFamilyOut(BaseModel):
    family: str = Field(description="规则类别")
    count: int = Field(description="未处理疑点数 open findings")
    vola_amt: Yuan = Field(description="违规金额 the amount they concern")


class WarningFindingsOut(BaseModel):
    count: int = Field(description="未处理疑点数 the institution's open fraud findings when published")
    vola_amt: Yuan = Field(description="违规金额合计")
    by_family: list[WarningFamilyOut] = Field(description="按规则类别 by family")


class WarningDeviationOut(BaseModel):
    metric: str = Field(
        description="指标 cost_per_case 次均住院费用 | admissions_per_person 人次人头比 | drug_share 药占比"
    )
    value: str | None = Field(
        description="本机构 the institution's figure (yuan, ratio or share 0–1, 4 places)"
    )
    peers_mean: str | None = Field(description="同级均值 the mean of its peers of the same hosp_lv")
    peers: int = Field(description="同级机构数 how many peers")
    ratio: str | None = Field(description="倍数 value ÷ peers_mean")
    above: bool = Field(description="超过阈值 above k × the peers' mean (institution_outlier's multiple)")


class WarningScanRateOut(BaseModel):
    lines_needing: int = Field(description="需扫码药品明细数")
    lines_scanned: int = Field(description="已扫码明细数")
    rate: str | None = Field(description="扫码率 4 places; null when no line needed a code")


class WarningOut(BaseModel):
    warning_id: int = Field(description="预警ID")
    fixmedins_code: str = Field(description="定点医药机构编码")
    month: str = Field(description="月份")
    version: int = Field(description="版本 1, then +1 each time a publication changed what it says")
    open_findings: WarningFindingsOut = Field(description="未处理疑点")
    deviations: list[WarningDeviationOut] = Field(description="指标偏离 its figures against its peers")
    scan_rate: WarningScanRateOut | None = Field(description="追溯码扫码率 of the month")
    published_at: datetime = Field(description="推送时间")
    published_by: str = Field(description="推送人")


class WarningPage(BaseModel):
    items: list[WarningOut] = Field(description="the latest version of each, newest first")
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; null on the last")


class PublishOut(BaseModel):
    month: str = Field(description="月份")
    published: list[int] = Field(description="预警ID of the warnings published now (new, or a new version)")
    unchanged: int = Field(description="Institutions whose warning already said the same: nothing sent again")
