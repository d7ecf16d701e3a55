"""Request and response models of the rule library (规则库): families, instances, versions, backtests."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from common.money import Yuan

Severity = Literal["info", "warn", "block"]
Scope = Literal["pre", "in", "post"]
RuleName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Note = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)]
ParamsIn = Annotated[
    dict[str, int | float | str | list[str] | dict[str, int | float | str]],
    Field(
        description="参数 parameters of the family (see GET /rule-families); omitted ones keep their value. "
        "Numbers as numbers or strings; `codes` as a list of codes; `yuan_map` as an object of amounts"
    ),
]


class ParamDoc(BaseModel):
    name: str = Field(description="参数名 parameter name")
    type: Literal["integer", "decimal", "codes", "yuan_map"] = Field(
        description="类型 integer; decimal (as a string); codes (a list of code prefixes); yuan_map (amounts "
        "by key, as strings)"
    )
    default: int | str | list[str] | dict[str, str] = Field(description="默认值 default")
    minimum: int | str = Field(
        description="最小值 smallest allowed (codes: fewest entries; yuan_map: smallest amount)"
    )
    maximum: int | str = Field(
        description="最大值 largest allowed (codes: most entries; yuan_map: largest amount)"
    )
    keys: list[str] | None = Field(default=None, description="yuan_map: the keys it takes")
    description: str = Field(description="说明 what it means")


class RuleFamilyOut(BaseModel):
    family: str = Field(description="规则类别 family name, e.g. admission_frequency")
    title: str = Field(description="名称 name in Chinese and English")
    description: str = Field(description="说明 what it flags")
    category: Literal["fraud", "assistance"] = Field(
        description="类别 fraud (欺诈骗保), or assistance (医疗救助 monitoring, not fraud)"
    )
    default_severity: Severity = Field(description="默认严重程度 shipped severity")
    default_scope: Scope = Field(description="默认环节 shipped scope: 事前 pre, 事中 in, 事后 post")
    params: list[ParamDoc] = Field(description="参数 its parameters")


class RuleIn(BaseModel):
    """A new rule instance of a built-in family."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "family": "admission_frequency",
                    "name": "半年内住院4次",
                    "params": {"min_admissions": 4, "window_days": 182},
                    "severity": "warn",
                    "scope": "post",
                    "enabled": True,
                    "note": "2026年专项检查",
                }
            ]
        },
    )

    family: str = Field(max_length=40, description="规则类别 family (GET /rule-families)")
    name: RuleName | None = Field(default=None, description="规则名称 name; default: the family's title")
    params: ParamsIn = Field(default_factory=dict)
    severity: Severity | None = Field(
        default=None, description="严重程度 info | warn | block; default: family's"
    )
    scope: Scope | None = Field(default=None, description="环节 pre | in | post; default: the family's")
    enabled: bool = Field(default=True, description="是否启用 enabled")
    note: Note | None = Field(default=None, description="备注 why")


class RuleUpdate(BaseModel):
    """An edit of a rule instance: a new version; omitted fields keep their value."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "params": {"min_admissions": 4},
                    "severity": "warn",
                    "enabled": True,
                    "note": "阈值调整为4次",
                }
            ]
        },
    )

    name: RuleName | None = Field(default=None, description="规则名称 name")
    params: ParamsIn | None = None
    severity: Severity | None = Field(default=None, description="严重程度 info | warn | block")
    scope: Scope | None = Field(default=None, description="环节 pre | in | post")
    enabled: bool | None = Field(default=None, description="是否启用 enabled")
    note: Note | None = Field(default=None, description="备注 why it changed")


class RuleOut(BaseModel):
    rule_id: int = Field(description="规则ID")
    family: str = Field(description="规则类别 family")
    name: str = Field(description="规则名称")
    version: int = Field(description="版本 current version (every edit makes a new one)")
    params: dict[str, Any] = Field(description="参数 parameters (decimals as strings)")
    severity: Severity = Field(description="严重程度")
    scope: Scope = Field(description="环节")
    enabled: bool = Field(description="是否启用")
    category: Literal["fraud", "assistance"] = Field(description="类别")
    builtin: bool = Field(description="随系统发布 shipped with the service")
    updated_at: datetime = Field(description="更新时间")
    updated_by: str = Field(description="更新人")


class RuleVersionOut(BaseModel):
    rule_id: int
    version: int
    name: str
    params: dict[str, Any]
    severity: Severity
    scope: Scope
    enabled: bool
    note: str | None
    created_at: datetime
    created_by: str


class BacktestIn(BaseModel):
    """Run a rule instance (optionally with other parameters) over a range of settled history."""

    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
        json_schema_extra={
            "examples": [{"from": "2026-01-01", "to": "2026-03-31", "params": {"min_admissions": 2}}]
        },
    )

    from_date: date = Field(alias="from", description="起始日期 first settlement date (Asia/Shanghai)")
    to_date: date = Field(alias="to", description="截止日期 last settlement date, inclusive")
    params: ParamsIn | None = None

    @model_validator(mode="after")
    def _ordered(self) -> BacktestIn:
        if self.to_date < self.from_date:
            raise ValueError("`to` must not be before `from`")
        if (self.to_date - self.from_date).days > 366:
            raise ValueError("a backtest covers at most 366 days")
        return self


class BacktestHit(BaseModel):
    setl_id: str | None = Field(description="结算ID; null for an institution-level rule's hit")
    psn_no: str | None = Field(description="人员编号; null for an institution-level rule's hit")
    fixmedins_code: str = Field(description="定点医药机构编码")
    setl_date: date | None = Field(description="结算日期; null for an institution-level rule's hit")
    month: str | None = Field(default=None, description="月份 of an institution-level rule's hit")
    message: str = Field(description="说明")
    feedetl_sn: str | None = Field(description="费用明细流水号")
    vola_amt: Yuan | None = Field(description="违规金额")


class BacktestOut(BaseModel):
    rule_id: int
    family: str
    params: dict[str, Any] = Field(description="参数 the parameters it ran with")
    from_date: date = Field(serialization_alias="from")
    to_date: date = Field(serialization_alias="to")
    settlements_examined: int = Field(description="检查的结算数 settled, unreversed claims in the range")
    settlements_flagged: int = Field(description="命中的结算数")
    hits: int = Field(description="命中次数")
    findings_it_would_raise: int = Field(description="疑点数 distinct findings (by finding key)")
    vola_amt: Yuan = Field(description="违规金额合计 sum over hits")
    truncated: bool = Field(description="true: the range held more claims than a backtest examines")
    sample: list[BacktestHit] = Field(description="样例 the first hits, oldest first")
