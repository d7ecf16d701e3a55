"""Request and response models of settlement's reference data: institutions, the catalogue, the policy."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    StringConstraints,
    WithJsonSchema,
)
from pydantic_core import PydanticCustomError

from common.money import Price, Quantity, Yuan, parse_decimal
from common.national import DEFAULT_BENEFIT, MED_TYPE, Benefit, described
from settlement.domain.policy import DEFAULT_PARAMETERS

FixmedinsCode = Annotated[str, StringConstraints(pattern=r"^[0-9A-Za-z]{1,30}$")]
"""定点医药机构编码, e.g. H42010200001 (a hospital) or P42010200001 (a pharmacy)."""
MedListCodg = Annotated[str, StringConstraints(pattern=r"^[0-9A-Za-z][0-9A-Za-z._-]{0,49}$")]
"""医保目录编码, e.g. XA10BAE054A001010104195 (a drug) or 001102000010000-110200001 (a service)."""
Admdvs = Annotated[str, StringConstraints(pattern=r"^\d{6}$")]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Note = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)]


def _not_bool(value: Any) -> Any:
    # JSON true is not the number 1: an int field given a boolean is a mistake, not a level.
    if isinstance(value, bool):
        raise PydanticCustomError("int_type", "Input should be a valid integer")
    return value


def _positive(value: Decimal) -> Decimal:
    if value <= 0:
        raise ValueError("must be greater than 0")
    return value


def _share(value: Any) -> Decimal:
    share = parse_decimal(value, places=4, what="selfpay_prop", limit=Decimal(1))
    if share < 0:
        raise ValueError("selfpay_prop must lie between 0 and 1")
    return share


def _policy_ratio(value: Any) -> Decimal:
    # Only the form here; the range (0..1) is the policy's own check, answered as INVALID_POLICY.
    return parse_decimal(value, places=4, what="ratio", limit=Decimal(1_000_000))


def _ratio_schema(example: str) -> WithJsonSchema:
    return WithJsonSchema(
        {
            "anyOf": [{"type": "string", "pattern": r"^\d+(\.\d{1,4})?$"}, {"type": "number"}],
            "examples": [example],
        }
    )


_AS_TEXT = PlainSerializer(lambda d: format(d, "f"), return_type=str, when_used="json")

# The bounds before the validator: after it, pydantic would spell them ge/le in the JSON schema.
Level = Annotated[int, Field(ge=1, le=3), BeforeValidator(_not_bool)]
Age = Annotated[int, Field(ge=0, le=150), BeforeValidator(_not_bool)]
SelfpayProp = Annotated[Decimal, BeforeValidator(_share), _ratio_schema("0.10"), _AS_TEXT]
"""A share between 0 and 1 with at most 4 decimals."""
PositivePrice = Annotated[Price, AfterValidator(_positive)]
PositiveQuantity = Annotated[Quantity, AfterValidator(_positive)]
PolicyRatio = Annotated[Decimal, BeforeValidator(_policy_ratio), _ratio_schema("0.85"), _AS_TEXT]
PointsCoefficient = Annotated[
    Decimal,
    BeforeValidator(
        lambda v: _positive(parse_decimal(v, places=4, what="points_coefficient", limit=Decimal(10)))
    ),
    _ratio_schema("1.05"),
    _AS_TEXT,
]
"""An institution's own coefficient for points (0 < c ≤ 10, at most 4 decimals)."""
MedTypeKey = Annotated[str, StringConstraints(pattern=r"^[0-9A-Za-z]{1,6}$")]
"""医疗类别 as a key of the policy's benefits; whether it is a national code is the policy's own check."""


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- institutions ---------------------------------------------------------------------------------------


class FixmedinsType(StrEnum):
    HOSPITAL = "hospital"  # 定点医疗机构
    PHARMACY = "pharmacy"  # 定点零售药店


class InstitutionStatus(StrEnum):
    ACTIVE = "active"  # 正常
    SUSPENDED = "suspended"  # 暂停 (cannot settle)


class InstitutionIn(Strict):
    """A designated institution (定点医药机构), created or replaced as a whole."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "fixmedins_name": "武汉市第一医院",
                    "fixmedins_type": "hospital",
                    "hosp_lv": 3,
                    "admdvs": "420100",
                    "status": "active",
                },
                {
                    "fixmedins_name": "天门市仁和大药房",
                    "fixmedins_type": "pharmacy",
                    "admdvs": "429006",
                    "status": "active",
                },
            ]
        },
    )

    fixmedins_name: Name = Field(description="定点医药机构名称 name")
    fixmedins_type: FixmedinsType = Field(
        description="机构类型 type: hospital 定点医疗机构 | pharmacy 定点零售药店"
    )
    hosp_lv: Level | None = Field(
        None,
        description="医院等级 hospital level 1 一级, 2 二级, 3 三级; required for a hospital, "
        "absent (or null) for a pharmacy",
    )
    admdvs: Admdvs = Field(description="所在行政区划 region code, 6 digits (420100 武汉)")
    status: InstitutionStatus = Field(
        description="状态 status: active 正常 | suspended 暂停 (a suspended institution cannot settle)"
    )
    points_payment: bool = Field(
        False, description="按点数付费 its inpatient cases are paid by points (DRG/DIP); hospitals only"
    )
    points_coefficient: PointsCoefficient | None = Field(
        None,
        description="医院系数 its own coefficient for points; absent: the payment year's default for its level",
    )


class InstitutionRow(InstitutionIn):
    """One institution of a bulk load."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "fixmedins_code": "H42010200001",
                    "fixmedins_name": "武汉市第一医院",
                    "fixmedins_type": "hospital",
                    "hosp_lv": 3,
                    "admdvs": "420100",
                    "status": "active",
                }
            ]
        },
    )

    fixmedins_code: FixmedinsCode = Field(description="定点医药机构编码 institution code")


class InstitutionOut(BaseModel):
    fixmedins_code: str = Field(description="定点医药机构编码 institution code")
    fixmedins_name: str = Field(description="定点医药机构名称 name")
    fixmedins_type: FixmedinsType = Field(description="机构类型 hospital | pharmacy")
    hosp_lv: int | None = Field(description="医院等级 1, 2, 3; null for a pharmacy")
    admdvs: str = Field(description="所在行政区划 region code")
    status: InstitutionStatus = Field(description="状态 active | suspended")
    points_payment: bool = Field(description="按点数付费 paid by points (DRG/DIP)")
    points_coefficient: str | None = Field(
        description="医院系数 its own coefficient, or null for the default"
    )
    updated_at: datetime = Field(description="最后变更时间 when it last changed")


class InstitutionPage(BaseModel):
    items: list[InstitutionOut] = Field(description="ordered by fixmedins_code")
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; null on the last")


# --- the catalogue --------------------------------------------------------------------------------------


class ChrgitmLv(StrEnum):
    CLASS_A = "01"  # 甲类: fully in scope
    CLASS_B = "02"  # 乙类: the person pays selfpay_prop first
    CLASS_C = "03"  # 丙类: fully self-paid


class GendLmt(StrEnum):
    MALE = "1"
    FEMALE = "2"


class CatalogItemIn(Strict):
    """An item of the reimbursement catalogue (医保目录), created or replaced as a whole."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "阿托伐他汀钙片 20mg*7片",
                    "chrgitm_lv": "02",
                    "selfpay_prop": "0.10",
                    "pric_uplmt_amt": "25.80",
                    "max_cnt_per_visit": "4",
                    "trac_codg_required": True,
                },
                {"name": "阿莫西林胶囊 0.25g*24粒", "chrgitm_lv": "01", "pric_uplmt_amt": "9.50"},
                {
                    "name": "前列腺特异性抗原测定",
                    "chrgitm_lv": "01",
                    "gend_lmt": "1",
                    "age_min": 18,
                },
            ]
        },
    )

    name: Name = Field(description="目录名称 name")
    chrgitm_lv: ChrgitmLv = Field(
        description="收费项目等级 item class: 01 甲类 (fully covered), 02 乙类 (self-pay share first), "
        "03 丙类 (fully self-paid)"
    )
    selfpay_prop: SelfpayProp | None = Field(
        None,
        description="自付比例 self-pay share, 0..1, at most 4 places. 01 甲类: absent or 0; 02 乙类: absent "
        "means the policy's default (class_b_selfpay_prop); 03 丙类: absent or 1",
    )
    pric_uplmt_amt: PositivePrice | None = Field(
        None, description="最高限价 price cap per unit (yuan, up to 6 places, > 0); above it is self-paid"
    )
    gend_lmt: GendLmt | None = Field(None, description="限性别 gender limit: 1 male only, 2 female only")
    age_min: Age | None = Field(None, description="最小年龄 lowest age covered (0..150)")
    age_max: Age | None = Field(None, description="最大年龄 highest age covered (0..150, ≥ age_min)")
    max_cnt_per_visit: PositiveQuantity | None = Field(
        None, description="每次就诊最大数量 most quantity paid per visit (up to 4 places, > 0)"
    )
    trac_codg_required: bool = Field(
        False,
        description="需扫追溯码 a drug whose lines must carry its traceability codes (药品追溯码): counted in "
        "the institution's scan rate (扫码率), and refused without one where 依码结算 is on",
    )


class CatalogItemRow(CatalogItemIn):
    """One item of a bulk load."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "med_list_codg": "XC10AAA0001010101",
                    "name": "阿托伐他汀钙片 20mg*7片",
                    "chrgitm_lv": "02",
                    "selfpay_prop": "0.10",
                    "pric_uplmt_amt": "25.80",
                    "max_cnt_per_visit": "4",
                }
            ]
        },
    )

    med_list_codg: MedListCodg = Field(description="医保目录编码 catalogue code")


class CatalogItemOut(BaseModel):
    med_list_codg: str = Field(description="医保目录编码 catalogue code")
    name: str = Field(description="目录名称 name")
    chrgitm_lv: ChrgitmLv = Field(description="收费项目等级 01 甲类, 02 乙类, 03 丙类")
    selfpay_prop: SelfpayProp | None = Field(
        description="自付比例; null: none for 甲类/丙类, the policy's default for 乙类"
    )
    pric_uplmt_amt: Price | None = Field(description="最高限价 price cap (yuan); null: none")
    gend_lmt: GendLmt | None = Field(description="限性别 1 male only, 2 female only; null: none")
    age_min: int | None = Field(description="最小年龄; null: none")
    age_max: int | None = Field(description="最大年龄; null: none")
    max_cnt_per_visit: Quantity | None = Field(description="每次就诊最大数量; null: none")
    trac_codg_required: bool = Field(description="需扫追溯码 its lines must carry traceability codes")
    updated_at: datetime = Field(description="最后变更时间 when it last changed")


class CatalogPage(BaseModel):
    items: list[CatalogItemOut] = Field(description="ordered by med_list_codg")
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; null on the last")


class BulkOut(BaseModel):
    """The outcome of an all-or-nothing bulk load."""

    created: int = Field(description="新增 records that did not exist")
    updated: int = Field(description="变更 records that existed and changed (an event each)")
    unchanged: int = Field(description="未变 records identical to what was there (no event)")


# --- the policy -----------------------------------------------------------------------------------------


class LevelAmounts(Strict):
    level_1: Yuan = Field(alias="1", description="一级 level 1 (yuan)")
    level_2: Yuan = Field(alias="2", description="二级 level 2 (yuan)")
    level_3: Yuan = Field(alias="3", description="三级 level 3 (yuan)")


class LevelRatios(Strict):
    level_1: PolicyRatio = Field(alias="1", description="一级 level 1")
    level_2: PolicyRatio = Field(alias="2", description="二级 level 2")
    level_3: PolicyRatio = Field(alias="3", description="三级 level 3")


class InpatientParameters(Strict):
    deductible: LevelAmounts = Field(description="起付线 deductible per admission, by hosp_lv")
    ratio: LevelRatios = Field(description="统筹基金支付比例 fund ratio above the deductible, by hosp_lv")


class OutpatientParameters(Strict):
    deductible_per_year: Yuan = Field(
        description="门诊年度起付线 outpatient deductible per year (med_types paid as outpatient)"
    )
    ratio: LevelRatios = Field(description="门诊统筹支付比例 outpatient fund ratio, by hosp_lv")
    pool_cap_per_year: Yuan = Field(description="门诊统筹年度最高支付限额 outpatient fund cap per year")


class SupplementaryParameters(Strict):
    threshold: Yuan = Field(description="大额/大病起付线 threshold of in-scope self-pay per year")
    ratio: PolicyRatio = Field(description="大额/大病支付比例 ratio above the threshold")
    cap: Yuan = Field(description="大额/大病年度最高支付限额 cap per year")


class AssistanceRatios(Strict):
    extreme_poverty: PolicyRatio = Field(description="特困 extreme poverty")
    minimum_living: PolicyRatio = Field(description="低保 minimum living allowance")
    monitored: PolicyRatio = Field(description="监测对象 poverty-return monitoring")


class AssistanceParameters(Strict):
    ratio: AssistanceRatios = Field(description="医疗救助比例 assistance ratio by category")
    cap_per_year: Yuan = Field(description="医疗救助年度限额 assistance cap per year")


class SchemeParameters(Strict):
    inpatient: InpatientParameters = Field(description="住院 inpatient (med_types paid as inpatient, 21 ...)")
    outpatient: OutpatientParameters = Field(
        description="门诊 outpatient (med_types paid as outpatient, 11 13 14 ...)"
    )
    retiree_bonus: PolicyRatio = Field(Decimal(0), description="退休人员加成 ratio added for retirees")
    max_ratio: PolicyRatio = Field(Decimal("0.95"), description="最高支付比例 the ratio never exceeds this")
    pool_ceiling_per_year: Yuan = Field(description="统筹基金年度最高支付限额 fund ceiling per year")
    supplementary: SupplementaryParameters = Field(
        description="职工大额医疗费用补助 (330) / 城乡居民大病保险 (392)"
    )
    assistance: AssistanceParameters = Field(description="医疗救助 medical assistance")


class PolicyParameters(Strict):
    """The parameters of a policy version: one scheme per basic insutype, amounts in yuan."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [DEFAULT_PARAMETERS]})

    employee: SchemeParameters = Field(alias="310", description="职工基本医疗保险 employee (310)")
    resident: SchemeParameters = Field(alias="390", description="城乡居民基本医疗保险 resident (390)")
    class_b_selfpay_prop: PolicyRatio = Field(
        description="乙类先行自付比例 default self-pay share of a 乙类 item the catalogue gives none"
    )
    benefits: dict[MedTypeKey, Benefit] = Field(
        default_factory=lambda: dict(DEFAULT_BENEFIT),
        description="待遇类别 how each med_type is paid: outpatient (yearly deductible, outpatient ratio and "
        "cap) | inpatient (deductible per admission, inpatient ratio) | pharmacy (the person's, from the "
        f"account or in cash). A med_type left out is not covered (MED_TYPE_NOT_COVERED). Codes: "
        f"{described(MED_TYPE)}. Absent (as in versions stored before it existed): the default table",
    )


class PolicyIn(Strict):
    """A new policy version (政策版本), in force from its date until the next version's."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "effective_from": "2027-01-01",
                    "parameters": DEFAULT_PARAMETERS,
                    "note": "2027年度待遇政策调整 policy of 2027",
                }
            ]
        },
    )

    effective_from: date = Field(
        description="生效日期 first business day in force (Asia/Shanghai); must be after today"
    )
    parameters: PolicyParameters = Field(description="政策参数 the parameters (shape of the default table)")
    note: Note | None = Field(None, description="说明 what changed and why")


class PolicyOut(BaseModel):
    version: int = Field(description="政策版本号 version; 0 is the built-in default table")
    effective_from: date = Field(description="生效日期 first day in force")
    effective_until: date | None = Field(
        description="失效日期 last day in force; null while no later version"
    )
    in_force: bool = Field(description="whether it is the version in force today (Asia/Shanghai)")
    parameters: PolicyParameters
    note: str | None = Field(description="说明")
    created_by: str = Field(description="创建人 who added it (the built-in default: system)")
    created_at: datetime | None = Field(description="创建时间; null for the built-in default")
