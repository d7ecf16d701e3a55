"""Request and response models of day close (日结算), daily statements and disbursements."""

from __future__ import annotations

import datetime as dt
from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from common.money import Yuan


class DayCloseIn(BaseModel):
    """日结算 close one business day (Asia/Shanghai)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"date": "2026-03-01"}]})

    date: dt.date = Field(
        description="the business date to close; it must be over, and the day before closed"
    )


class DailyStatementOut(BaseModel):
    """日结算单 one institution's day (reversals closed that day count negative)."""

    business_date: date
    fixmedins_code: str
    setl_cnt: int = Field(description="结算笔数 settlements closed this day")
    reversal_cnt: int = Field(description="冲正笔数 reversals closed this day")
    medfee_sumamt: Yuan = Field(description="医疗费总额")
    inscp_scp_amt: Yuan = Field(description="符合政策范围金额")
    hifp_pay: Yuan = Field(description="统筹基金支出")
    hifmi_pay: Yuan = Field(description="居民大病保险支出")
    hifob_pay: Yuan = Field(description="职工大额补助支出")
    maf_pay: Yuan = Field(description="医疗救助支出")
    fund_pay_sumamt: Yuan = Field(description="基金支付总额")
    fund_by_type: dict[str, Yuan] = Field(description="fund pay by fund_pay_type (310100, 390100, ...)")
    acct_pay: Yuan = Field(description="个人账户支出")
    acct_mulaid_pay: Yuan = Field(description="共济账户支出")
    psn_cash_pay: Yuan = Field(description="现金支付")


class DayCloseOut(BaseModel):
    business_date: date
    settlement_count: int
    reversal_count: int
    institution_count: int
    closed_at: datetime
    closed_by: str
    statements: list[DailyStatementOut]


class DisbursementOut(BaseModel):
    """拨付单: due the day after the business date (当天结算、次日到账)."""

    disbursement_id: int
    business_date: date
    fixmedins_code: str
    amount: Yuan = Field(
        description="fund pay + account pay + mutual-aid pay of the day (negative: owed back)"
    )
    due_date: date
    status: str = Field(description="pending | paid")
    paid_at: datetime | None
    payment_ref: str | None


class PaidIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"payment_ref": "BANK-20260302-0001"}]}
    )

    payment_ref: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)] | None
    ) = Field(default=None, description="the bank's reference of the transfer")
