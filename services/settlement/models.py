"""Tables of the settlement service, on its own MetaData.

Money is integer fen; unit prices and quantities, which carry up to 6 and 4 places, are kept as their exact
decimal text (SQLite has no exact decimal type, and a float near money is a bug).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from common.db import UtcDateTime, new_metadata

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_FEN = sa.BigInteger()


class Base(DeclarativeBase):
    metadata = new_metadata()


# --- reference data: institutions, catalogue, policy ---------------------------------------------------


class Institution(Base):
    """A designated institution (定点医药机构): a hospital or a pharmacy."""

    __tablename__ = "institution"

    fixmedins_code: Mapped[str] = mapped_column(sa.String(30), primary_key=True)
    fixmedins_name: Mapped[str] = mapped_column(sa.String(200))
    fixmedins_type: Mapped[str] = mapped_column(sa.String(10))
    hosp_lv: Mapped[int | None] = mapped_column(sa.SmallInteger)
    admdvs: Mapped[str] = mapped_column(sa.String(6), index=True)
    status: Mapped[str] = mapped_column(sa.String(10))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    # Paid by points (DRG/DIP) for its inpatient cases (hospitals only), with its own coefficient when it
    # carries one (else the payment year's default for its level), as exact decimal text.
    points_payment: Mapped[bool] = mapped_column(sa.Boolean, server_default=sa.false(), default=False)
    points_coefficient: Mapped[str | None] = mapped_column(sa.String(10))


class CatalogItem(Base):
    """An item of the reimbursement catalogue (医保目录)."""

    __tablename__ = "catalog_item"

    med_list_codg: Mapped[str] = mapped_column(sa.String(50), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    chrgitm_lv: Mapped[str] = mapped_column(sa.String(2))
    # Null: the policy's default for its class (乙类 0.10, 甲类 0).
    selfpay_prop: Mapped[str | None] = mapped_column(sa.String(10))
    pric_uplmt_amt: Mapped[str | None] = mapped_column(sa.String(24))
    gend_lmt: Mapped[str | None] = mapped_column(sa.String(1))
    age_min: Mapped[int | None] = mapped_column(sa.SmallInteger)
    age_max: Mapped[int | None] = mapped_column(sa.SmallInteger)
    max_cnt_per_visit: Mapped[str | None] = mapped_column(sa.String(24))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    # 需扫追溯码: a drug whose lines must carry its traceability codes (counted in the scan rate; refused
    # without one where 依码结算 is on for the institution's type).
    trac_codg_required: Mapped[bool] = mapped_column(sa.Boolean, server_default=sa.false(), default=False)


class TraceCodePolicy(Base):
    """依码结算: whether the drug lines of an institution type must carry traceability codes; append-only,
    each change a new version with who and why (the latest of a type is in force)."""

    __tablename__ = "trace_code_policy"

    version_id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    fixmedins_type: Mapped[str] = mapped_column(sa.String(10), index=True)  # hospital | pharmacy
    required: Mapped[bool] = mapped_column(sa.Boolean)
    note: Mapped[str | None] = mapped_column(sa.String(500))
    created_by: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class PolicyVersion(Base):
    """A version of the reimbursement policy, in force from its date until the next version's."""

    __tablename__ = "policy_version"

    version_id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    effective_from: Mapped[date] = mapped_column(sa.Date, unique=True)
    parameters: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    note: Mapped[str | None] = mapped_column(sa.String(500))
    created_by: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


# --- projections of enrollment (fed by its events; never read from its database) ----------------------


class InsuredPerson(Base):
    """What settlement knows of a person: enough to apply gender and age limits and refuse after death."""

    __tablename__ = "insured_person"

    psn_no: Mapped[str] = mapped_column(sa.String(20), primary_key=True)
    gend: Mapped[str] = mapped_column(sa.String(1))
    brdy: Mapped[date] = mapped_column(sa.Date)
    admdvs: Mapped[str] = mapped_column(sa.String(6))
    death_date: Mapped[date | None] = mapped_column(sa.Date)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class CoverageProjection(Base):
    """A coverage as enrollment last described it (enrollment.coverage.changed carries the whole state)."""

    __tablename__ = "coverage_projection"

    coverage_id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=False)
    psn_no: Mapped[str] = mapped_column(sa.String(20), index=True)
    insutype: Mapped[str] = mapped_column(sa.String(3))
    attached_insutypes: Mapped[list[str]] = mapped_column(sa.JSON)
    status: Mapped[str] = mapped_column(sa.String(10))
    begndate: Mapped[date] = mapped_column(sa.Date)
    enddate: Mapped[date | None] = mapped_column(sa.Date)
    psn_type: Mapped[str | None] = mapped_column(sa.String(10))
    assistance: Mapped[str | None] = mapped_column(sa.String(20))
    benefit_start_date: Mapped[date] = mapped_column(sa.Date)
    incentive_raise_fen: Mapped[int] = mapped_column(_FEN)
    # [[from_date, to_date | null], ...] as ISO dates: the periods the coverage was suspended.
    suspensions: Mapped[list[list[str | None]]] = mapped_column(sa.JSON)
    # The time of the event this row reflects: an older event arriving late never overwrites a newer one.
    source_time: Mapped[datetime] = mapped_column(UtcDateTime())


class FamilyBinding(Base):
    """家庭共济: a member whose costs a holder's personal account may pay."""

    __tablename__ = "family_binding"

    member_psn_no: Mapped[str] = mapped_column(sa.String(20), primary_key=True)
    holder_psn_no: Mapped[str] = mapped_column(sa.String(20), index=True)
    source_time: Mapped[datetime] = mapped_column(UtcDateTime())


# --- the person's money and yearly totals (locked per person on the settle path) ----------------------


class PersonalAccount(Base):
    """个人账户: the balance is also derivable from the ledger (GET /ledger/check proves it)."""

    __tablename__ = "personal_account"

    psn_no: Mapped[str] = mapped_column(sa.String(20), primary_key=True)
    balc_fen: Mapped[int] = mapped_column(_FEN)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class YearAccumulator(Base):
    """A person's running totals of one year under one basic insutype: what caps and deductibles use."""

    __tablename__ = "year_accumulator"

    psn_no: Mapped[str] = mapped_column(sa.String(20), primary_key=True)
    insutype: Mapped[str] = mapped_column(sa.String(3), primary_key=True)
    year: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    outpatient_dedc_fen: Mapped[int] = mapped_column(_FEN, default=0)
    outpatient_pool_fen: Mapped[int] = mapped_column(_FEN, default=0)
    pool_fen: Mapped[int] = mapped_column(_FEN, default=0)
    pool_self_fen: Mapped[int] = mapped_column(_FEN, default=0)
    supp_fen: Mapped[int] = mapped_column(_FEN, default=0)
    maf_fen: Mapped[int] = mapped_column(_FEN, default=0)
    settlement_count: Mapped[int] = mapped_column(sa.Integer, default=0)


# --- visits, fee details, settlements ------------------------------------------------------------------


class Visit(Base):
    """就诊 (2201/2401): one outpatient visit, admission or pharmacy purchase."""

    __tablename__ = "visit"

    mdtrt_id: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    fixmedins_code: Mapped[str] = mapped_column(sa.String(30), index=True)
    psn_no: Mapped[str] = mapped_column(sa.String(20), index=True)
    insutype: Mapped[str] = mapped_column(sa.String(3))
    med_type: Mapped[str] = mapped_column(sa.String(2))
    begntime: Mapped[datetime] = mapped_column(UtcDateTime())
    endtime: Mapped[datetime | None] = mapped_column(UtcDateTime())
    dise_codg: Mapped[str | None] = mapped_column(sa.String(30))
    dise_name: Mapped[str | None] = mapped_column(sa.String(200))
    ipt_otp_no: Mapped[str | None] = mapped_column(sa.String(50))
    status: Mapped[str] = mapped_column(sa.String(10))  # open | settled | cancelled
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    # 出院 (2402): when it was recorded (null: not discharged; endtime is then the discharge time), how the
    # patient left, and a fingerprint of the discharge asked, to tell a retry from a different discharge.
    discharged_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    dscg_way: Mapped[str | None] = mapped_column(sa.String(30))
    discharge_hash: Mapped[str | None] = mapped_column(sa.String(64))
    # 挂号撤销 / 入院撤销 (2202 / 2404)
    cancelled_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    cancel_reason: Mapped[str | None] = mapped_column(sa.String(500))


class FeeDetail(Base):
    """费用明细: one line of a visit, as the institution uploaded it."""

    __tablename__ = "fee_detail"
    __table_args__ = (sa.UniqueConstraint("mdtrt_id", "feedetl_sn"),)

    fee_detail_id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    mdtrt_id: Mapped[str] = mapped_column(sa.ForeignKey("visit.mdtrt_id"))
    feedetl_sn: Mapped[str] = mapped_column(sa.String(30))
    med_list_codg: Mapped[str] = mapped_column(sa.String(50))
    medins_list_codg: Mapped[str | None] = mapped_column(sa.String(50))
    cnt: Mapped[str] = mapped_column(sa.String(24))
    pric: Mapped[str] = mapped_column(sa.String(24))
    amount_fen: Mapped[int] = mapped_column(_FEN)
    fee_ocur_time: Mapped[datetime] = mapped_column(UtcDateTime())
    drug_trac_codg: Mapped[list[str]] = mapped_column(sa.JSON)
    dise_codg: Mapped[str | None] = mapped_column(sa.String(30))
    chrg_bchno: Mapped[str | None] = mapped_column(sa.String(30))  # 收费批次号
    bilg_dr_codg: Mapped[str | None] = mapped_column(sa.String(20))  # 开单医生 医保医师代码
    phar_prac_codg: Mapped[str | None] = mapped_column(sa.String(20))  # 药师 医保药师代码
    status: Mapped[str] = mapped_column(sa.String(10))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class Settlement(Base):
    """结算 (2207/2304): every amount of the split, what it added to the year, and the answer given."""

    __tablename__ = "settlement"
    __table_args__ = (sa.UniqueConstraint("fixmedins_code", "medins_setl_id"),)

    setl_id: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    medins_setl_id: Mapped[str] = mapped_column(sa.String(64))
    fixmedins_code: Mapped[str] = mapped_column(sa.String(30))
    # Not unique: a visit whose settlement was reversed may be settled again.
    mdtrt_id: Mapped[str] = mapped_column(sa.ForeignKey("visit.mdtrt_id"), index=True)
    psn_no: Mapped[str] = mapped_column(sa.String(20), index=True)
    insutype: Mapped[str] = mapped_column(sa.String(3))
    med_type: Mapped[str] = mapped_column(sa.String(2))
    setl_time: Mapped[datetime] = mapped_column(UtcDateTime())
    business_date: Mapped[date] = mapped_column(sa.Date, index=True)
    year: Mapped[int] = mapped_column(sa.Integer)
    policy_version: Mapped[int] = mapped_column(sa.Integer)
    medfee_fen: Mapped[int] = mapped_column(_FEN)
    fulamt_ownpay_fen: Mapped[int] = mapped_column(_FEN)
    overlmt_selfpay_fen: Mapped[int] = mapped_column(_FEN)
    preselfpay_fen: Mapped[int] = mapped_column(_FEN)
    inscp_scp_fen: Mapped[int] = mapped_column(_FEN)
    act_pay_dedc_fen: Mapped[int] = mapped_column(_FEN)
    hifp_pay_fen: Mapped[int] = mapped_column(_FEN)
    hifmi_pay_fen: Mapped[int] = mapped_column(_FEN)
    hifob_pay_fen: Mapped[int] = mapped_column(_FEN)
    maf_pay_fen: Mapped[int] = mapped_column(_FEN)
    fund_pay_fen: Mapped[int] = mapped_column(_FEN)
    psn_part_fen: Mapped[int] = mapped_column(_FEN)
    acct_pay_fen: Mapped[int] = mapped_column(_FEN)
    acct_mulaid_pay_fen: Mapped[int] = mapped_column(_FEN)
    psn_cash_pay_fen: Mapped[int] = mapped_column(_FEN)
    mulaid_holder_psn_no: Mapped[str | None] = mapped_column(sa.String(20))
    # What this settlement added to the person's year (a reversal takes exactly this back out).
    outpatient_dedc_fen: Mapped[int] = mapped_column(_FEN)
    outpatient_pool_fen: Mapped[int] = mapped_column(_FEN)
    pool_self_fen: Mapped[int] = mapped_column(_FEN)
    review: Mapped[str] = mapped_column(sa.String(10))
    request_hash: Mapped[str] = mapped_column(sa.String(64))
    response: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    status: Mapped[str] = mapped_column(sa.String(10))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    # The day close that counted it (日结算): its business date, or the next open day when it came in late.
    day_close_date: Mapped[date | None] = mapped_column(sa.Date, index=True)


class SettlementReversal(Base):
    """冲正/撤销 (2208/2305): the reversal of one settlement, with its own setl_id."""

    __tablename__ = "settlement_reversal"

    setl_id: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    orig_setl_id: Mapped[str] = mapped_column(sa.ForeignKey("settlement.setl_id"), unique=True)
    fixmedins_code: Mapped[str] = mapped_column(sa.String(30), index=True)
    psn_no: Mapped[str] = mapped_column(sa.String(20))
    reason: Mapped[str] = mapped_column(sa.String(500))
    setl_time: Mapped[datetime] = mapped_column(UtcDateTime())
    business_date: Mapped[date] = mapped_column(sa.Date, index=True)
    response: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    created_by: Mapped[str] = mapped_column(sa.String(64))
    day_close_date: Mapped[date | None] = mapped_column(sa.Date, index=True)


# --- day close (日结算), disbursements, month reconciliation (月核算) -------------------------------------


class DayClose(Base):
    """A closed business day: closes happen in date order, each once."""

    __tablename__ = "day_close"

    business_date: Mapped[date] = mapped_column(sa.Date, primary_key=True)
    settlement_count: Mapped[int] = mapped_column(sa.Integer)
    reversal_count: Mapped[int] = mapped_column(sa.Integer)
    institution_count: Mapped[int] = mapped_column(sa.Integer)
    closed_at: Mapped[datetime] = mapped_column(UtcDateTime())
    closed_by: Mapped[str] = mapped_column(sa.String(64))


class DailyStatement(Base):
    """日结算单: one institution's day — counts and every amount, reversals as negatives."""

    __tablename__ = "daily_statement"
    __table_args__ = (sa.UniqueConstraint("business_date", "fixmedins_code"),)

    statement_id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    business_date: Mapped[date] = mapped_column(sa.Date, index=True)
    fixmedins_code: Mapped[str] = mapped_column(sa.String(30), index=True)
    setl_cnt: Mapped[int] = mapped_column(sa.Integer)
    reversal_cnt: Mapped[int] = mapped_column(sa.Integer)
    medfee_fen: Mapped[int] = mapped_column(_FEN)
    inscp_scp_fen: Mapped[int] = mapped_column(_FEN)
    hifp_pay_fen: Mapped[int] = mapped_column(_FEN)
    hifmi_pay_fen: Mapped[int] = mapped_column(_FEN)
    hifob_pay_fen: Mapped[int] = mapped_column(_FEN)
    maf_pay_fen: Mapped[int] = mapped_column(_FEN)
    fund_pay_fen: Mapped[int] = mapped_column(_FEN)
    # {"310100": fen, "390100": fen, ...}: fund pay by fund type (基金支付类型).
    fund_by_type: Mapped[dict[str, int]] = mapped_column(sa.JSON)
    acct_pay_fen: Mapped[int] = mapped_column(_FEN)
    acct_mulaid_pay_fen: Mapped[int] = mapped_column(_FEN)
    psn_cash_pay_fen: Mapped[int] = mapped_column(_FEN)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class Disbursement(Base):
    """拨付单: what the bureau pays the institution for a closed day, due the next day (次日到账)."""

    __tablename__ = "disbursement"
    __table_args__ = (sa.UniqueConstraint("business_date", "fixmedins_code", "source"),)

    disbursement_id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    business_date: Mapped[date] = mapped_column(sa.Date, index=True)
    fixmedins_code: Mapped[str] = mapped_column(sa.String(30), index=True)
    amount_fen: Mapped[int] = mapped_column(_FEN)
    due_date: Mapped[date] = mapped_column(sa.Date)
    status: Mapped[str] = mapped_column(sa.String(10))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    paid_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    paid_by: Mapped[str | None] = mapped_column(sa.String(64))
    payment_ref: Mapped[str | None] = mapped_column(sa.String(64))
    # What ordered it: "day-close", or "clearing:<year>:<insutype>" for a year clearing's positive balance.
    source: Mapped[str] = mapped_column(sa.String(40), server_default="day-close", default="day-close")


class MonthlyReconciliation(Base):
    """月核算 of one month: draft (recomputable) → confirmed → locked (never changes again)."""

    __tablename__ = "monthly_reconciliation"

    month: Mapped[str] = mapped_column(sa.String(7), primary_key=True)  # YYYY-MM
    status: Mapped[str] = mapped_column(sa.String(10))
    computed_at: Mapped[datetime] = mapped_column(UtcDateTime())
    computed_by: Mapped[str] = mapped_column(sa.String(64))
    confirmed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    confirmed_by: Mapped[str | None] = mapped_column(sa.String(64))
    locked_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    locked_by: Mapped[str | None] = mapped_column(sa.String(64))


class MonthlyStatement(Base):
    """One institution's month: daily statements against its settlements, deductions, prepayments, net."""

    __tablename__ = "monthly_statement"
    __table_args__ = (sa.UniqueConstraint("month", "fixmedins_code"),)

    monthly_statement_id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    month: Mapped[str] = mapped_column(sa.ForeignKey("monthly_reconciliation.month"), index=True)
    fixmedins_code: Mapped[str] = mapped_column(sa.String(30), index=True)
    statements: Mapped[dict[str, Any]] = mapped_column(sa.JSON)  # totals of the month's daily statements
    settlements: Mapped[dict[str, Any]] = mapped_column(
        sa.JSON
    )  # the same totals recomputed from settlements
    mismatches: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON)
    deductions_fen: Mapped[int] = mapped_column(_FEN)
    deduction_ids: Mapped[list[str]] = mapped_column(sa.JSON)
    prepayments_fen: Mapped[int] = mapped_column(_FEN)
    prepayment_ids: Mapped[list[int]] = mapped_column(sa.JSON)
    net_adjustment_fen: Mapped[int] = mapped_column(_FEN)
    computed_at: Mapped[datetime] = mapped_column(UtcDateTime())
    # 质量保证金 withheld from a points-paid institution (part of the net adjustment), and the month's points
    # by pool insutype: [{insutype, method, cases, points, hifp_pay_fen, quality_reserve_fen,
    # provisional_point_value}] (information only; null for an institution not paid by points).
    quality_reserve_fen: Mapped[int] = mapped_column(_FEN, server_default="0", default=0)
    points: Mapped[list[dict[str, Any]] | None] = mapped_column(sa.JSON)
    # 罚款/违约金 of decided cases (fraud.case.decided), apart from the recoveries (deductions_fen), and the
    # cases' ids (null on statements computed before penalties existed).
    penalties_fen: Mapped[int] = mapped_column(_FEN, server_default="0", default=0)
    penalty_case_ids: Mapped[list[str] | None] = mapped_column(sa.JSON)


class Deduction(Base):
    """扣款: a finding's recovery (fraud.finding.confirmed / fraud.case.decided) or a case's penalty."""

    __tablename__ = "deduction"

    finding_id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    fixmedins_code: Mapped[str] = mapped_column(sa.String(30), index=True)
    setl_id: Mapped[str | None] = mapped_column(sa.String(32))
    psn_no: Mapped[str | None] = mapped_column(sa.String(20))
    family: Mapped[str | None] = mapped_column(sa.String(40))
    amount_fen: Mapped[int] = mapped_column(_FEN)
    confirmed_at: Mapped[datetime] = mapped_column(UtcDateTime())
    note: Mapped[str | None] = mapped_column(sa.String(500))
    # The month whose confirmed reconciliation took it (null until then).
    month_applied: Mapped[str | None] = mapped_column(sa.String(7), index=True)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime())
    # "fraud" (its journal is posted when a month takes it) or "clearing" (a year clearing's recovery, whose
    # journal the clearing's confirmation already posted).
    source: Mapped[str] = mapped_column(sa.String(20), server_default="fraud", default="fraud")
    # recovery (追回: a finding's amount; finding_id is the finding's id) or penalty (罚款/违约金 of a decided
    # case: finding_id is "case:<case_id>", one per case), and the case that decided it (null before cases).
    kind: Mapped[str] = mapped_column(sa.String(10), server_default="recovery", default="recovery")
    case_id: Mapped[str | None] = mapped_column(sa.String(64), index=True)


class Prepayment(Base):
    """预付: money advanced to an institution, recovered in a month's reconciliation."""

    __tablename__ = "prepayment"

    prepayment_id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    fixmedins_code: Mapped[str] = mapped_column(sa.String(30), index=True)
    amount_fen: Mapped[int] = mapped_column(_FEN)
    paid_date: Mapped[date] = mapped_column(sa.Date)
    note: Mapped[str | None] = mapped_column(sa.String(500))
    created_by: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    recovered_month: Mapped[str | None] = mapped_column(sa.String(7), index=True)
    # The caller's Idempotency-Key (unique when given) and a hash of what it asked, so that a retry gets
    # the original prepayment back and the same key with another request is refused.
    idempotency_key: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    request_hash: Mapped[str | None] = mapped_column(sa.String(64))


# --- payment by points (DRG/DIP) and the year clearing (年清算), DESIGN §12 ------------------------------


class PaymentYear(Base):
    """A payment year of one pool insutype: method, budget (以收定支) and the parameters of §12."""

    __tablename__ = "payment_year"

    year: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    insutype: Mapped[str] = mapped_column(sa.String(3), primary_key=True)
    method: Mapped[str] = mapped_column(sa.String(3))  # drg | dip
    budget_fen: Mapped[int] = mapped_column(_FEN)
    # Decimal text: quality_reserve_ratio, low_ratio, high_ratio, keep, share, band, yuan_per_point,
    # coefficient_lv1, coefficient_lv2, coefficient_lv3.
    parameters: Mapped[dict[str, str]] = mapped_column(sa.JSON)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class PointsGroup(Base):
    """A DRG or DIP group of a year: points (4 decimals, as text) and the base-year cost per case."""

    __tablename__ = "points_group"

    year: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    group_code: Mapped[str] = mapped_column(sa.String(20), primary_key=True)
    group_name: Mapped[str] = mapped_column(sa.String(200))
    points: Mapped[str] = mapped_column(sa.String(24))
    avg_cost_fen: Mapped[int] = mapped_column(_FEN)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class DipRow(Base):
    """A DIP matching row: group ← (main-diagnosis prefix, procedure code; "" = conservative 保守治疗)."""

    __tablename__ = "dip_row"

    year: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    dise_prefix: Mapped[str] = mapped_column(sa.String(30), primary_key=True)
    oprn_code: Mapped[str] = mapped_column(sa.String(30), primary_key=True)
    group_code: Mapped[str] = mapped_column(sa.String(20))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class DrgAdrg(Base):
    """A DRG grouping row: ADRG ← main-diagnosis prefixes and procedures (none: a medical ADRG)."""

    __tablename__ = "drg_adrg"

    year: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    adrg: Mapped[str] = mapped_column(sa.String(10), primary_key=True)
    adrg_name: Mapped[str | None] = mapped_column(sa.String(200))
    dise_prefixes: Mapped[list[str]] = mapped_column(sa.JSON)
    oprn_codes: Mapped[list[str]] = mapped_column(sa.JSON)
    priority: Mapped[int] = mapped_column(sa.Integer)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class DrgComplication(Base):
    """The CC/MCC list: a diagnosis prefix that, as a secondary diagnosis, makes a case more severe."""

    __tablename__ = "drg_complication"

    year: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    dise_prefix: Mapped[str] = mapped_column(sa.String(30), primary_key=True)
    level: Mapped[str] = mapped_column(sa.String(3))  # mcc | cc
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class SettlementList(Base):
    """医保结算清单 (4101A) of one settlement: its diagnoses and procedures, replaceable until the year clears."""

    __tablename__ = "settlement_list"

    setl_id: Mapped[str] = mapped_column(sa.ForeignKey("settlement.setl_id"), primary_key=True)
    fixmedins_code: Mapped[str] = mapped_column(sa.String(30), index=True)
    year: Mapped[int] = mapped_column(sa.Integer)
    # [{"dise_codg", "dise_name", "main"}], [{"oprn_codg", "oprn_name", "main", "oprn_date"}]
    diagnoses: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON)
    procedures: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON)
    # What grouping reads, compact: the main diagnosis, the other diagnoses and the procedures (the main one
    # first), each `|`-joined, so that a year's cases are grouped without decoding their lists.
    main_dise_codg: Mapped[str] = mapped_column(sa.String(30))
    secondary_codes: Mapped[str] = mapped_column(sa.String(2000))
    procedure_codes: Mapped[str] = mapped_column(sa.String(2000))
    revision: Mapped[int] = mapped_column(sa.Integer)
    uploaded_at: Mapped[datetime] = mapped_column(UtcDateTime())
    uploaded_by: Mapped[str] = mapped_column(sa.String(64))


class SpecialCase(Base):
    """特例单议: a case's points set by hand, with the reason, who and when."""

    __tablename__ = "special_case"

    setl_id: Mapped[str] = mapped_column(sa.ForeignKey("settlement.setl_id"), primary_key=True)
    points: Mapped[str] = mapped_column(sa.String(24))
    reason: Mapped[str] = mapped_column(sa.String(500))
    set_by: Mapped[str] = mapped_column(sa.String(64))
    set_at: Mapped[datetime] = mapped_column(UtcDateTime())


class QualityScore(Base):
    """An institution's quality assessment score s_i of a year and pool, in [0, 1] (default 1)."""

    __tablename__ = "quality_score"

    year: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    insutype: Mapped[str] = mapped_column(sa.String(3), primary_key=True)
    fixmedins_code: Mapped[str] = mapped_column(sa.String(30), primary_key=True)
    score: Mapped[str] = mapped_column(sa.String(10))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class AnnualClearing(Base):
    """年清算 of one pool and year: draft (recomputable) → confirmed (journals posted) → locked."""

    __tablename__ = "annual_clearing"

    year: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    insutype: Mapped[str] = mapped_column(sa.String(3), primary_key=True)
    status: Mapped[str] = mapped_column(sa.String(10))
    method: Mapped[str] = mapped_column(sa.String(3))
    budget_fen: Mapped[int] = mapped_column(_FEN)
    parameters: Mapped[dict[str, str]] = mapped_column(sa.JSON)
    cases: Mapped[int] = mapped_column(sa.Integer)
    total_points: Mapped[str] = mapped_column(sa.String(24))
    n_fen: Mapped[int] = mapped_column(_FEN)
    f_fen: Mapped[int] = mapped_column(_FEN)
    point_value: Mapped[str | None] = mapped_column(sa.String(24))
    computed_at: Mapped[datetime] = mapped_column(UtcDateTime())
    computed_by: Mapped[str] = mapped_column(sa.String(64))
    confirmed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    confirmed_by: Mapped[str | None] = mapped_column(sa.String(64))
    locked_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    locked_by: Mapped[str | None] = mapped_column(sa.String(64))


class AnnualClearingLine(Base):
    """One institution's line of a year clearing: every figure of §12, and what it ordered."""

    __tablename__ = "annual_clearing_line"
    __table_args__ = (sa.UniqueConstraint("year", "insutype", "fixmedins_code"),)

    line_id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    year: Mapped[int] = mapped_column(sa.Integer)
    insutype: Mapped[str] = mapped_column(sa.String(3))
    fixmedins_code: Mapped[str] = mapped_column(sa.String(30), index=True)
    cases: Mapped[int] = mapped_column(sa.Integer)
    points: Mapped[str] = mapped_column(sa.String(24))
    cmi: Mapped[str | None] = mapped_column(sa.String(24))
    n_fen: Mapped[int] = mapped_column(_FEN)
    f_fen: Mapped[int] = mapped_column(_FEN)
    e_fen: Mapped[int] = mapped_column(_FEN)
    a_fen: Mapped[int] = mapped_column(_FEN)
    withheld_fen: Mapped[int] = mapped_column(_FEN)
    score: Mapped[str] = mapped_column(sa.String(10))
    final_fen: Mapped[int] = mapped_column(_FEN)
    paid_fen: Mapped[int] = mapped_column(_FEN)
    clearing_fen: Mapped[int] = mapped_column(_FEN)
    colour: Mapped[str] = mapped_column(sa.String(6))
    low_cases: Mapped[int] = mapped_column(sa.Integer)
    high_cases: Mapped[int] = mapped_column(sa.Integer)
    ungrouped_cases: Mapped[int] = mapped_column(sa.Integer)
    special_cases: Mapped[int] = mapped_column(sa.Integer)
    disbursement_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    deduction_id: Mapped[str | None] = mapped_column(sa.String(64))


# --- the fund ledger (append-only double entry, integer fen) -----------------------------------------


class Journal(Base):
    """One balanced journal: a settlement, reversal, contribution, disbursement or deduction."""

    __tablename__ = "journal"

    journal_id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(sa.String(20))
    ref: Mapped[str] = mapped_column(sa.String(64), index=True)
    business_date: Mapped[date] = mapped_column(sa.Date, index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class JournalLeg(Base):
    """One leg of a journal: positive debits, negative credits; a journal's legs sum to zero."""

    __tablename__ = "journal_leg"

    leg_id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    journal_id: Mapped[int] = mapped_column(sa.ForeignKey("journal.journal_id"), index=True)
    account: Mapped[str] = mapped_column(sa.String(64), index=True)
    amount_fen: Mapped[int] = mapped_column(_FEN)


class SuspendedPractitioner(Base):
    """A practitioner's suspension of payment qualification (fraud.practitioner.suspended / .reinstated).

    Lines they order or dispense with a fee date in [suspended_from, suspended_until] are refused, before
    `lifted_on` when the period was ended early.
    """

    __tablename__ = "suspended_practitioner"
    __table_args__ = (sa.Index("ix_suspended_practitioner_prac_until", "prac_codg", "suspended_until"),)

    suspension_id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    prac_codg: Mapped[str] = mapped_column(sa.String(20))
    fixmedins_code: Mapped[str] = mapped_column(sa.String(30))
    level: Mapped[str] = mapped_column(sa.String(12))
    suspended_from: Mapped[date] = mapped_column(sa.Date)
    suspended_until: Mapped[date] = mapped_column(sa.Date)
    lifted_on: Mapped[date | None] = mapped_column(sa.Date)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
