"""The split (DESIGN.md §6.2): who pays what of a claim, every step rounded half-up to the fen.

Pure arithmetic on integer fen and Decimal: the lines with our catalogue's class and limits (steps 1–2), then
the settlement with the person's year so far (steps 3–10). Nothing here reads a clock or a database.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from common.national import (
    EMPLOYEE,
    FUND_PAY_TYPE,
    RESIDENT,
    Benefit,
)

# Re-exported: the ledger, the day close and the answers name funds through this module.
from common.national import FUND_ASSISTANCE as FUND_ASSISTANCE
from common.national import FUND_EMPLOYEE_LARGE as FUND_EMPLOYEE_LARGE
from common.national import FUND_EMPLOYEE_POOL as FUND_EMPLOYEE_POOL
from common.national import FUND_RESIDENT_CRITICAL as FUND_RESIDENT_CRITICAL
from common.national import FUND_RESIDENT_POOL as FUND_RESIDENT_POOL
from common.national import SUPPLEMENTARY_INSUTYPE as SUPPLEMENTARY_INSUTYPE
from common.national import age_on as age_on
from settlement.domain.policy import Policy, SchemePolicy

CLASS_A, CLASS_B, CLASS_C = "01", "02", "03"

# setldetail fund types (基金支付类型) and their names
FUND_NAMES = FUND_PAY_TYPE
POOL_FUND = {EMPLOYEE: FUND_EMPLOYEE_POOL, RESIDENT: FUND_RESIDENT_POOL}
SUPPLEMENTARY_FUND = {EMPLOYEE: FUND_EMPLOYEE_LARGE, RESIDENT: FUND_RESIDENT_CRITICAL}

# Why a line or a settlement is paid the way it is (shown to the caller).
NOT_IN_CATALOG = "NOT_IN_CATALOG"
CLASS_C_SELF_PAY = "CLASS_C_SELF_PAY"
GENDER_LIMIT = "GENDER_LIMIT"
AGE_LIMIT = "AGE_LIMIT"
OVER_QUANTITY = "OVER_QUANTITY"
OVER_PRICE_CAP = "OVER_PRICE_CAP"
WAITING_PERIOD = "WAITING_PERIOD"
PHARMACY_ACCOUNT_ONLY = "PHARMACY_ACCOUNT_ONLY"
POOL_CEILING_REACHED = "POOL_CEILING_REACHED"
OUTPATIENT_CAP_REACHED = "OUTPATIENT_CAP_REACHED"
SUPPLEMENTARY_CAP_REACHED = "SUPPLEMENTARY_CAP_REACHED"
ASSISTANCE_CAP_REACHED = "ASSISTANCE_CAP_REACHED"


class InvariantViolation(AssertionError):
    """A split that breaks an invariant of §6.2: a bug, never a caller's mistake; nothing is stored."""


def half_up(value: Decimal) -> int:
    """A computed amount in fen, rounded half-up to the whole fen (0.01 yuan)."""
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def yuan_times(cnt: Decimal, price: Decimal) -> int:
    """cnt × price (yuan) in fen, rounded half-up."""
    return half_up(cnt * price * 100)


@dataclass(frozen=True, slots=True)
class CatalogEntry:
    med_list_codg: str
    chrgitm_lv: str
    selfpay_prop: Decimal | None = None
    pric_uplmt_amt: Decimal | None = None
    gend_lmt: str | None = None
    age_min: int | None = None
    age_max: int | None = None
    max_cnt_per_visit: Decimal | None = None
    trac_codg_required: bool = False  # 需扫追溯码 (依码结算 refuses its lines without one where it is on)


@dataclass(frozen=True, slots=True)
class FeeLine:
    feedetl_sn: str
    med_list_codg: str
    cnt: Decimal
    pric: Decimal
    amount_fen: int


@dataclass(frozen=True, slots=True)
class LineSplit:
    feedetl_sn: str
    med_list_codg: str
    amount_fen: int
    fulamt_ownpay_fen: int
    overlmt_fen: int
    preselfpay_fen: int
    inscp_fen: int
    chrgitm_lv: str | None
    selfpay_prop: Decimal
    reasons: tuple[str, ...]


def split_line(
    line: FeeLine,
    entry: CatalogEntry | None,
    *,
    gend: str,
    age: int,
    cnt_before: Decimal,
    class_b_selfpay_prop: Decimal,
) -> LineSplit:
    """Steps 1–2 for one line. `cnt_before`: the quantity of the same item already on this visit."""
    amount = line.amount_fen

    def whole_self_pay(reason: str, lv: str | None) -> LineSplit:
        return LineSplit(
            line.feedetl_sn, line.med_list_codg, amount, amount, 0, 0, 0, lv, Decimal(1), (reason,)
        )

    if entry is None:
        return whole_self_pay(NOT_IN_CATALOG, None)
    if entry.chrgitm_lv == CLASS_C:
        return whole_self_pay(CLASS_C_SELF_PAY, CLASS_C)
    # Limited payment scope (限定支付范围): outside it the item is the person's own.
    if entry.gend_lmt is not None and entry.gend_lmt != gend:
        return whole_self_pay(GENDER_LIMIT, entry.chrgitm_lv)
    if (entry.age_min is not None and age < entry.age_min) or (
        entry.age_max is not None and age > entry.age_max
    ):
        return whole_self_pay(AGE_LIMIT, entry.chrgitm_lv)
    reasons: list[str] = []
    covered_cnt = line.cnt
    fulamt = 0
    if entry.max_cnt_per_visit is not None and cnt_before + line.cnt > entry.max_cnt_per_visit:
        covered_cnt = max(Decimal(0), min(line.cnt, entry.max_cnt_per_visit - cnt_before))
        fulamt = min(amount, yuan_times(line.cnt - covered_cnt, line.pric))
        reasons.append(OVER_QUANTITY)
    payable = amount - fulamt
    overlmt = 0
    if entry.pric_uplmt_amt is not None and line.pric > entry.pric_uplmt_amt:
        overlmt = min(payable, max(0, yuan_times(covered_cnt, line.pric - entry.pric_uplmt_amt)))
        if overlmt:
            reasons.append(OVER_PRICE_CAP)
    base = payable - overlmt
    if entry.chrgitm_lv == CLASS_A:
        prop = Decimal(0)
    else:
        prop = entry.selfpay_prop if entry.selfpay_prop is not None else class_b_selfpay_prop
    preselfpay = half_up(base * prop)
    return LineSplit(
        line.feedetl_sn,
        line.med_list_codg,
        amount,
        fulamt,
        overlmt,
        preselfpay,
        base - preselfpay,
        entry.chrgitm_lv,
        prop,
        tuple(reasons),
    )


def split_lines(
    lines: Sequence[FeeLine],
    catalog: Mapping[str, CatalogEntry],
    *,
    gend: str,
    age: int,
    class_b_selfpay_prop: Decimal,
) -> list[LineSplit]:
    """Steps 1–2 for a visit's lines in upload order (the per-visit quantity limit counts across lines)."""
    seen: dict[str, Decimal] = {}
    result = []
    for line in lines:
        before = seen.get(line.med_list_codg, Decimal(0))
        result.append(
            split_line(
                line,
                catalog.get(line.med_list_codg),
                gend=gend,
                age=age,
                cnt_before=before,
                class_b_selfpay_prop=class_b_selfpay_prop,
            )
        )
        seen[line.med_list_codg] = before + line.cnt
    return result


@dataclass(frozen=True, slots=True)
class Claimant:
    """The person as the policy sees them, from the coverage projection."""

    insutype: str  # the basic scheme: 310 or 390
    psn_type: str | None = None  # employed | retired (310)
    assistance: str | None = None  # extreme_poverty | minimum_living | monitored
    supplementary: bool = True  # 330 / 392 attached to the basic coverage
    incentive_raise_fen: int = 0  # resident critical-illness cap raise (连续参保激励)


@dataclass(frozen=True, slots=True)
class YearToDate:
    """What the person's year (under this scheme) has used so far."""

    outpatient_dedc_fen: int = 0
    outpatient_pool_fen: int = 0
    pool_fen: int = 0
    pool_self_fen: int = 0
    supp_fen: int = 0
    maf_fen: int = 0


@dataclass(frozen=True, slots=True)
class Wallets:
    """The personal-account money the person may draw on when acct_used_flag is 1."""

    own_balc_fen: int = 0
    family_holder: str | None = None  # 家庭共济: the holder whose account may pay the rest
    family_balc_fen: int = 0


@dataclass(frozen=True, slots=True)
class FundPayment:
    fund_pay_type: str
    amount_fen: int


@dataclass(frozen=True, slots=True)
class SettlementSplit:
    medfee_fen: int
    fulamt_ownpay_fen: int
    overlmt_selfpay_fen: int
    preselfpay_fen: int
    inscp_scp_fen: int
    act_pay_dedc_fen: int
    hifp_pay_fen: int
    hifmi_pay_fen: int
    hifob_pay_fen: int
    maf_pay_fen: int
    fund_pay_fen: int
    psn_part_fen: int
    acct_pay_fen: int
    acct_mulaid_pay_fen: int
    psn_cash_pay_fen: int
    pool_self_fen: int
    # What goes into the person's year: the accumulators after are before + these.
    year_delta: YearToDate
    incentive_raise_used: bool
    funds: tuple[FundPayment, ...]
    reasons: tuple[str, ...] = field(default=())
    lines: tuple[LineSplit, ...] = field(default=())


def _ratio(scheme: SchemePolicy, claimant: Claimant, benefit: Benefit, hosp_lv: int) -> Decimal:
    table = scheme.inpatient_ratio if benefit is Benefit.INPATIENT else scheme.outpatient_ratio
    ratio = table[hosp_lv]
    if claimant.insutype == EMPLOYEE and claimant.psn_type == "retired":
        # The bonus is capped, but never takes a retiree below the base ratio (a policy may set base > max).
        ratio = max(ratio, min(ratio + scheme.retiree_bonus, scheme.max_ratio))
    return ratio


def split_settlement(
    lines: Sequence[LineSplit],
    *,
    policy: Policy,
    claimant: Claimant,
    med_type: str,
    hosp_lv: int | None,
    ytd: YearToDate,
    in_waiting_period: bool,
    acct_used: bool,
    wallets: Wallets,
) -> SettlementSplit:
    """Steps 3–10 over the lines' split, with the person's year so far.

    The med_type is paid as the benefit the policy gives it (MedTypeNotCovered when it gives none).
    """
    benefit = policy.benefit_of(med_type)
    medfee = sum(line.amount_fen for line in lines)
    fulamt = sum(line.fulamt_ownpay_fen for line in lines)
    overlmt = sum(line.overlmt_fen for line in lines)
    preselfpay = sum(line.preselfpay_fen for line in lines)
    inscp = sum(line.inscp_fen for line in lines)
    scheme = policy.scheme(claimant.insutype)
    reasons: list[str] = []
    dedc = hifp = supp = maf = pool_self = 0
    delta = YearToDate()
    raise_used = False
    if in_waiting_period:
        reasons.append(WAITING_PERIOD)
    elif benefit is Benefit.PHARMACY:
        reasons.append(PHARMACY_ACCOUNT_ONLY)
    else:
        level = hosp_lv or 1
        inpatient = benefit is Benefit.INPATIENT
        # 3. the deductible: per admission for inpatient care, per year for outpatient care.
        if inpatient:
            dedc = min(inscp, scheme.inpatient_deductible_fen[level])
        else:
            dedc = min(inscp, max(0, scheme.outpatient_deductible_fen - ytd.outpatient_dedc_fen))
        # 4. the basic pool, up to the year's ceiling (and the outpatient cap).
        hifp = half_up((inscp - dedc) * _ratio(scheme, claimant, benefit, level))
        pool_left = max(0, scheme.pool_ceiling_fen - ytd.pool_fen)
        if hifp > pool_left:
            hifp = pool_left
            reasons.append(POOL_CEILING_REACHED)
        if not inpatient:
            outpatient_left = max(0, scheme.outpatient_pool_cap_fen - ytd.outpatient_pool_fen)
            if hifp > outpatient_left:
                hifp = outpatient_left
                reasons.append(OUTPATIENT_CAP_REACHED)
        # 5. the supplementary layer on the year's in-scope self-burden above the threshold.
        pool_self = inscp - dedc - hifp
        if claimant.supplementary:
            threshold = scheme.supplementary_threshold_fen
            above = max(0, ytd.pool_self_fen + pool_self - threshold) - max(0, ytd.pool_self_fen - threshold)
            supp = half_up(above * scheme.supplementary_ratio)
            raise_fen = claimant.incentive_raise_fen if claimant.insutype == RESIDENT else 0
            supp_left = max(0, scheme.supplementary_cap_fen + raise_fen - ytd.supp_fen)
            if supp > supp_left:
                supp = supp_left
                reasons.append(SUPPLEMENTARY_CAP_REACHED)
            # Only when this claim itself was paid from the raise (past the base cap).
            raise_used = raise_fen > 0 and supp > 0 and ytd.supp_fen + supp > scheme.supplementary_cap_fen
        # 6. medical assistance on what is left of the in-scope self-burden.
        if claimant.assistance is not None:
            ratio = scheme.assistance_ratio[claimant.assistance]
            maf = half_up((pool_self - supp) * ratio)
            maf_left = max(0, scheme.assistance_cap_fen - ytd.maf_fen)
            if maf > maf_left:
                maf = maf_left
                reasons.append(ASSISTANCE_CAP_REACHED)
        delta = YearToDate(
            outpatient_dedc_fen=0 if inpatient else dedc,
            outpatient_pool_fen=0 if inpatient else hifp,
            pool_fen=hifp,
            pool_self_fen=pool_self,
            supp_fen=supp,
            maf_fen=maf,
        )
    # 7. the fund's part and the person's.
    fund = hifp + supp + maf
    psn_part = medfee - fund
    # 8. the personal account, then the family holder's, then cash.
    acct = mulaid = 0
    if acct_used:
        acct = min(psn_part, max(0, wallets.own_balc_fen))
        if wallets.family_holder is not None:
            mulaid = min(psn_part - acct, max(0, wallets.family_balc_fen))
    cash = psn_part - acct - mulaid
    hifmi = supp if claimant.insutype == RESIDENT else 0
    hifob = supp if claimant.insutype == EMPLOYEE else 0
    funds = tuple(
        FundPayment(fund_type, amount)
        for fund_type, amount in (
            (POOL_FUND[claimant.insutype], hifp),
            (SUPPLEMENTARY_FUND[claimant.insutype], supp),
            (FUND_ASSISTANCE, maf),
        )
        if amount > 0
    )
    result = SettlementSplit(
        medfee_fen=medfee,
        fulamt_ownpay_fen=fulamt,
        overlmt_selfpay_fen=overlmt,
        preselfpay_fen=preselfpay,
        inscp_scp_fen=inscp,
        act_pay_dedc_fen=dedc,
        hifp_pay_fen=hifp,
        hifmi_pay_fen=hifmi,
        hifob_pay_fen=hifob,
        maf_pay_fen=maf,
        fund_pay_fen=fund,
        psn_part_fen=psn_part,
        acct_pay_fen=acct,
        acct_mulaid_pay_fen=mulaid,
        psn_cash_pay_fen=cash,
        pool_self_fen=pool_self,
        year_delta=delta,
        incentive_raise_used=raise_used,
        funds=funds,
        reasons=tuple(reasons),
        lines=tuple(lines),
    )
    check_invariants(result, policy=policy, claimant=claimant, ytd=ytd)
    return result


def check_invariants(split: SettlementSplit, *, policy: Policy, claimant: Claimant, ytd: YearToDate) -> None:
    """The invariants of §6.2; a violation is a bug and stops the settlement before anything is stored."""
    s = split
    problems = []
    if s.medfee_fen != s.fulamt_ownpay_fen + s.overlmt_selfpay_fen + s.preselfpay_fen + s.inscp_scp_fen:
        problems.append("medfee != fulamt + overlmt + preselfpay + inscp")
    if s.medfee_fen != s.fund_pay_fen + s.acct_pay_fen + s.acct_mulaid_pay_fen + s.psn_cash_pay_fen:
        problems.append("medfee != fund + acct + mulaid + cash")
    if s.fund_pay_fen != s.hifp_pay_fen + s.hifmi_pay_fen + s.hifob_pay_fen + s.maf_pay_fen:
        problems.append("fund != hifp + hifmi + hifob + maf")
    # Steps 3–6 either ran (and share out the whole in-scope amount) or were skipped (waiting, pharmacy).
    if s.act_pay_dedc_fen + s.hifp_pay_fen + s.pool_self_fen not in (0, s.inscp_scp_fen):
        problems.append("inscp != dedc + hifp + pool_self")
    if s.hifmi_pay_fen + s.hifob_pay_fen + s.maf_pay_fen > max(0, s.pool_self_fen):
        problems.append("supplementary + assistance exceed the in-scope self-burden")
    amounts = (
        s.medfee_fen, s.fulamt_ownpay_fen, s.overlmt_selfpay_fen, s.preselfpay_fen, s.inscp_scp_fen,
        s.act_pay_dedc_fen, s.hifp_pay_fen, s.hifmi_pay_fen, s.hifob_pay_fen, s.maf_pay_fen, s.fund_pay_fen,
        s.psn_part_fen, s.acct_pay_fen, s.acct_mulaid_pay_fen, s.psn_cash_pay_fen, s.pool_self_fen,
    )  # fmt: skip
    if any(amount < 0 for amount in amounts):
        problems.append("a negative amount")
    scheme = policy.scheme(claimant.insutype)
    after = ytd.pool_fen + s.year_delta.pool_fen
    if s.year_delta.pool_fen and after > scheme.pool_ceiling_fen:
        problems.append("pool ceiling exceeded")
    if s.year_delta.outpatient_pool_fen and (
        ytd.outpatient_pool_fen + s.year_delta.outpatient_pool_fen > scheme.outpatient_pool_cap_fen
    ):
        problems.append("outpatient pool cap exceeded")
    raise_fen = claimant.incentive_raise_fen if claimant.insutype == RESIDENT else 0
    if (
        s.year_delta.supp_fen
        and ytd.supp_fen + s.year_delta.supp_fen > scheme.supplementary_cap_fen + raise_fen
    ):
        problems.append("supplementary cap exceeded")
    if s.year_delta.maf_fen and ytd.maf_fen + s.year_delta.maf_fen > scheme.assistance_cap_fen:
        problems.append("assistance cap exceeded")
    if problems:
        raise InvariantViolation("; ".join(problems))
