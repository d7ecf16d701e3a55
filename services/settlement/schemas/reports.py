"""Request and response models of reconciliation with an institution (对总账/对明细) and of fund KPIs (基金运行)."""

from __future__ import annotations

import datetime as dt
import re
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    SerializerFunctionWrapHandler,
    StringConstraints,
    WithJsonSchema,
    model_serializer,
)
from pydantic_core import PydanticCustomError

from common.money import Yuan
from common.national import CLR_TYPE, described
from settlement.schemas.claims import Code, Insutype, MedinsSetlId, Strict

MAX_DETAIL_ITEMS = 10_000
"""Items of one 对明细 request, and settlements of ours it may compare them with."""
MAX_RANGE_DAYS = 366

SetlId = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32, pattern=r"^[0-9A-Za-z]+$")
]


def _not_bool(value: Any) -> Any:
    # JSON true is not the number 1: a count given a boolean is a mistake.
    if isinstance(value, bool):
        raise PydanticCustomError("int_type", "Input should be a valid integer")
    return value


Count = Annotated[int, BeforeValidator(_not_bool), Field(ge=0, le=100_000_000)]


_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _date_only(value: Any) -> Any:
    # A business date is a calendar day: a timestamp (even at midnight) leaves open which zone's day it is.
    if not isinstance(value, str | date) or (isinstance(value, str) and not _DATE.fullmatch(value)):
        raise PydanticCustomError("date_format", "Input should be a date in the format YYYY-MM-DD")
    return value


BusinessDate = Annotated[date, BeforeValidator(_date_only)]

YuanTotal = Annotated[
    Decimal,
    PlainSerializer(lambda d: f"{d:.2f}", return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "pattern": r"^-?\d+\.\d{2}$", "examples": ["903211.07"]}),
]
"""A sum or balance in yuan that we computed (2 places, string on the wire): unlike `Yuan`, which bounds what a
caller may send, it has no upper limit — a city fund's balance runs past ten billion yuan."""


StmtRslt = Literal["balanced", "unbalanced"]


# --- 对总账 (3201) ---------------------------------------------------------------------------------------


class TotalsFigures(BaseModel):
    """对账金额 the totals compared: amounts in yuan, the count of settlements."""

    medfee_sumamt: YuanTotal = Field(description="医疗费总额 sum of medfee_sumamt")
    fund_pay_sumamt: YuanTotal = Field(description="基金支付总额 sum of fund_pay_sumamt")
    acct_pay: YuanTotal = Field(description="个人账户支出 sum of acct_pay (the person's own account only)")
    fixmedins_setl_cnt: int = Field(description="定点医药机构结算笔数 number of settlements")


class OurTotals(TotalsFigures):
    acct_mulaid_pay: YuanTotal = Field(
        description="个人账户共济支付金额 paid from family holders' accounts: for information, not compared"
    )


class TotalsDifferences(BaseModel):
    """差异 ours − theirs, for the fields that differ only (an empty object when balanced)."""

    medfee_sumamt: YuanTotal | None = Field(default=None, description="ours − theirs, yuan")
    fund_pay_sumamt: YuanTotal | None = Field(default=None, description="ours − theirs, yuan")
    acct_pay: YuanTotal | None = Field(default=None, description="ours − theirs, yuan")
    fixmedins_setl_cnt: int | None = Field(default=None, description="ours − theirs")

    @model_serializer(mode="wrap")
    def _only_differences(self, handler: SerializerFunctionWrapHandler):  # type: ignore[no-untyped-def]
        # No return annotation on purpose: the documented schema stays the fields above.
        return {key: value for key, value in handler(self).items() if value is not None}


class TotalsReconciliationIn(Strict):
    """对总账 the institution's totals of a period, to compare with ours (like national 3201)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "fixmedins_code": "H42010000001",
                    "insutype": "310",
                    "clr_type": "21",
                    "begndate": "2026-03-01",
                    "enddate": "2026-03-31",
                    "medfee_sumamt": "1284530.50",
                    "fund_pay_sumamt": "903211.07",
                    "acct_pay": "120455.30",
                    "fixmedins_setl_cnt": 3127,
                }
            ]
        },
    )

    fixmedins_code: Code = Field(description="定点医药机构编号 the institution")
    insutype: Insutype | None = Field(
        default=None, description="险种 310 employee | 390 resident; omitted: both"
    )
    clr_type: Code | None = Field(
        default=None,
        description=f"清算类别 {described(CLR_TYPE)}: only settlements of the med_types the default table "
        "pays as that benefit (outpatient, inpatient, pharmacy); omitted: all. Unknown: 422 CLR_TYPE_UNKNOWN",
    )
    begndate: BusinessDate = Field(description="开始日期 first business date (Asia/Shanghai), inclusive")
    enddate: BusinessDate = Field(
        description="结束日期 last business date, inclusive; at most 366 days in all"
    )
    medfee_sumamt: Yuan = Field(ge=Decimal(0), description="医疗费总额 their sum of medfee_sumamt")
    fund_pay_sumamt: Yuan = Field(ge=Decimal(0), description="基金支付总额 their sum of fund_pay_sumamt")
    acct_pay: Yuan = Field(ge=Decimal(0), description="个人账户支出 their sum of acct_pay")
    fixmedins_setl_cnt: Count = Field(description="定点医药机构结算笔数 their number of settlements")


class TotalsReconciliationOut(BaseModel):
    fixmedins_code: str
    insutype: str | None
    clr_type: str | None = Field(description="清算类别 as asked")
    begndate: date
    enddate: date
    stmt_rslt: StmtRslt = Field(description="对账结果 balanced (平) when every compared figure agrees")
    ours: OurTotals = Field(description="our totals: settlements in the period that stand (not reversed)")
    theirs: TotalsFigures = Field(description="the totals as the institution sent them")
    differences: TotalsDifferences


# --- 对明细 (3202) ---------------------------------------------------------------------------------------


class DetailAmounts(BaseModel):
    medfee_sumamt: Yuan = Field(description="医疗费总额")
    fund_pay_sumamt: Yuan = Field(description="基金支付总额")
    acct_pay: Yuan = Field(description="个人账户支出")


class DetailItemIn(Strict):
    """One settlement as the institution has it, named by our setl_id or its own medins_setl_id (or both)."""

    setl_id: SetlId | None = Field(default=None, description="结算ID our id of the settlement")
    medins_setl_id: MedinsSetlId | None = Field(
        default=None, description="医药机构结算ID the institution's own id"
    )
    medfee_sumamt: Yuan = Field(ge=Decimal(0), description="医疗费总额")
    fund_pay_sumamt: Yuan = Field(ge=Decimal(0), description="基金支付总额")
    acct_pay: Yuan = Field(ge=Decimal(0), description="个人账户支出")


class DetailItemOut(DetailAmounts):
    """An item of theirs, as sent."""

    setl_id: str | None
    medins_setl_id: str | None


class DetailsReconciliationIn(Strict):
    """对明细 the institution's settlements of a period, one by one (like national 3202)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "fixmedins_code": "H42010000001",
                    "begndate": "2026-03-02",
                    "enddate": "2026-03-02",
                    "items": [
                        {
                            "setl_id": "S0A1B2C3D4E5F6A7B8C9D0",
                            "medfee_sumamt": "635.50",
                            "fund_pay_sumamt": "0.00",
                            "acct_pay": "500.00",
                        },
                        {
                            "medins_setl_id": "H42010000001-20260302-000124",
                            "medfee_sumamt": "500.00",
                            "fund_pay_sumamt": "159.60",
                            "acct_pay": "0.00",
                        },
                    ],
                }
            ]
        },
    )

    fixmedins_code: Code = Field(description="定点医药机构编号 the institution")
    begndate: BusinessDate = Field(description="开始日期 first business date (Asia/Shanghai), inclusive")
    enddate: BusinessDate = Field(
        description="结束日期 last business date, inclusive; at most 366 days in all"
    )
    items: list[DetailItemIn] = Field(
        max_length=MAX_DETAIL_ITEMS,
        description="their settlements of the period, each once (at most 10,000: split a busy period)",
    )


class OurSettlement(DetailAmounts):
    setl_id: str
    medins_setl_id: str
    business_date: date = Field(description="业务日期 the settlement's business date")


class DifferingSettlement(BaseModel):
    setl_id: str = Field(description="our 结算ID")
    medins_setl_id: str = Field(description="医药机构结算ID as we have it")
    fields: list[str] = Field(
        description="what differs: medfee_sumamt, fund_pay_sumamt, acct_pay, or an id they gave that is "
        "not ours (setl_id, medins_setl_id)"
    )
    ours: OurSettlement
    theirs: DetailItemOut


class DetailsReconciliationOut(BaseModel):
    fixmedins_code: str
    begndate: date
    enddate: date
    stmt_rslt: StmtRslt = Field(
        description="balanced when every item matched and nothing is left on either side"
    )
    matched: int = Field(description="items that agree with our settlement in every amount")
    differing: list[DifferingSettlement] = Field(description="items whose settlement we have, that differ")
    only_ours: list[OurSettlement] = Field(
        description="our standing settlements of the period they did not send"
    )
    only_theirs: list[DetailItemOut] = Field(
        description="their items that are not a standing settlement of ours in the period: unknown, reversed "
        "(冲正), or of another date"
    )


# --- 基金运行 fund KPIs ------------------------------------------------------------------------------------


class FundInsutype(StrEnum):
    EMPLOYEE = "310"  # 职工基本医疗保险统筹基金 fund:310100
    EMPLOYEE_LARGE = "330"  # 职工大额医疗费用补助 fund:330200
    RESIDENT = "390"  # 城乡居民基本医疗保险基金 fund:390100
    RESIDENT_CRITICAL = "392"  # 城乡居民大病保险 fund:390200


class FundKpisOut(BaseModel):
    """基金运行 one fund's month: money from the ledger, counts and the inpatient ratio from settlements."""

    insutype: str = Field(description="险种 310 | 330 | 390 | 392")
    month: str = Field(description="月份 YYYY-MM (business dates, Asia/Shanghai)")
    fund_pay_type: str = Field(description="基金支付类型 the fund's ledger account, fund:<fund_pay_type>")
    income: YuanTotal = Field(description="基金收入 contributions credited to the fund in the month")
    expenditure: YuanTotal = Field(
        description="基金支出 fund pay of the month's settlements less the month's reversals"
    )
    current_surplus: YuanTotal = Field(description="当期结余 income − expenditure")
    accumulated_balance: YuanTotal = Field(description="累计结余 the fund's balance at the end of the month")
    months_payable: Decimal | None = Field(
        description="累计结余可支付月数 accumulated balance ÷ average monthly expenditure of the 12 months ending "
        "with this one (months with no journal at all are left out); 2 places; null without expenditure",
        examples=["14.62"],
    )
    months_averaged: int = Field(description="how many months the average expenditure was taken over")
    inpatient_inscp_amt: YuanTotal = Field(
        description="住院符合政策范围金额 in-scope amount of the month's inpatient (21) settlements that stand"
    )
    inpatient_fund_pay: YuanTotal = Field(
        description="住院基金支付 what this fund paid of them (hifp_pay for 310/390, hifob_pay for 330, "
        "hifmi_pay for 392)"
    )
    inpatient_reimbursement_ratio: Decimal | None = Field(
        description="政策范围内住院费用基金支付比例 inpatient_fund_pay ÷ inpatient_inscp_amt, 4 places; "
        "null without inpatient settlements",
        examples=["0.8123"],
    )
    settlement_count: int = Field(
        description="结算人次 settlements of the month under the basic insutype (310 for 310/330, 390 for "
        "390/392), including any reversed later"
    )
    reversal_count: int = Field(description="冲正笔数 reversals made in the month of such settlements")


class ActivityOut(BaseModel):
    """An institution's day so far: settlements made that date, minus the reversals made that date."""

    fixmedins_code: str
    date: dt.date
    setl_cnt: int = Field(description="settlements made that business date")
    reversal_cnt: int = Field(description="reversals made that business date")
    medfee_sumamt: YuanTotal = Field(description="医疗费总额, net of the day's reversals")
    fund_pay_sumamt: YuanTotal = Field(description="基金支付, net")
    acct_pay: YuanTotal = Field(description="个人账户支出 (own and mutual aid), net")
    psn_cash_pay: YuanTotal = Field(description="现金支付, net")
