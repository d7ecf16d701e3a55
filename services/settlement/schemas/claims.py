"""Request and response models of visits, fee details, settlements and reversals (national field names)."""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from common.money import Price, Quantity, Yuan
from common.national import MED_TYPE, PRAC_CODE_PATTERN, PRAC_CODE_RULE, described

Code = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=30, pattern=r"^[0-9A-Za-z_.-]+$")
]
ListCode = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50, pattern=r"^[0-9A-Za-z_.-]+$")
]
PsnNo = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20, pattern=r"^[0-9A-Za-z]+$")
]
MedinsSetlId = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64, pattern=r"^[0-9A-Za-z_.:-]+$")
]
TraceCode = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64, pattern=r"^[0-9A-Za-z]+$")
]
Text = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]


def _prac_code(value: str) -> str:
    if _PRAC_CODE.match(value) is None:
        raise ValueError(f"not {PRAC_CODE_RULE}")
    return value


_PRAC_CODE = re.compile(PRAC_CODE_PATTERN)
PracCode = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=14), AfterValidator(_prac_code)
]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]

MAX_LINES = 1000


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Insutype(StrEnum):
    EMPLOYEE = "310"  # 职工基本医疗保险 (330 大额 attached)
    RESIDENT = "390"  # 城乡居民基本医疗保险 (392 大病 attached)


MED_TYPE_DESCRIPTION = (
    f"医疗类别 med_type, a national code: {described(MED_TYPE)}. It is paid as the benefit the policy in "
    "force gives it (policy parameter `benefits`); an unknown code is 422 MED_TYPE_UNKNOWN, a code the policy "
    "does not map 422 MED_TYPE_NOT_COVERED"
)


FEE_LINE_EXAMPLE: dict[str, Any] = {
    "feedetl_sn": "1",
    "med_list_codg": "XA01BAA0001",
    "medins_list_codg": "YP-0001",
    "cnt": "2",
    "pric": "12.5",
    "det_item_fee_sumamt": "25.00",
    "fee_ocur_time": "2026-03-02T10:05:00+08:00",
    "drug_trac_codg": ["81234567890123456789"],
}


class FeeLineIn(Strict):
    """费用明细 one fee line (2204 feedetail)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [FEE_LINE_EXAMPLE]})

    feedetl_sn: Code = Field(description="费用明细流水号 line number, unique within the visit")
    med_list_codg: ListCode = Field(description="医疗目录编码 national catalogue code")
    medins_list_codg: ListCode | None = Field(
        default=None, description="医药机构目录编码 the institution's own code"
    )
    cnt: Quantity = Field(gt=Decimal(0), description="数量 quantity (up to 4 decimals)")
    pric: Price = Field(ge=Decimal(0), description="单价 unit price in yuan (up to 6 decimals)")
    det_item_fee_sumamt: Yuan = Field(
        ge=Decimal(0), description="明细项目费用总额 line amount = cnt × pric rounded half-up (within 0.01)"
    )
    fee_ocur_time: AwareDatetime = Field(description="费用发生时间 when the item was given or sold")
    drug_trac_codg: list[TraceCode] = Field(
        default_factory=list, max_length=200, description="药品追溯码 drug traceability codes, one per pack"
    )
    dise_codg: Code | None = Field(default=None, description="病种编码 diagnosis code for this line")
    chrg_bchno: Code | None = Field(
        default=None, description="收费批次号 the charge batch the line was billed in (2205 withdraws by it)"
    )
    bilg_dr_codg: PracCode | None = Field(
        default=None,
        json_schema_extra={"pattern": PRAC_CODE_PATTERN},
        description="开单医生编码 the ordering doctor's 医保医师代码 (D + region + sequence, e.g. D420100000123); "
        "a line whose doctor is suspended on its fee date is refused (422 PRACTITIONER_SUSPENDED)",
    )
    phar_prac_codg: PracCode | None = Field(
        default=None,
        json_schema_extra={"pattern": PRAC_CODE_PATTERN},
        description="药师编码 the dispensing or reviewing pharmacist's 医保药师代码 (Y/HY + region + sequence); "
        "a line whose pharmacist is suspended on its fee date is refused (422 PRACTITIONER_SUSPENDED)",
    )


class VisitIn(Strict):
    """就诊登记 register a visit or an admission (2201 / 2401)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "fixmedins_code": "H42010000001",
                    "psn_no": "P0123456789ABCDEF012",
                    "insutype": "310",
                    "med_type": "21",
                    "begntime": "2026-03-02T09:30:00+08:00",
                    "dise_codg": "J18.900",
                    "dise_name": "肺炎",
                    "ipt_otp_no": "ZY2026030200012",
                }
            ]
        },
    )

    fixmedins_code: Code = Field(description="定点医药机构编号 the institution")
    psn_no: PsnNo = Field(description="人员编号 the insured person")
    insutype: Insutype = Field(description="险种 310 employee | 390 resident")
    med_type: Code = Field(description=MED_TYPE_DESCRIPTION)
    begntime: AwareDatetime = Field(description="开始时间 when the care began (admission time of a stay)")
    dise_codg: Code | None = Field(default=None, description="病种编码 diagnosis (ICD-10)")
    dise_name: Text | None = Field(default=None, description="病种名称 diagnosis name")
    ipt_otp_no: Code | None = Field(default=None, description="住院/门诊号 the institution's visit number")


class VisitStatus(StrEnum):
    OPEN = "open"  # registered, lines may be uploaded; also again after its settlement was reversed
    SETTLED = "settled"  # a settlement stands
    CANCELLED = "cancelled"  # 挂号撤销 / 入院撤销: withdrawn with its lines, never settled again


class VisitOut(BaseModel):
    mdtrt_id: str = Field(description="就诊ID visit id")
    fixmedins_code: str
    psn_no: str
    insutype: str
    med_type: str
    begntime: datetime
    endtime: datetime | None = Field(
        description="结束时间 the discharge time (出院) while discharged, or the end the settlement gave"
    )
    dise_codg: str | None
    dise_name: str | None
    ipt_otp_no: str | None
    dscg_way: str | None = Field(description="离院方式 how the patient left, as the discharge gave it")
    cancel_reason: str | None = Field(description="撤销原因 why the visit was cancelled")
    status: VisitStatus = Field(description="open | settled | cancelled")
    feedetail: list[FeeLineOut] = Field(
        default_factory=list, description="the lines uploaded and not withdrawn"
    )


class FeeLineOut(BaseModel):
    feedetl_sn: str
    med_list_codg: str
    medins_list_codg: str | None
    cnt: Quantity
    pric: Price
    det_item_fee_sumamt: Yuan
    fee_ocur_time: datetime
    drug_trac_codg: list[str]
    chrg_bchno: str | None = Field(description="收费批次号")
    bilg_dr_codg: str | None = Field(default=None, description="开单医生编码 医保医师代码")
    phar_prac_codg: str | None = Field(default=None, description="药师编码 医保药师代码")


class FeeDetailsIn(Strict):
    """费用明细上传 upload fee lines (2204 / 2301); inpatient stays upload day by day."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"feedetail": [FEE_LINE_EXAMPLE]}]}
    )

    feedetail: list[FeeLineIn] = Field(min_length=1, max_length=MAX_LINES)


class LineResult(BaseModel):
    """One line's split (steps 1–2 of the split, docs/architecture.md)."""

    feedetl_sn: str
    med_list_codg: str
    det_item_fee_sumamt: Yuan = Field(description="明细项目费用总额 line amount")
    chrgitm_lv: str | None = Field(
        description="收费项目等级 01 甲类 | 02 乙类 | 03 丙类; null: not in the catalogue"
    )
    selfpay_prop: Decimal = Field(description="自付比例 the share paid first by the person")
    fulamt_ownpay_amt: Yuan = Field(description="全自费金额 wholly self-paid")
    overlmt_amt: Yuan = Field(description="超限价金额 above the price cap")
    preselfpay_amt: Yuan = Field(description="先行自付金额 paid first by the person (乙类)")
    inscp_scp_amt: Yuan = Field(description="符合政策范围金额 in-scope amount")
    notes: list[str] = Field(
        description="why: NOT_IN_CATALOG, CLASS_C_SELF_PAY, GENDER_LIMIT, AGE_LIMIT, OVER_QUANTITY, OVER_PRICE_CAP"
    )


class FeeDetailsOut(BaseModel):
    mdtrt_id: str
    result: list[LineResult]


class SettleVisitIn(Strict):
    """结算 settle a registered visit (2207 / 2304)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "medins_setl_id": "H42010000001-20260302-000123",
                    "acct_used_flag": 1,
                    "endtime": "2026-03-09T10:00:00+08:00",
                }
            ]
        },
    )

    medins_setl_id: MedinsSetlId = Field(
        description="医药机构结算ID the institution's own unique id (idempotency key)"
    )
    acct_used_flag: Literal[0, 1] = Field(description="个人账户使用标志 1: pay from the personal account")
    endtime: AwareDatetime | None = Field(
        default=None,
        description="结束时间 end of the care settled; for a stay, default the discharge time (2402)",
    )
    mid_setl_flag: Literal[0, 1] = Field(
        default=0,
        description="中途结算标志 1: settle a stay still going on (no discharge and no endtime needed); "
        "0: a stay must be discharged or given an endtime (else 422 NOT_DISCHARGED)",
    )


class PreSettleIn(Strict):
    """预结算 the split without storing anything (2206 / 2303)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"acct_used_flag": 1}]})

    acct_used_flag: Literal[0, 1] = Field(default=0, description="个人账户使用标志")


class OneCallSettlementIn(Strict):
    """一站式结算 visit + lines + settlement in one atomic call (pharmacy, outpatient, a whole stay)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "fixmedins_code": "P42010000001",
                    "medins_setl_id": "P42010000001-20260302-000456",
                    "psn_no": "P0123456789ABCDEF012",
                    "insutype": "310",
                    "med_type": "41",
                    "begntime": "2026-03-02T10:05:00+08:00",
                    "acct_used_flag": 1,
                    "feedetail": [FEE_LINE_EXAMPLE],
                }
            ]
        },
    )

    fixmedins_code: Code = Field(description="定点医药机构编号")
    medins_setl_id: MedinsSetlId = Field(
        description="医药机构结算ID (idempotency key: same body → the original result)"
    )
    psn_no: PsnNo = Field(description="人员编号")
    insutype: Insutype = Field(description="险种 310 | 390")
    med_type: Code = Field(description=MED_TYPE_DESCRIPTION)
    begntime: AwareDatetime = Field(description="开始时间")
    endtime: AwareDatetime | None = Field(default=None, description="结束时间 (inpatient)")
    dise_codg: Code | None = Field(default=None, description="病种编码")
    dise_name: Text | None = Field(default=None, description="病种名称")
    ipt_otp_no: Code | None = Field(default=None, description="住院/门诊号")
    acct_used_flag: Literal[0, 1] = Field(description="个人账户使用标志")
    feedetail: list[FeeLineIn] = Field(min_length=1, max_length=MAX_LINES)


class SetlInfo(BaseModel):
    """结算信息 every amount of the split (the split: docs/architecture.md), in yuan."""

    setl_id: str | None = Field(description="结算ID (null in a pre-settlement)")
    mdtrt_id: str
    psn_no: str
    insutype: str
    med_type: str
    fixmedins_code: str
    medins_setl_id: str | None
    setl_time: datetime
    policy_version: int = Field(description="the policy version in force on the business date")
    medfee_sumamt: Yuan = Field(description="医疗费总额 total")
    fulamt_ownpay_amt: Yuan = Field(description="全自费金额")
    overlmt_selfpay: Yuan = Field(description="超限价自费费用")
    preselfpay_amt: Yuan = Field(description="先行自付金额")
    inscp_scp_amt: Yuan = Field(description="符合政策范围金额")
    act_pay_dedc: Yuan = Field(description="实际支付起付线 deductible used")
    hifp_pay: Yuan = Field(description="基本医疗保险统筹基金支出 basic pool")
    hifmi_pay: Yuan = Field(description="居民大病保险资金支出 resident critical illness (392)")
    hifob_pay: Yuan = Field(description="职工大额医疗费用补助基金支出 employee large-amount (330)")
    maf_pay: Yuan = Field(description="医疗救助基金支出 medical assistance")
    fund_pay_sumamt: Yuan = Field(description="基金支付总额")
    psn_part_amt: Yuan = Field(description="个人负担总金额")
    acct_pay: Yuan = Field(description="个人账户支出")
    acct_mulaid_pay: Yuan = Field(description="个人账户共济支付金额 paid from the family holder's account")
    psn_cash_pay: Yuan = Field(description="个人现金支出")
    balc: Yuan = Field(description="余额 the person's own account balance after this settlement")
    mulaid_psn_no: str | None = Field(description="the family holder whose account paid acct_mulaid_pay")


class SetlDetail(BaseModel):
    """结算明细 one row per fund paying."""

    fund_pay_type: str = Field(description="基金支付类型 310100 | 330200 | 390100 | 390200 | 610100")
    fund_pay_type_name: str
    fund_payamt: Yuan


class Notice(BaseModel):
    """A warning returned with the settlement: a review hit, the waiting period, a skipped review."""

    code: str = Field(
        description="WAITING_PERIOD | REVIEW_WARNING | REVIEW_SKIPPED | POOL_CEILING_REACHED | ..."
    )
    message: str
    details: dict[str, Any] = Field(default_factory=dict)


class ReviewOut(BaseModel):
    status: Literal["passed", "warned", "skipped", "disabled"] = Field(
        description="the real-time review by fraud: skipped when it did not answer within its budget"
    )
    hits: list[dict[str, Any]] = Field(default_factory=list)


class SettlementOut(BaseModel):
    """The answer to a settlement: the same body every time it is asked again with the same medins_setl_id."""

    setlinfo: SetlInfo
    setldetail: list[SetlDetail]
    result: list[LineResult]
    warnings: list[Notice]
    review: ReviewOut


class PreSettlementOut(BaseModel):
    setlinfo: SetlInfo
    setldetail: list[SetlDetail]
    result: list[LineResult]
    warnings: list[Notice]


class SettlementRecord(SettlementOut):
    status: Literal["settled", "reversed"]
    reversal_setl_id: str | None = Field(description="the reversal's setl_id once reversed")


class SettlementSummary(BaseModel):
    setl_id: str
    medins_setl_id: str
    mdtrt_id: str
    fixmedins_code: str
    psn_no: str
    insutype: str
    med_type: str
    setl_time: datetime
    business_date: date
    medfee_sumamt: Yuan
    fund_pay_sumamt: Yuan
    acct_pay: Yuan
    acct_mulaid_pay: Yuan
    psn_cash_pay: Yuan
    status: str


class SettlementPage(BaseModel):
    items: list[SettlementSummary]
    next_cursor: str | None


class ReversalIn(Strict):
    """冲正/撤销 reverse a settlement (2208 / 2305)."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"reason": "收费员操作错误，患者要求退费"}]}
    )

    reason: Reason = Field(description="原因 why the settlement is reversed")


class ReversalOut(BaseModel):
    setl_id: str = Field(description="the reversal's own 结算ID")
    orig_setl_id: str
    fixmedins_code: str
    psn_no: str
    setl_time: datetime
    reason: str
    medfee_sumamt: Yuan = Field(description="amounts taken back (those of the original settlement)")
    fund_pay_sumamt: Yuan
    acct_pay: Yuan
    acct_mulaid_pay: Yuan
    psn_cash_pay: Yuan
    balc: Yuan = Field(description="the person's own account balance after the reversal")


class AccountOut(BaseModel):
    psn_no: str
    balc: Yuan = Field(description="个人账户余额 balance")
    family_holder_psn_no: str | None = Field(
        description="家庭共济: the holder whose account may pay for this person"
    )


class LedgerCheckOut(BaseModel):
    balanced: bool = Field(description="true when every check below found nothing")
    journals: int
    legs: int
    unbalanced_journals: list[dict[str, Any]]
    account_differences: list[dict[str, Any]] = Field(
        description="personal accounts whose stored balance differs from the journal"
    )
    accumulator_differences: list[dict[str, Any]] = Field(
        description="yearly totals that differ from the settlements"
    )
    settlement_differences: list[dict[str, Any]] = Field(
        description="settlements whose journal differs from their amounts"
    )
    reserve_differences: list[dict[str, Any]] = Field(
        description="质量保证金 held per institution (confirmed months less confirmed clearings) against its "
        "inst_reserve account"
    )
    totals: dict[str, Yuan] = Field(
        description="balance of each kind of ledger account (fund:310100, bank:fund, ...)"
    )


VisitOut.model_rebuild()


class VisitPage(BaseModel):
    """就诊信息查询 (5201) a person's visits, newest first."""

    items: list[VisitOut]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; null on the last")


class VisitCancellationIn(Strict):
    """挂号撤销 / 入院撤销 cancel a visit that was never settled (2202 / 2404)."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"reason": "患者未就诊，挂号撤销"}]}
    )

    reason: Reason = Field(description="撤销原因 why the visit is cancelled (1–500 characters)")


class DischargeIn(Strict):
    """出院办理 discharge the patient of a stay (2402)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "endtime": "2026-03-09T10:00:00+08:00",
                    "dise_codg": "J18.900",
                    "dise_name": "肺炎",
                    "dscg_way": "1",
                }
            ]
        },
    )

    endtime: AwareDatetime = Field(description="出院时间 discharge time (not before begntime)")
    dise_codg: Code | None = Field(
        default=None, description="出院诊断 discharge diagnosis (ICD-10); replaces the visit's when given"
    )
    dise_name: Text | None = Field(
        default=None, description="出院诊断名称; with dise_codg it replaces the name (absent: none)"
    )
    dscg_way: Code | None = Field(default=None, description="离院方式 how the patient left (national code)")


class VisitAmendmentIn(Strict):
    """就诊信息上传 amend an open visit's diagnosis or med_type (2203)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"dise_codg": "J18.900", "dise_name": "肺炎", "med_type": "22"}]},
    )

    dise_codg: Code | None = Field(
        default=None,
        description="病种编码 diagnosis (ICD-10); replaces the name too (with dise_name or none)",
    )
    dise_name: Text | None = Field(default=None, description="病种名称 diagnosis name")
    med_type: Code | None = Field(
        default=None,
        description="医疗类别 a national code the policy covers; never moves a stay to or from inpatient care "
        "(422 MED_TYPE_CHANGE_REFUSED)",
    )

    @model_validator(mode="after")
    def _something(self) -> VisitAmendmentIn:
        if self.dise_codg is None and self.dise_name is None and self.med_type is None:
            raise ValueError("give at least one of dise_codg, dise_name, med_type")
        return self


class FeeWithdrawalIn(Strict):
    """费用明细撤销 withdraw lines by charge batch or by number, atomically (2205)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"chrg_bchno": "CB20260302001"}, {"feedetl_sn": ["1", "2"]}, {}],
        },
    )

    chrg_bchno: Code | None = Field(default=None, description="收费批次号 every line of this batch")
    feedetl_sn: list[Code] | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_LINES,
        description="费用明细流水号 these lines; with chrg_bchno, those of the batch among them. "
        "Neither given: every line of the visit",
    )


class FeeWithdrawalOut(BaseModel):
    mdtrt_id: str
    withdrawn: list[str] = Field(description="费用明细流水号 the lines withdrawn, in upload order")


class YearTotals(BaseModel):
    """累计信息 a person's year under one basic insutype (what deductibles and caps have used so far)."""

    insutype: str
    year: int
    outpatient_dedc: Yuan = Field(description="门诊起付线累计 outpatient deductible used")
    outpatient_pool: Yuan = Field(description="门诊统筹累计 outpatient pool paid")
    hifp_pay: Yuan = Field(description="统筹基金支付累计 basic pool paid (counts toward the yearly ceiling)")
    pool_self: Yuan = Field(
        description="政策范围内自付累计 in-scope self-burden (counts toward the 大病/大额 threshold)"
    )
    supplementary_pay: Yuan = Field(
        description="大病/大额累计 critical illness (392) or large amounts (330) paid"
    )
    maf_pay: Yuan = Field(description="医疗救助累计 medical assistance paid")
    settlement_count: int


class AccumulatorsOut(BaseModel):
    psn_no: str
    year: int
    totals: list[YearTotals]
