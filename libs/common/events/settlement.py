"""Contracts of the events the settlement service publishes (data of the envelope, DESIGN.md §4)."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field

from common.money import Price, Quantity, Yuan


class _Contract(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


# --- reference data: institutions and the catalogue (each event carries the whole record as it now stands) ---


class InstitutionChanged(_Contract):
    """settlement.institution.changed — a designated institution created or changed."""

    fixmedins_code: str
    fixmedins_name: str
    fixmedins_type: str = Field(description="hospital | pharmacy")
    hosp_lv: int | None = Field(description="1, 2 or 3 for a hospital; null for a pharmacy")
    admdvs: str = Field(description="6-digit region code")
    status: str = Field(description="active | suspended (a suspended institution cannot settle)")
    points_payment: bool = Field(False, description="its inpatient cases are paid by points (DRG/DIP)")
    points_coefficient: str | None = Field(None, description="its own coefficient for points, or null")


class CatalogChanged(_Contract):
    """settlement.catalog.changed — a catalogue item created or changed; decimals as exact strings."""

    med_list_codg: str
    name: str
    chrgitm_lv: str = Field(description="01 甲类, 02 乙类, 03 丙类")
    selfpay_prop: str | None = Field(
        description="乙类 self-pay share; null: the policy's default for the class"
    )
    pric_uplmt_amt: str | None = Field(description="Price cap (yuan); null: none")
    gend_lmt: str | None = Field(description="1 male only, 2 female only; null: none")
    age_min: int | None
    age_max: int | None
    max_cnt_per_visit: str | None = Field(description="Most quantity paid per visit; null: none")
    trac_codg_required: bool = Field(
        False,
        description="需扫追溯码 a drug whose lines must carry its traceability codes (扫码率, 依码结算)",
    )


# --- claims: settled and reversed (what fraud, pricing and enrollment consume) -------------------------


class SettledLine(_Contract):
    """A fee line as settled: what was billed, its class, its split, its traceability codes."""

    feedetl_sn: str
    med_list_codg: str
    medins_list_codg: str | None
    chrgitm_lv: str | None = Field(description="01 | 02 | 03; null: not in the catalogue")
    cnt: Quantity
    pric: Price
    det_item_fee_sumamt: Yuan
    fulamt_ownpay_amt: Yuan
    overlmt_amt: Yuan
    preselfpay_amt: Yuan
    inscp_scp_amt: Yuan
    fee_ocur_time: datetime
    drug_trac_codg: list[str] = Field(description="药品追溯码, one per pack")
    dise_codg: str | None = None
    notes: list[str] = Field(default_factory=list)
    bilg_dr_codg: str | None = Field(default=None, description="开单医生 医保医师代码")
    phar_prac_codg: str | None = Field(default=None, description="药师 医保药师代码")


class SettledFund(_Contract):
    fund_pay_type: str = Field(description="310100 | 330200 | 390100 | 390200 | 610100")
    fund_pay_type_name: str
    fund_payamt: Yuan


class SettlementSettled(_Contract):
    """settlement.settled — the whole setlinfo, the funds that paid, and every line with its split."""

    setl_id: str
    medins_setl_id: str
    mdtrt_id: str
    psn_no: str
    insutype: str
    med_type: str
    fixmedins_code: str
    fixmedins_type: str
    hosp_lv: int | None
    admdvs: str
    begntime: datetime
    endtime: datetime | None
    dise_codg: str | None
    setl_time: datetime
    business_date: date = Field(description="Asia/Shanghai date the settlement counts in (day close)")
    policy_version: int
    medfee_sumamt: Yuan
    fulamt_ownpay_amt: Yuan
    overlmt_selfpay: Yuan
    preselfpay_amt: Yuan
    inscp_scp_amt: Yuan
    act_pay_dedc: Yuan
    hifp_pay: Yuan
    hifmi_pay: Yuan
    hifob_pay: Yuan
    maf_pay: Yuan
    fund_pay_sumamt: Yuan
    psn_part_amt: Yuan
    acct_pay: Yuan
    acct_mulaid_pay: Yuan
    psn_cash_pay: Yuan
    balc: Yuan
    mulaid_psn_no: str | None
    review: str = Field(description="passed | warned | skipped | disabled")
    incentive_raise_used: bool = Field(
        description="The critical-illness payment went past the base cap into the incentive raise"
    )
    assistance: str | None = Field(
        None,
        description="医疗救助类别 of the person's coverage when settled: extreme_poverty | minimum_living | "
        "monitored; null: none",
    )
    setldetail: list[SettledFund]
    feedetail: list[SettledLine]


class SettlementReversed(_Contract):
    """settlement.reversed — a settlement taken back; amounts are those of the original."""

    setl_id: str = Field(description="The reversal's own setl_id")
    orig_setl_id: str
    medins_setl_id: str
    mdtrt_id: str
    psn_no: str
    insutype: str
    med_type: str
    fixmedins_code: str
    setl_time: datetime
    business_date: date
    orig_setl_time: datetime
    orig_business_date: date
    reason: str
    medfee_sumamt: Yuan
    fund_pay_sumamt: Yuan
    hifp_pay: Yuan
    hifmi_pay: Yuan
    hifob_pay: Yuan
    maf_pay: Yuan
    acct_pay: Yuan
    acct_mulaid_pay: Yuan
    psn_cash_pay: Yuan
    balc: Yuan


# --- payment by points: a case's group (what fraud's upcoding rule compares between institutions) ---------


class CaseGrouped(_Contract):
    """settlement.case.grouped — a points case grouped (DRG/DIP) when its 医保结算清单 was uploaded or replaced."""

    setl_id: str
    fixmedins_code: str
    insutype: str
    year: int = Field(description="Payment year (the settlement's business date's year)")
    method: str = Field(description="drg | dip")
    group_code: str | None = Field(description="The DRG/DIP group; null: ungrouped")
    group_name: str | None = Field(description="The group's name; null: ungrouped")
    severity: str | None = Field(
        description="DRG: mcc | cc | none (the most severe complication of a secondary diagnosis); "
        "null for DIP or when no ADRG was found"
    )
    base_points: str | None = Field(description="The group's points (4 decimals); null: ungrouped")
    points: str = Field(description="The case's points (4 decimals), 特例单议 points when set")
    deviation: str = Field(description="normal | low | high | ungrouped")
    medfee_sumamt: Yuan = Field(description="The case's medfee, yuan")
    revision: int = Field(description="The settlement list's revision (a later one replaces an earlier one)")
    grouped_at: datetime
