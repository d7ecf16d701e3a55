"""Request and response models of month reconciliation (月核算), prepayments (预付) and deductions (扣款)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from common.money import Yuan

MONTH_PATTERN = r"^20[0-9]{2}-(0[1-9]|1[0-2])$"
Month = Annotated[str, StringConstraints(pattern=MONTH_PATTERN)]
"""A calendar month YYYY-MM (Asia/Shanghai business dates), 2000-01 to 2099-12."""
FixmedinsCode = Annotated[str, StringConstraints(pattern=r"^[0-9A-Za-z]{1,30}$")]
Note = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)]


class ReconciliationStatus(StrEnum):
    DRAFT = "draft"  # 草稿: may be recomputed
    CONFIRMED = "confirmed"  # 已确认: deductions and prepayments taken, settlement.month.reconciled sent
    LOCKED = "locked"  # 已锁定: never changes again


# --- prepayments and deductions ------------------------------------------------------------------------


class PrepaymentIn(BaseModel):
    """预付 money advanced to an institution, recovered in the first month reconciled after it was paid."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "fixmedins_code": "H42010200001",
                    "amount": "500000.00",
                    "paid_date": "2026-03-01",
                    "note": "2026年一季度预付周转金",
                }
            ]
        },
    )

    fixmedins_code: FixmedinsCode = Field(description="定点医药机构编码 the institution paid")
    amount: Yuan = Field(gt=Decimal(0), description="预付金额 amount advanced, in yuan (> 0)")
    paid_date: date = Field(description="支付日期 the day it was paid (not in the future)")
    note: Note | None = Field(default=None, description="备注 note")


class PrepaymentOut(BaseModel):
    prepayment_id: int = Field(description="预付ID")
    fixmedins_code: str = Field(description="定点医药机构编码")
    amount: Yuan = Field(description="预付金额")
    paid_date: date = Field(description="支付日期")
    note: str | None = Field(description="备注")
    created_by: str = Field(description="录入人 who recorded it")
    created_at: datetime = Field(description="录入时间")
    recovered_month: str | None = Field(
        description="扣回月份 the month whose confirmed reconciliation recovered it; null: outstanding"
    )


class PrepaymentPage(BaseModel):
    items: list[PrepaymentOut] = Field(description="newest first")
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; null on the last")


class DeductionOut(BaseModel):
    finding_id: str = Field(
        description="疑点ID the finding recovered from; for a penalty, case:<case_id> (one per case)"
    )
    fixmedins_code: str = Field(description="定点医药机构编码")
    setl_id: str | None = Field(description="结算ID the settlement it is about, if one")
    psn_no: str | None = Field(description="人员编号, if one")
    family: str | None = Field(
        description="规则类别 rule family (annual_clearing for a year clearing's recovery)"
    )
    source: str = Field(
        description="fraud: a confirmed finding | clearing: a year clearing's negative balance"
    )
    amount: Yuan = Field(description="扣款金额 amount to recover")
    kind: Literal["recovery", "penalty"] = Field(
        description="recovery 追回 (a finding's amount) | penalty 罚款/违约金 (a decided case's)"
    )
    case_id: str | None = Field(description="案件ID the decided case, if any")
    confirmed_at: datetime = Field(description="确认时间; its Asia/Shanghai date picks the month")
    note: str | None = Field(description="备注")
    month_applied: str | None = Field(
        description="扣款月份 the month whose confirmed reconciliation took it; null: outstanding"
    )
    received_at: datetime = Field(description="when settlement received the finding")


class DeductionPage(BaseModel):
    items: list[DeductionOut] = Field(description="newest first (by confirmed_at)")
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; null on the last")


# --- month reconciliation ------------------------------------------------------------------------------


class MonthIn(BaseModel):
    """月核算 compute (or recompute, while draft) one month."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"month": "2026-03"}]})

    month: Month = Field(description="核算月份 YYYY-MM; every day of it must be closed (日结算)")


class Totals(BaseModel):
    """Counts and amounts of a period; reversals count negative in the amounts."""

    setl_cnt: int = Field(description="结算笔数 settlements")
    reversal_cnt: int = Field(description="冲正笔数 reversals")
    medfee_sumamt: Yuan = Field(description="医疗费总额")
    inscp_scp_amt: Yuan = Field(description="符合政策范围金额")
    hifp_pay: Yuan = Field(description="统筹基金支出")
    hifmi_pay: Yuan = Field(description="居民大病保险支出")
    hifob_pay: Yuan = Field(description="职工大额补助支出")
    maf_pay: Yuan = Field(description="医疗救助支出")
    fund_pay_sumamt: Yuan = Field(description="基金支付总额")
    acct_pay: Yuan = Field(description="个人账户支出")
    acct_mulaid_pay: Yuan = Field(description="共济账户支出")
    psn_cash_pay: Yuan = Field(description="现金支付")


class MismatchOut(BaseModel):
    """A day whose daily statement differs from its settlements: reported, never absorbed."""

    business_date: date = Field(description="the closed day")
    fields: list[str] = Field(description="the totals that differ")
    statements: Totals = Field(description="the day's daily statement (zero when there is none)")
    settlements: Totals = Field(description="the same totals recomputed from the day's settlements")
    setl_ids: list[str] = Field(description="settlements and reversals closed that day (at most 100)")
    setl_id_count: int = Field(description="how many there are in all")


class MonthPointsOut(BaseModel):
    """A points-paid institution's month under one pool (月度预结算)."""

    insutype: str = Field(description="险种 310 | 390")
    year: int = Field(description="the payment year of the cases")
    method: str = Field(description="drg | dip")
    cases: int = Field(description="the month's cases (by business date)")
    points: str = Field(description="their points, 4 decimals")
    hifp_pay: Yuan = Field(description="inpatient 统筹 paid in the month's closes (reversals negative)")
    quality_reserve: Yuan = Field(description="q × hifp_pay, to the fen")
    provisional_point_value: str | None = Field(
        description="(budget × the share of the year gone + N) ÷ T at the month's end, yuan per point"
    )


class MonthlyStatementOut(BaseModel):
    """月结算单 one institution's month."""

    month: str = Field(description="核算月份 YYYY-MM")
    fixmedins_code: str = Field(description="定点医药机构编码")
    statements: Totals = Field(description="the sum of the month's daily statements (日结算单)")
    settlements: Totals = Field(
        description="the same totals recomputed from the settlements and reversals closed in the month"
    )
    balanced: bool = Field(description="true when no day differs")
    mismatches: list[MismatchOut] = Field(description="each day that differs, with its settlements")
    deductions: Yuan = Field(
        description="追回 recovery: decided cases' (and earlier confirmed) findings' amounts taken this month"
    )
    deduction_ids: list[str] = Field(description="the findings (finding_id)")
    penalties: Yuan = Field(description="罚款/违约金 penalties of decided cases taken this month, apart")
    penalty_case_ids: list[str] = Field(description="the cases (case_id) whose penalties they are")
    prepayments: Yuan = Field(description="预付 outstanding prepayments recovered this month")
    prepayment_ids: list[int] = Field(description="the prepayments (prepayment_id)")
    quality_reserve: Yuan = Field(
        description="质量保证金 withheld from a points-paid institution: q × the month's inpatient hifp_pay"
    )
    points: list[MonthPointsOut] | None = Field(
        description="月度预结算 the month's cases and points by pool (information only); null for an "
        "institution not paid by points"
    )
    net_adjustment: Yuan = Field(
        description="净调整 −(deductions + penalties + prepayments + quality_reserve): negative is what the "
        "institution owes the bureau, withheld from its next disbursements"
    )
    computed_at: datetime


class MonthlyReconciliationOut(BaseModel):
    month: str = Field(description="核算月份 YYYY-MM")
    status: ReconciliationStatus = Field(description="draft | confirmed | locked")
    balanced: bool = Field(description="true when no institution has a mismatch (confirm requires it)")
    computed_at: datetime
    computed_by: str
    confirmed_at: datetime | None
    confirmed_by: str | None
    locked_at: datetime | None
    locked_by: str | None
    statements: list[MonthlyStatementOut] = Field(
        description="one per institution, by fixmedins_code; an institution's client sees only its own"
    )
