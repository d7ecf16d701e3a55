"""Request and response models of payment by points (DRG/DIP), the settlement list and the year clearing."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    StringConstraints,
    WithJsonSchema,
)

from common.money import Yuan, parse_decimal
from settlement.domain.points import Colour, Deviation, Method
from settlement.schemas.reference import FixmedinsCode, Name, Strict

Code = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[0-9A-Za-z][0-9A-Za-z.+\-]{0,29}$")]
"""A diagnosis (ICD-10 医保版) or procedure (ICD-9-CM-3 医保版) code, or a prefix of one."""
GroupCode = Annotated[
    str, StringConstraints(strip_whitespace=True, pattern=r"^[0-9A-Za-z][0-9A-Za-z.\-]{0,19}$")
]
AdrgCode = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[0-9A-Za-z]{1,9}$")]
Year = Annotated[int, Field(ge=2000, le=2100)]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]


class PoolInsutype(StrEnum):
    EMPLOYEE = "310"  # 职工基本医疗保险
    RESIDENT = "390"  # 城乡居民基本医疗保险


def _decimal(places: int, what: str, *, low: Decimal, high: Decimal) -> BeforeValidator:
    def validate(value: Any) -> Decimal:
        number = parse_decimal(value, places=places, what=what, limit=Decimal(10) ** 12)
        if not low <= number <= high:
            raise ValueError(f"{what} must lie between {low} and {high}")
        return number

    return BeforeValidator(validate)


def _schema(places: int, example: str) -> WithJsonSchema:
    return WithJsonSchema(
        {
            "anyOf": [{"type": "string", "pattern": rf"^\d+(\.\d{{1,{places}}})?$"}, {"type": "number"}],
            "examples": [example],
        }
    )


def _text(places: int) -> PlainSerializer:
    return PlainSerializer(lambda d: f"{d:.{places}f}", return_type=str, when_used="json")


_MAX = Decimal(10) ** 9
Points = Annotated[
    Decimal, _decimal(4, "points", low=Decimal(0), high=_MAX), _schema(4, "100.0000"), _text(4)
]
"""Points with at most 4 decimals (string or number; a string of 4 decimals in answers)."""
Share = Annotated[
    Decimal, _decimal(4, "share", low=Decimal(0), high=Decimal(1)), _schema(4, "0.05"), _text(4)
]
"""A share between 0 and 1 with at most 4 decimals."""
Ratio = Annotated[
    Decimal, _decimal(4, "ratio", low=Decimal(0), high=Decimal(100)), _schema(4, "2.0"), _text(4)
]
Coefficient = Annotated[
    Decimal, _decimal(4, "coefficient", low=Decimal("0.0001"), high=Decimal(10)), _schema(4, "1.00"), _text(4)
]
PositiveYuan = Annotated[
    Decimal,
    _decimal(2, "amount", low=Decimal("0.01"), high=Decimal("9999999999.99")),
    _schema(2, "100.00"),
    _text(2),
]
Points4 = Annotated[Decimal, PlainSerializer(lambda d: f"{d:.4f}", return_type=str, when_used="json")]
Value6 = Annotated[Decimal, PlainSerializer(lambda d: f"{d:.6f}", return_type=str, when_used="json")]


# --- payment years -------------------------------------------------------------------------------------


class PaymentYearIn(Strict):
    """A payment year of a pool: the method, the budget and the parameters (docs/points-payment.md), each optional."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"method": "dip", "budget": "30000000.00", "quality_reserve_ratio": "0.05"}]
        },
    )

    method: Method = Field(description="drg (按病组) | dip (按病种分值)")
    budget: PositiveYuan = Field(
        description="年度预算 the pool's money for points-paid inpatient care this year, yuan"
    )
    quality_reserve_ratio: Share = Field(
        Decimal("0.05"), description="q: 质量保证金 share withheld each month"
    )
    low_ratio: Ratio = Field(Decimal("0.4"), description="below it a case is 低倍率 (base × r)")
    high_ratio: Ratio = Field(Decimal("2.0"), description="above it a case is 高倍率 (base × (r − high + 1))")
    keep: Share = Field(Decimal("0.15"), description="结余留用: the share of E a surplus may keep")
    share: Share = Field(
        Decimal("0.5"), description="超支分担: the pool's share of an overspend inside the band"
    )
    band: Share = Field(Decimal("0.10"), description="the band of E within which an overspend is shared")
    yuan_per_point: PositiveYuan = Field(
        Decimal("100"), description="an ungrouped case's points = medfee ÷ this"
    )
    coefficient_lv1: Coefficient = Field(
        Decimal("0.80"), description="default coefficient of a level-1 hospital"
    )
    coefficient_lv2: Coefficient = Field(
        Decimal("0.90"), description="default coefficient of a level-2 hospital"
    )
    coefficient_lv3: Coefficient = Field(
        Decimal("1.00"), description="default coefficient of a level-3 hospital"
    )


class PaymentYearRow(PaymentYearIn):
    """One payment year of a bulk load."""

    year: Year = Field(description="付费年度")
    insutype: PoolInsutype = Field(description="险种 310 职工 | 390 居民")


class PaymentYearOut(PaymentYearRow):
    model_config = ConfigDict(extra="ignore")
    cleared: str | None = Field(description="the year clearing's status (draft | confirmed | locked) or null")
    updated_at: datetime


class PaymentYearList(BaseModel):
    items: list[PaymentYearOut]


# --- groups, DIP rows, DRG tables ----------------------------------------------------------------------


class GroupIn(Strict):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "group_name": "胆囊结石伴胆囊炎：腹腔镜胆囊切除术",
                    "points": "85.2300",
                    "avg_cost": "12000.00",
                }
            ]
        },
    )

    group_name: Name = Field(description="病组/病种名称")
    points: Points = Field(description="分值/权重 points of the group (4 decimals)")
    avg_cost: PositiveYuan = Field(description="the group's base-year average cost per case, yuan")


class GroupRow(GroupIn):
    group_code: GroupCode = Field(description="病组/病种编码")


class GroupOut(GroupRow):
    model_config = ConfigDict(extra="ignore")
    year: int
    updated_at: datetime


class DipRowIn(Strict):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"group_code": "K80.1-51.23"}]})

    group_code: GroupCode = Field(description="the DIP group the row leads to")


class DipRowRow(DipRowIn):
    dise_prefix: Code = Field(description="main-diagnosis prefix, e.g. K80.1")
    oprn_code: Code | None = Field(None, description="procedure code; absent or empty: conservative 保守治疗")


class DipRowOut(BaseModel):
    year: int
    dise_prefix: str
    oprn_code: str | None = Field(description="null: the conservative row")
    group_code: str
    updated_at: datetime


def _codes(value: Any) -> Any:
    """A list of codes, or a CSV cell of them separated by `|`."""
    if isinstance(value, str):
        return [part for part in (p.strip() for p in value.split("|")) if part]
    return value


CodeList = Annotated[list[Code], BeforeValidator(_codes), Field(max_length=2000)]


class AdrgIn(Strict):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "adrg_name": "胆囊切除术",
                    "dise_prefixes": ["K80", "K81"],
                    "oprn_codes": ["51.2200", "51.2300"],
                    "priority": 10,
                }
            ]
        },
    )

    adrg_name: Name | None = Field(None, description="核心疾病诊断相关组名称")
    dise_prefixes: CodeList = Field(min_length=1, description="main-diagnosis prefixes (CSV: K80|K81)")
    oprn_codes: CodeList = Field(default_factory=list, description="procedures; empty: a medical ADRG")
    priority: int = Field(ge=0, le=100_000, description="lower wins among ADRGs of the same kind")


class AdrgRow(AdrgIn):
    adrg: AdrgCode = Field(description="ADRG code, e.g. HC2 (its groups are HC21, HC23, HC25)")


class AdrgOut(AdrgRow):
    model_config = ConfigDict(extra="ignore")
    year: int
    updated_at: datetime


class ComplicationLevel(StrEnum):
    MCC = "mcc"  # 严重并发症或合并症
    CC = "cc"  # 并发症或合并症


class ComplicationIn(Strict):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"level": "mcc"}]})

    level: ComplicationLevel


class ComplicationRow(ComplicationIn):
    dise_prefix: Code


class ComplicationOut(ComplicationRow):
    model_config = ConfigDict(extra="ignore")
    year: int
    updated_at: datetime


class RowPage(BaseModel):
    items: list[Any]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; null on the last")


class GroupPage(RowPage):
    items: list[GroupOut]


class DipRowPage(RowPage):
    items: list[DipRowOut]


class AdrgPage(RowPage):
    items: list[AdrgOut]


class ComplicationPage(RowPage):
    items: list[ComplicationOut]


# --- quality scores ------------------------------------------------------------------------------------


class QualityScoreIn(Strict):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"score": "0.95"}]})

    score: Share = Field(description="s_i: the year's quality assessment, 0 to 1")


class QualityScoreRow(QualityScoreIn):
    year: Year
    insutype: PoolInsutype
    fixmedins_code: FixmedinsCode


class QualityScoreOut(QualityScoreRow):
    model_config = ConfigDict(extra="ignore")
    updated_at: datetime


class QualityScoreList(BaseModel):
    items: list[QualityScoreOut]


# --- the settlement list (医保结算清单) ------------------------------------------------------------------


class ListDiagnosis(Strict):
    dise_codg: Code = Field(description="诊断代码 (医保版 ICD-10)")
    dise_name: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] | None = None
    main: bool = Field(False, description="主要诊断 the main diagnosis (exactly one)")


class ListProcedure(Strict):
    oprn_codg: Code = Field(description="手术操作代码 (医保版 ICD-9-CM-3)")
    oprn_name: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] | None = None
    main: bool = Field(False, description="主要手术 the main procedure (exactly one when there are any)")
    oprn_date: date | None = None


class SettlementListIn(Strict):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "diagnoses": [
                        {"dise_codg": "K80.100", "dise_name": "胆囊结石伴胆囊炎", "main": True},
                        {"dise_codg": "E11.900", "dise_name": "2型糖尿病", "main": False},
                    ],
                    "procedures": [
                        {
                            "oprn_codg": "51.2300",
                            "oprn_name": "腹腔镜胆囊切除术",
                            "main": True,
                            "oprn_date": "2026-03-02",
                        }
                    ],
                }
            ]
        },
    )

    diagnoses: list[ListDiagnosis] = Field(min_length=1, max_length=50, description="诊断信息")
    procedures: list[ListProcedure] = Field(default_factory=list, max_length=50, description="手术操作信息")


class SettlementListOut(SettlementListIn):
    model_config = ConfigDict(extra="ignore")
    setl_id: str
    fixmedins_code: str
    year: int
    revision: int = Field(description="1 for the first upload, +1 for each replacement")
    uploaded_at: datetime
    uploaded_by: str


# --- a case's grouping and 特例单议 ------------------------------------------------------------------------


class SpecialPointsIn(Strict):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"points": "85.5000", "reason": "罕见病多学科会诊，专家评审认定"}]},
    )

    points: Points = Field(description="the case's points, set by hand")
    reason: Reason = Field(description="特例单议 why")


class SpecialOut(BaseModel):
    points: Points4
    reason: str
    set_by: str
    set_at: datetime


class CodingOut(BaseModel):
    main_diagnosis: str | None
    secondary_diagnoses: list[str]
    procedures: list[str] = Field(description="the main procedure first")
    from_list: bool = Field(
        description="true: from the 医保结算清单; false: the visit's diagnosis, no procedure"
    )


class CaseOut(BaseModel):
    setl_id: str
    mdtrt_id: str
    fixmedins_code: str
    insutype: str
    year: int
    business_date: date
    method: Method
    coding: CodingOut
    group_code: str | None = Field(description="null: ungrouped (未入组)")
    group_name: str | None
    why: str = Field(description="how the grouper chose, in words")
    ratio: Decimal | None = Field(description="r = medfee ÷ the group's avg_cost, 4 decimals")
    base_points: Points4 | None
    coefficient: Decimal | None
    deviation: Deviation
    points: Points4 = Field(description="the case's points (特例单议 when `special` is set)")
    special: SpecialOut | None
    medfee_sumamt: Yuan
    hifp_pay: Yuan


class CasePage(BaseModel):
    items: list[CaseOut]
    next_cursor: str | None


# --- the year clearing -----------------------------------------------------------------------------------


class ClearingIn(Strict):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"year": 2026, "insutype": "390"}]}
    )

    year: Year
    insutype: PoolInsutype


class ClearingStatus(StrEnum):
    DRAFT = "draft"
    CONFIRMED = "confirmed"
    LOCKED = "locked"


class ClearingLineOut(BaseModel):
    fixmedins_code: str
    cases: int
    points: Points4 = Field(description="T_i")
    cmi: Points4 | None = Field(description="T_i ÷ cases")
    n: Yuan = Field(description="N_i: what anyone but the basic pool paid")
    f: Yuan = Field(description="F_i: what the basic pool paid")
    e: Yuan = Field(description="E_i = T_i × PV − N_i")
    a: Yuan = Field(description="A_i after 结余留用 / 超支分担")
    withheld: Yuan = Field(description="W_i: the months' quality reserves")
    score: Share = Field(description="s_i")
    final: Yuan = Field(description="final_i = A_i × (1 − q × (1 − s_i))")
    paid: Yuan = Field(description="P_i = F_i − W_i")
    clearing: Yuan = Field(description="C_i = final_i − P_i: positive paid out, negative recovered")
    colour: Colour
    low_cases: int
    high_cases: int
    ungrouped_cases: int
    special_cases: int
    disbursement_id: int | None
    deduction_id: str | None


class ClearingOut(BaseModel):
    year: int
    insutype: str
    status: ClearingStatus
    method: Method
    budget: Yuan
    parameters: dict[str, str]
    cases: int
    total_points: Points4 = Field(description="T")
    n: Yuan = Field(description="N")
    f: Yuan = Field(description="F")
    point_value: Value6 | None = Field(description="PV = (budget + N) ÷ T, yuan per point")
    clearing_total: Yuan = Field(description="Σ C_i")
    computed_at: datetime
    computed_by: str
    confirmed_at: datetime | None
    confirmed_by: str | None
    locked_at: datetime | None
    locked_by: str | None
    lines: list[ClearingLineOut]


class CaseKind(StrEnum):
    LOW = "low"
    HIGH = "high"
    UNGROUPED = "ungrouped"
    SPECIAL = "special"


# --- budget execution ------------------------------------------------------------------------------------


class ExecutionLineOut(BaseModel):
    fixmedins_code: str
    cases: int
    points: Points4
    f: Yuan
    n: Yuan
    e: Yuan = Field(description="provisional entitlement at the provisional point value")
    overrun: Decimal | None = Field(description="(F − E) ÷ E, 4 decimals; null when E ≤ 0")
    colour: Colour


class BudgetExecutionOut(BaseModel):
    year: int
    insutype: str
    method: Method
    on: date = Field(description="the day the figures run to")
    budget: Yuan
    year_share: Decimal = Field(description="the share of the year gone, 4 decimals")
    spent_share: Decimal = Field(description="F ÷ budget, 4 decimals")
    warning: bool = Field(description="spent_share runs ahead of year_share by more than 0.05")
    cases: int
    points: Points4
    f: Yuan
    n: Yuan
    provisional_point_value: Value6 | None
    institutions: list[ExecutionLineOut]
