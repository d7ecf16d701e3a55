"""The split of DESIGN.md §6.2 case by case, every amount worked out by hand from the text, in fen."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest

from settlement.domain.coverage import CoverageFacts, coverage_on
from settlement.domain.ledger import (
    Leg,
    UnbalancedJournal,
    contribution_legs,
    reversal_legs,
    settlement_legs,
)
from settlement.domain.policy import (
    DEFAULT_PARAMETERS,
    DEFAULT_POLICY,
    MedTypeNotCovered,
    Policy,
    parse_policy,
)
from settlement.domain.split import (
    AGE_LIMIT,
    ASSISTANCE_CAP_REACHED,
    CLASS_C_SELF_PAY,
    GENDER_LIMIT,
    NOT_IN_CATALOG,
    OUTPATIENT_CAP_REACHED,
    OVER_PRICE_CAP,
    OVER_QUANTITY,
    PHARMACY_ACCOUNT_ONLY,
    POOL_CEILING_REACHED,
    SUPPLEMENTARY_CAP_REACHED,
    WAITING_PERIOD,
    CatalogEntry,
    Claimant,
    FeeLine,
    FundPayment,
    SettlementSplit,
    Wallets,
    YearToDate,
    age_on,
    split_lines,
    split_settlement,
)

MALE, FEMALE = "1", "2"

CATALOG = {
    entry.med_list_codg: entry
    for entry in (
        CatalogEntry("A01", "01"),  # 甲类
        CatalogEntry("B20", "02", selfpay_prop=Decimal("0.20")),  # 乙类, the catalogue's own share
        CatalogEntry("B00", "02"),  # 乙类, the policy default 0.10
        CatalogEntry("C01", "03"),  # 丙类
        CatalogEntry("CAPA", "01", pric_uplmt_amt=Decimal("30.00")),
        CatalogEntry("CAPB", "02", pric_uplmt_amt=Decimal("10.00")),
        CatalogEntry("FEM", "01", gend_lmt=FEMALE),
        CatalogEntry("KID", "01", age_max=14),
        CatalogEntry("OLD", "01", age_min=60),
        CatalogEntry("QTY", "01", max_cnt_per_visit=Decimal("10")),
        CatalogEntry("QCAP", "01", pric_uplmt_amt=Decimal("4.00"), max_cnt_per_visit=Decimal("10")),
    )
}

EMPLOYED = Claimant("310", "employed")
RETIRED = Claimant("310", "retired")
RESIDENT = Claimant("390")
# The employee's 700-yuan outpatient deductible already used this year, so outpatient cases show the ratio alone.
DEDUCTIBLE_USED = YearToDate(outpatient_dedc_fen=70_000)
NOTHING_YET = YearToDate()


def policy_with(changes: dict[str, Any]) -> Policy:
    """The default table with some parameters replaced (paths as "310.inpatient.ratio.1")."""
    parameters = copy.deepcopy(DEFAULT_PARAMETERS)
    for path, value in changes.items():
        *parents, last = path.split(".")
        node = parameters
        for key in parents:
            node = node[key]
        node[last] = value
    return parse_policy(parameters)


HIGH_RATIO_POLICY = policy_with({"310.inpatient.ratio.1": "0.93"})


def line(sn: str, code: str, cnt: str, pric: str, amount_fen: int) -> FeeLine:
    # The amount is written out by hand; this only guards the test data against a typo.
    exact = (Decimal(cnt) * Decimal(pric) * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    assert int(exact) == amount_fen, f"line {sn}: {cnt} × {pric} is {exact} fen"
    return FeeLine(sn, code, Decimal(cnt), Decimal(pric), amount_fen)


@dataclass(frozen=True)
class Claim:
    lines: tuple[FeeLine, ...]
    claimant: Claimant
    med_type: str
    hosp_lv: int | None
    ytd: YearToDate
    waiting: bool
    acct_used: bool
    wallets: Wallets
    gend: str
    age: int
    policy: Policy


def claim(
    *lines: FeeLine,
    claimant: Claimant = EMPLOYED,
    med_type: str = "11",
    hosp_lv: int | None = 1,
    ytd: YearToDate = DEDUCTIBLE_USED,
    waiting: bool = False,
    acct_used: bool = False,
    wallets: Wallets = Wallets(),  # noqa: B008 - frozen, so sharing the default is safe
    gend: str = MALE,
    age: int = 36,
    policy: Policy = DEFAULT_POLICY,
) -> Claim:
    return Claim(lines, claimant, med_type, hosp_lv, ytd, waiting, acct_used, wallets, gend, age, policy)


def settle(c: Claim) -> SettlementSplit:
    split = split_lines(
        c.lines, CATALOG, gend=c.gend, age=c.age, class_b_selfpay_prop=c.policy.class_b_selfpay_prop
    )
    return split_settlement(
        split,
        policy=c.policy,
        claimant=c.claimant,
        med_type=c.med_type,
        hosp_lv=c.hosp_lv,
        ytd=c.ytd,
        in_waiting_period=c.waiting,
        acct_used=c.acct_used,
        wallets=c.wallets,
    )


LineParts = tuple[int, int, int, int, tuple[str, ...]]  # fulamt, overlmt, preselfpay, inscp, reasons


@dataclass(frozen=True, kw_only=True)
class Expected:
    """Every amount of a SettlementSplit; a case must name each one (only reasons and the raise flag default)."""

    lines: list[LineParts]
    medfee: int
    fulamt: int
    overlmt: int
    pre: int
    inscp: int
    dedc: int
    hifp: int
    hifmi: int
    hifob: int
    maf: int
    fund: int
    pool_self: int
    psn_part: int
    acct: int
    mulaid: int
    cash: int
    delta: YearToDate
    funds: dict[str, int]
    reasons: tuple[str, ...] = field(default=())
    raise_used: bool = False


def observed(s: SettlementSplit) -> Expected:
    return Expected(
        lines=[
            (ln.fulamt_ownpay_fen, ln.overlmt_fen, ln.preselfpay_fen, ln.inscp_fen, ln.reasons)
            for ln in s.lines
        ],
        medfee=s.medfee_fen,
        fulamt=s.fulamt_ownpay_fen,
        overlmt=s.overlmt_selfpay_fen,
        pre=s.preselfpay_fen,
        inscp=s.inscp_scp_fen,
        dedc=s.act_pay_dedc_fen,
        hifp=s.hifp_pay_fen,
        hifmi=s.hifmi_pay_fen,
        hifob=s.hifob_pay_fen,
        maf=s.maf_pay_fen,
        fund=s.fund_pay_fen,
        pool_self=s.pool_self_fen,
        psn_part=s.psn_part_fen,
        acct=s.acct_pay_fen,
        mulaid=s.acct_mulaid_pay_fen,
        cash=s.psn_cash_pay_fen,
        delta=s.year_delta,
        funds={f.fund_pay_type: f.amount_fen for f in s.funds},
        reasons=s.reasons,
        raise_used=s.incentive_raise_used,
    )


def case(case_id: str, c: Claim, **expected: Any) -> Any:
    return pytest.param(c, Expected(**expected), id=case_id)


def ytd(**fen: int) -> YearToDate:
    return YearToDate(**{f"{name}_fen": amount for name, amount in fen.items()})


# A big inpatient bill: one 甲类 line of 10,000 yuan.
BIG = line("1", "A01", "1", "10000.00", 1_000_000)
# A small outpatient bill: one 甲类 line of 100 yuan.
SMALL = line("1", "A01", "2", "50.00", 10_000)


# fmt: off
# Steps 1–2 line by line; the settlement is an employee's outpatient visit at level 1 (ratio 0.70) with the
# year's deductible already used, so dedc = 0, hifp = inscp × 0.70, and no account.
LINE_CASES = [
    case("class-01-is-wholly-in-scope",
         claim(SMALL),
         # inscp = 10000; hifp = 10000 × 0.70 = 7000; pool_self = 3000; psn_part = 10000 − 7000 = 3000
         lines=[(0, 0, 0, 10_000, ())],
         medfee=10_000, fulamt=0, overlmt=0, pre=0, inscp=10_000,
         dedc=0, hifp=7_000, hifmi=0, hifob=0, maf=0, fund=7_000, pool_self=3_000,
         psn_part=3_000, acct=0, mulaid=0, cash=3_000,
         delta=ytd(outpatient_pool=7_000, pool=7_000, pool_self=3_000), funds={"310100": 7_000}),
    case("class-02-uses-the-catalogue-selfpay-prop",
         claim(line("1", "B20", "1", "80.00", 8_000)),
         # pre = 8000 × 0.20 = 1600; inscp = 6400; hifp = 6400 × 0.70 = 4480; pool_self = 1920
         # psn_part = 8000 − 4480 = 3520
         lines=[(0, 0, 1_600, 6_400, ())],
         medfee=8_000, fulamt=0, overlmt=0, pre=1_600, inscp=6_400,
         dedc=0, hifp=4_480, hifmi=0, hifob=0, maf=0, fund=4_480, pool_self=1_920,
         psn_part=3_520, acct=0, mulaid=0, cash=3_520,
         delta=ytd(outpatient_pool=4_480, pool=4_480, pool_self=1_920), funds={"310100": 4_480}),
    case("class-02-without-a-prop-uses-the-policy-default-and-half-a-fen-rounds-up",
         claim(line("1", "B00", "1", "12.35", 1_235)),
         # pre = 1235 × 0.10 = 123.5 → 124; inscp = 1235 − 124 = 1111
         # hifp = 1111 × 0.70 = 777.7 → 778; pool_self = 1111 − 778 = 333; psn_part = 1235 − 778 = 457
         lines=[(0, 0, 124, 1_111, ())],
         medfee=1_235, fulamt=0, overlmt=0, pre=124, inscp=1_111,
         dedc=0, hifp=778, hifmi=0, hifob=0, maf=0, fund=778, pool_self=333,
         psn_part=457, acct=0, mulaid=0, cash=457,
         delta=ytd(outpatient_pool=778, pool=778, pool_self=333), funds={"310100": 778}),
    case("class-02-preselfpay-rounds-half-up-even-to-an-odd-fen",
         claim(line("1", "B00", "1", "12.25", 1_225)),
         # pre = 1225 × 0.10 = 122.5 → 123 (half-even would give 122); inscp = 1102
         # hifp = 1102 × 0.70 = 771.4 → 771; pool_self = 331; psn_part = 1225 − 771 = 454
         lines=[(0, 0, 123, 1_102, ())],
         medfee=1_225, fulamt=0, overlmt=0, pre=123, inscp=1_102,
         dedc=0, hifp=771, hifmi=0, hifob=0, maf=0, fund=771, pool_self=331,
         psn_part=454, acct=0, mulaid=0, cash=454,
         delta=ytd(outpatient_pool=771, pool=771, pool_self=331), funds={"310100": 771}),
    case("the-pool-share-rounds-half-up",
         claim(line("1", "A01", "1", "12.35", 1_235)),
         # hifp = 1235 × 0.70 = 864.5 → 865; pool_self = 1235 − 865 = 370
         lines=[(0, 0, 0, 1_235, ())],
         medfee=1_235, fulamt=0, overlmt=0, pre=0, inscp=1_235,
         dedc=0, hifp=865, hifmi=0, hifob=0, maf=0, fund=865, pool_self=370,
         psn_part=370, acct=0, mulaid=0, cash=370,
         delta=ytd(outpatient_pool=865, pool=865, pool_self=370), funds={"310100": 865}),
    case("class-03-is-the-persons-own",
         claim(line("1", "C01", "3", "20.00", 6_000)),
         # fulamt = 6000; nothing in scope, so nothing for the fund and nothing into the year
         lines=[(6_000, 0, 0, 0, (CLASS_C_SELF_PAY,))],
         medfee=6_000, fulamt=6_000, overlmt=0, pre=0, inscp=0,
         dedc=0, hifp=0, hifmi=0, hifob=0, maf=0, fund=0, pool_self=0,
         psn_part=6_000, acct=0, mulaid=0, cash=6_000,
         delta=NOTHING_YET, funds={}),
    case("an-item-not-in-the-catalogue-is-the-persons-own",
         claim(line("1", "X99", "1", "45.67", 4_567)),
         lines=[(4_567, 0, 0, 0, (NOT_IN_CATALOG,))],
         medfee=4_567, fulamt=4_567, overlmt=0, pre=0, inscp=0,
         dedc=0, hifp=0, hifmi=0, hifob=0, maf=0, fund=0, pool_self=0,
         psn_part=4_567, acct=0, mulaid=0, cash=4_567,
         delta=NOTHING_YET, funds={}),
    case("class-01-above-the-price-cap-is-overlmt",
         claim(line("1", "CAPA", "4", "35.50", 14_200)),
         # overlmt = 4 × (35.50 − 30.00) = 22.00 = 2200; inscp = 14200 − 2200 = 12000
         # hifp = 12000 × 0.70 = 8400; pool_self = 3600; psn_part = 14200 − 8400 = 5800
         lines=[(0, 2_200, 0, 12_000, (OVER_PRICE_CAP,))],
         medfee=14_200, fulamt=0, overlmt=2_200, pre=0, inscp=12_000,
         dedc=0, hifp=8_400, hifmi=0, hifob=0, maf=0, fund=8_400, pool_self=3_600,
         psn_part=5_800, acct=0, mulaid=0, cash=5_800,
         delta=ytd(outpatient_pool=8_400, pool=8_400, pool_self=3_600), funds={"310100": 8_400}),
    case("class-02-above-the-price-cap-rounds-overlmt-then-takes-preselfpay-of-the-rest",
         claim(line("1", "CAPB", "3", "12.335", 3_701)),
         # amount = 3 × 12.335 = 37.005 → 3701; overlmt = 3 × 2.335 = 7.005 → 701 (half-even would give 700)
         # base = 3000; pre = 3000 × 0.10 = 300; inscp = 2700; hifp = 2700 × 0.70 = 1890; pool_self = 810
         # psn_part = 3701 − 1890 = 1811
         lines=[(0, 701, 300, 2_700, (OVER_PRICE_CAP,))],
         medfee=3_701, fulamt=0, overlmt=701, pre=300, inscp=2_700,
         dedc=0, hifp=1_890, hifmi=0, hifob=0, maf=0, fund=1_890, pool_self=810,
         psn_part=1_811, acct=0, mulaid=0, cash=1_811,
         delta=ytd(outpatient_pool=1_890, pool=1_890, pool_self=810), funds={"310100": 1_890}),
    case("a-female-only-item-for-a-man-is-wholly-self-paid",
         claim(line("1", "FEM", "1", "200.00", 20_000), gend=MALE),
         lines=[(20_000, 0, 0, 0, (GENDER_LIMIT,))],
         medfee=20_000, fulamt=20_000, overlmt=0, pre=0, inscp=0,
         dedc=0, hifp=0, hifmi=0, hifob=0, maf=0, fund=0, pool_self=0,
         psn_part=20_000, acct=0, mulaid=0, cash=20_000,
         delta=NOTHING_YET, funds={}),
    case("a-female-only-item-for-a-woman-is-in-scope",
         claim(line("1", "FEM", "1", "200.00", 20_000), gend=FEMALE),
         # hifp = 20000 × 0.70 = 14000; pool_self = 6000
         lines=[(0, 0, 0, 20_000, ())],
         medfee=20_000, fulamt=0, overlmt=0, pre=0, inscp=20_000,
         dedc=0, hifp=14_000, hifmi=0, hifob=0, maf=0, fund=14_000, pool_self=6_000,
         psn_part=6_000, acct=0, mulaid=0, cash=6_000,
         delta=ytd(outpatient_pool=14_000, pool=14_000, pool_self=6_000), funds={"310100": 14_000}),
    case("a-child-only-item-for-an-adult-is-wholly-self-paid",
         claim(line("1", "KID", "1", "88.88", 8_888), age=36),
         lines=[(8_888, 0, 0, 0, (AGE_LIMIT,))],
         medfee=8_888, fulamt=8_888, overlmt=0, pre=0, inscp=0,
         dedc=0, hifp=0, hifmi=0, hifob=0, maf=0, fund=0, pool_self=0,
         psn_part=8_888, acct=0, mulaid=0, cash=8_888,
         delta=NOTHING_YET, funds={}),
    case("a-child-only-item-on-the-last-year-of-age-max-is-in-scope",
         claim(line("1", "KID", "1", "88.88", 8_888), age=14),
         # hifp = 8888 × 0.70 = 6221.6 → 6222; pool_self = 8888 − 6222 = 2666
         lines=[(0, 0, 0, 8_888, ())],
         medfee=8_888, fulamt=0, overlmt=0, pre=0, inscp=8_888,
         dedc=0, hifp=6_222, hifmi=0, hifob=0, maf=0, fund=6_222, pool_self=2_666,
         psn_part=2_666, acct=0, mulaid=0, cash=2_666,
         delta=ytd(outpatient_pool=6_222, pool=6_222, pool_self=2_666), funds={"310100": 6_222}),
    case("an-item-from-age-60-at-59-is-wholly-self-paid",
         claim(line("1", "OLD", "1", "10.00", 1_000), age=59),
         lines=[(1_000, 0, 0, 0, (AGE_LIMIT,))],
         medfee=1_000, fulamt=1_000, overlmt=0, pre=0, inscp=0,
         dedc=0, hifp=0, hifmi=0, hifob=0, maf=0, fund=0, pool_self=0,
         psn_part=1_000, acct=0, mulaid=0, cash=1_000,
         delta=NOTHING_YET, funds={}),
    case("an-item-from-age-60-at-60-is-in-scope",
         claim(line("1", "OLD", "1", "10.00", 1_000), age=60),
         # hifp = 1000 × 0.70 = 700; pool_self = 300
         lines=[(0, 0, 0, 1_000, ())],
         medfee=1_000, fulamt=0, overlmt=0, pre=0, inscp=1_000,
         dedc=0, hifp=700, hifmi=0, hifob=0, maf=0, fund=700, pool_self=300,
         psn_part=300, acct=0, mulaid=0, cash=300,
         delta=ytd(outpatient_pool=700, pool=700, pool_self=300), funds={"310100": 700}),
    case("the-per-visit-quantity-counts-across-two-lines-of-the-same-item",
         claim(line("1", "QTY", "6", "5.00", 3_000), line("2", "QTY", "6", "5.00", 3_000)),
         # max 10: line 1 all in (6); line 2 only 4 more: fulamt = 2 × 5.00 = 1000, inscp = 2000
         # inscp = 3000 + 2000 = 5000; hifp = 3500; pool_self = 1500; psn_part = 6000 − 3500 = 2500
         lines=[(0, 0, 0, 3_000, ()), (1_000, 0, 0, 2_000, (OVER_QUANTITY,))],
         medfee=6_000, fulamt=1_000, overlmt=0, pre=0, inscp=5_000,
         dedc=0, hifp=3_500, hifmi=0, hifob=0, maf=0, fund=3_500, pool_self=1_500,
         psn_part=2_500, acct=0, mulaid=0, cash=2_500,
         delta=ytd(outpatient_pool=3_500, pool=3_500, pool_self=1_500), funds={"310100": 3_500}),
    case("a-mixed-claim-adds-its-lines-then-splits-the-sum",
         claim(line("1", "A01", "2", "50.00", 10_000), line("2", "B00", "1", "12.35", 1_235),
               line("3", "C01", "3", "20.00", 6_000), line("4", "CAPA", "4", "35.50", 14_200)),
         # medfee = 10000 + 1235 + 6000 + 14200 = 31435; inscp = 10000 + 1111 + 12000 = 23111
         # hifp = 23111 × 0.70 = 16177.7 → 16178; pool_self = 23111 − 16178 = 6933
         # psn_part = 31435 − 16178 = 15257 (= 6000 + 2200 + 124 + 6933)
         lines=[(0, 0, 0, 10_000, ()), (0, 0, 124, 1_111, ()), (6_000, 0, 0, 0, (CLASS_C_SELF_PAY,)),
                (0, 2_200, 0, 12_000, (OVER_PRICE_CAP,))],
         medfee=31_435, fulamt=6_000, overlmt=2_200, pre=124, inscp=23_111,
         dedc=0, hifp=16_178, hifmi=0, hifob=0, maf=0, fund=16_178, pool_self=6_933,
         psn_part=15_257, acct=0, mulaid=0, cash=15_257,
         delta=ytd(outpatient_pool=16_178, pool=16_178, pool_self=6_933), funds={"310100": 16_178}),
]


# Step 3 and the inpatient ratio of step 4: one 甲类 line of 10,000 yuan, nothing used this year.
INPATIENT_CASES = [
    case("employee-inpatient-level-1-deductible-300-ratio-0.92",
         claim(BIG, med_type="21", hosp_lv=1, ytd=NOTHING_YET),
         # dedc = 30000; hifp = 970000 × 0.92 = 892400; pool_self = 77600; psn_part = 107600
         lines=[(0, 0, 0, 1_000_000, ())],
         medfee=1_000_000, fulamt=0, overlmt=0, pre=0, inscp=1_000_000,
         dedc=30_000, hifp=892_400, hifmi=0, hifob=0, maf=0, fund=892_400, pool_self=77_600,
         psn_part=107_600, acct=0, mulaid=0, cash=107_600,
         delta=ytd(pool=892_400, pool_self=77_600), funds={"310100": 892_400}),
    case("employee-inpatient-level-2-deductible-600-ratio-0.88",
         claim(BIG, med_type="21", hosp_lv=2, ytd=NOTHING_YET),
         # dedc = 60000; hifp = 940000 × 0.88 = 827200; pool_self = 112800; psn_part = 172800
         lines=[(0, 0, 0, 1_000_000, ())],
         medfee=1_000_000, fulamt=0, overlmt=0, pre=0, inscp=1_000_000,
         dedc=60_000, hifp=827_200, hifmi=0, hifob=0, maf=0, fund=827_200, pool_self=112_800,
         psn_part=172_800, acct=0, mulaid=0, cash=172_800,
         delta=ytd(pool=827_200, pool_self=112_800), funds={"310100": 827_200}),
    case("employee-inpatient-level-3-deductible-1000-ratio-0.85",
         claim(BIG, med_type="21", hosp_lv=3, ytd=NOTHING_YET),
         # dedc = 100000; hifp = 900000 × 0.85 = 765000; pool_self = 135000; psn_part = 235000
         lines=[(0, 0, 0, 1_000_000, ())],
         medfee=1_000_000, fulamt=0, overlmt=0, pre=0, inscp=1_000_000,
         dedc=100_000, hifp=765_000, hifmi=0, hifob=0, maf=0, fund=765_000, pool_self=135_000,
         psn_part=235_000, acct=0, mulaid=0, cash=235_000,
         delta=ytd(pool=765_000, pool_self=135_000), funds={"310100": 765_000}),
    case("resident-inpatient-level-1-deductible-200-ratio-0.85",
         claim(BIG, claimant=RESIDENT, med_type="21", hosp_lv=1, ytd=NOTHING_YET),
         # dedc = 20000; hifp = 980000 × 0.85 = 833000; pool_self = 147000; psn_part = 167000
         lines=[(0, 0, 0, 1_000_000, ())],
         medfee=1_000_000, fulamt=0, overlmt=0, pre=0, inscp=1_000_000,
         dedc=20_000, hifp=833_000, hifmi=0, hifob=0, maf=0, fund=833_000, pool_self=147_000,
         psn_part=167_000, acct=0, mulaid=0, cash=167_000,
         delta=ytd(pool=833_000, pool_self=147_000), funds={"390100": 833_000}),
    case("resident-inpatient-level-2-deductible-500-ratio-0.75",
         claim(BIG, claimant=RESIDENT, med_type="21", hosp_lv=2, ytd=NOTHING_YET),
         # dedc = 50000; hifp = 950000 × 0.75 = 712500; pool_self = 237500; psn_part = 287500
         lines=[(0, 0, 0, 1_000_000, ())],
         medfee=1_000_000, fulamt=0, overlmt=0, pre=0, inscp=1_000_000,
         dedc=50_000, hifp=712_500, hifmi=0, hifob=0, maf=0, fund=712_500, pool_self=237_500,
         psn_part=287_500, acct=0, mulaid=0, cash=287_500,
         delta=ytd(pool=712_500, pool_self=237_500), funds={"390100": 712_500}),
    case("resident-inpatient-level-3-deductible-1000-ratio-0.60",
         claim(BIG, claimant=RESIDENT, med_type="21", hosp_lv=3, ytd=NOTHING_YET),
         # dedc = 100000; hifp = 900000 × 0.60 = 540000; pool_self = 360000; psn_part = 460000
         lines=[(0, 0, 0, 1_000_000, ())],
         medfee=1_000_000, fulamt=0, overlmt=0, pre=0, inscp=1_000_000,
         dedc=100_000, hifp=540_000, hifmi=0, hifob=0, maf=0, fund=540_000, pool_self=360_000,
         psn_part=460_000, acct=0, mulaid=0, cash=460_000,
         delta=ytd(pool=540_000, pool_self=360_000), funds={"390100": 540_000}),
    case("the-inpatient-deductible-is-charged-again-on-every-admission",
         claim(BIG, med_type="21", hosp_lv=1,
               ytd=ytd(outpatient_dedc=70_000, outpatient_pool=100_000, pool=2_000_000, pool_self=500_000)),
         # the year so far changes nothing: dedc = 30000 again; 500000 + 77600 is below the 2,000,000 threshold
         lines=[(0, 0, 0, 1_000_000, ())],
         medfee=1_000_000, fulamt=0, overlmt=0, pre=0, inscp=1_000_000,
         dedc=30_000, hifp=892_400, hifmi=0, hifob=0, maf=0, fund=892_400, pool_self=77_600,
         psn_part=107_600, acct=0, mulaid=0, cash=107_600,
         delta=ytd(pool=892_400, pool_self=77_600), funds={"310100": 892_400}),
    case("a-deductible-above-the-in-scope-amount-takes-all-of-it",
         claim(line("1", "A01", "1", "200.00", 20_000), med_type="21", hosp_lv=2, ytd=NOTHING_YET),
         # dedc = min(20000, 60000) = 20000; nothing left for the pool
         lines=[(0, 0, 0, 20_000, ())],
         medfee=20_000, fulamt=0, overlmt=0, pre=0, inscp=20_000,
         dedc=20_000, hifp=0, hifmi=0, hifob=0, maf=0, fund=0, pool_self=0,
         psn_part=20_000, acct=0, mulaid=0, cash=20_000,
         delta=NOTHING_YET, funds={}),
]


# Step 3 for outpatient care (per year) and the outpatient ratios of step 4.
OUTPATIENT_CASES = [
    case("the-first-outpatient-claim-of-the-year-goes-to-the-deductible",
         claim(line("1", "A01", "1", "500.00", 50_000), hosp_lv=2, ytd=NOTHING_YET),
         # dedc = min(50000, 70000) = 50000; hifp = 0
         lines=[(0, 0, 0, 50_000, ())],
         medfee=50_000, fulamt=0, overlmt=0, pre=0, inscp=50_000,
         dedc=50_000, hifp=0, hifmi=0, hifob=0, maf=0, fund=0, pool_self=0,
         psn_part=50_000, acct=0, mulaid=0, cash=50_000,
         delta=ytd(outpatient_dedc=50_000), funds={}),
    case("the-outpatient-deductible-partly-used-takes-only-what-is-left",
         claim(line("1", "A01", "1", "500.00", 50_000), hosp_lv=2, ytd=ytd(outpatient_dedc=50_000)),
         # dedc = 70000 − 50000 = 20000; hifp = 30000 × 0.60 = 18000; pool_self = 12000; psn_part = 32000
         lines=[(0, 0, 0, 50_000, ())],
         medfee=50_000, fulamt=0, overlmt=0, pre=0, inscp=50_000,
         dedc=20_000, hifp=18_000, hifmi=0, hifob=0, maf=0, fund=18_000, pool_self=12_000,
         psn_part=32_000, acct=0, mulaid=0, cash=32_000,
         delta=ytd(outpatient_dedc=20_000, outpatient_pool=18_000, pool=18_000, pool_self=12_000),
         funds={"310100": 18_000}),
    case("an-outpatient-deductible-used-beyond-the-year-amount-takes-nothing",
         claim(line("1", "A01", "1", "500.00", 50_000), hosp_lv=2, ytd=ytd(outpatient_dedc=80_000)),
         # dedc = max(0, 70000 − 80000) = 0; hifp = 50000 × 0.60 = 30000; pool_self = 20000
         lines=[(0, 0, 0, 50_000, ())],
         medfee=50_000, fulamt=0, overlmt=0, pre=0, inscp=50_000,
         dedc=0, hifp=30_000, hifmi=0, hifob=0, maf=0, fund=30_000, pool_self=20_000,
         psn_part=20_000, acct=0, mulaid=0, cash=20_000,
         delta=ytd(outpatient_pool=30_000, pool=30_000, pool_self=20_000), funds={"310100": 30_000}),
    case("employee-outpatient-level-1-ratio-0.70",
         claim(SMALL, hosp_lv=1),
         lines=[(0, 0, 0, 10_000, ())],
         medfee=10_000, fulamt=0, overlmt=0, pre=0, inscp=10_000,
         dedc=0, hifp=7_000, hifmi=0, hifob=0, maf=0, fund=7_000, pool_self=3_000,
         psn_part=3_000, acct=0, mulaid=0, cash=3_000,
         delta=ytd(outpatient_pool=7_000, pool=7_000, pool_self=3_000), funds={"310100": 7_000}),
    case("employee-outpatient-level-2-ratio-0.60",
         claim(SMALL, hosp_lv=2),
         lines=[(0, 0, 0, 10_000, ())],
         medfee=10_000, fulamt=0, overlmt=0, pre=0, inscp=10_000,
         dedc=0, hifp=6_000, hifmi=0, hifob=0, maf=0, fund=6_000, pool_self=4_000,
         psn_part=4_000, acct=0, mulaid=0, cash=4_000,
         delta=ytd(outpatient_pool=6_000, pool=6_000, pool_self=4_000), funds={"310100": 6_000}),
    case("employee-outpatient-level-3-ratio-0.50",
         claim(SMALL, hosp_lv=3),
         lines=[(0, 0, 0, 10_000, ())],
         medfee=10_000, fulamt=0, overlmt=0, pre=0, inscp=10_000,
         dedc=0, hifp=5_000, hifmi=0, hifob=0, maf=0, fund=5_000, pool_self=5_000,
         psn_part=5_000, acct=0, mulaid=0, cash=5_000,
         delta=ytd(outpatient_pool=5_000, pool=5_000, pool_self=5_000), funds={"310100": 5_000}),
    case("employee-chronic-outpatient-14-is-split-like-11",
         claim(SMALL, med_type="14", hosp_lv=1),
         lines=[(0, 0, 0, 10_000, ())],
         medfee=10_000, fulamt=0, overlmt=0, pre=0, inscp=10_000,
         dedc=0, hifp=7_000, hifmi=0, hifob=0, maf=0, fund=7_000, pool_self=3_000,
         psn_part=3_000, acct=0, mulaid=0, cash=3_000,
         delta=ytd(outpatient_pool=7_000, pool=7_000, pool_self=3_000), funds={"310100": 7_000}),
    case("resident-outpatient-level-1-no-deductible-ratio-0.50",
         claim(SMALL, claimant=RESIDENT, hosp_lv=1, ytd=NOTHING_YET),
         # dedc = 0 (resident deductible 0); hifp = 10000 × 0.50 = 5000
         lines=[(0, 0, 0, 10_000, ())],
         medfee=10_000, fulamt=0, overlmt=0, pre=0, inscp=10_000,
         dedc=0, hifp=5_000, hifmi=0, hifob=0, maf=0, fund=5_000, pool_self=5_000,
         psn_part=5_000, acct=0, mulaid=0, cash=5_000,
         delta=ytd(outpatient_pool=5_000, pool=5_000, pool_self=5_000), funds={"390100": 5_000}),
    case("resident-outpatient-level-2-ratio-0.40",
         claim(SMALL, claimant=RESIDENT, hosp_lv=2, ytd=NOTHING_YET),
         lines=[(0, 0, 0, 10_000, ())],
         medfee=10_000, fulamt=0, overlmt=0, pre=0, inscp=10_000,
         dedc=0, hifp=4_000, hifmi=0, hifob=0, maf=0, fund=4_000, pool_self=6_000,
         psn_part=6_000, acct=0, mulaid=0, cash=6_000,
         delta=ytd(outpatient_pool=4_000, pool=4_000, pool_self=6_000), funds={"390100": 4_000}),
    case("resident-outpatient-level-3-ratio-0.30",
         claim(SMALL, claimant=RESIDENT, hosp_lv=3, ytd=NOTHING_YET),
         lines=[(0, 0, 0, 10_000, ())],
         medfee=10_000, fulamt=0, overlmt=0, pre=0, inscp=10_000,
         dedc=0, hifp=3_000, hifmi=0, hifob=0, maf=0, fund=3_000, pool_self=7_000,
         psn_part=7_000, acct=0, mulaid=0, cash=7_000,
         delta=ytd(outpatient_pool=3_000, pool=3_000, pool_self=7_000), funds={"390100": 3_000}),
]


# The retiree bonus of step 4.
RETIREE_CASES = [
    case("a-retired-employee-inpatient-gets-0.85-plus-0.05",
         claim(BIG, claimant=RETIRED, med_type="21", hosp_lv=3, ytd=NOTHING_YET),
         # dedc = 100000; hifp = 900000 × 0.90 = 810000; pool_self = 90000; psn_part = 190000
         lines=[(0, 0, 0, 1_000_000, ())],
         medfee=1_000_000, fulamt=0, overlmt=0, pre=0, inscp=1_000_000,
         dedc=100_000, hifp=810_000, hifmi=0, hifob=0, maf=0, fund=810_000, pool_self=90_000,
         psn_part=190_000, acct=0, mulaid=0, cash=190_000,
         delta=ytd(pool=810_000, pool_self=90_000), funds={"310100": 810_000}),
    case("a-retired-employee-outpatient-gets-0.70-plus-0.05",
         claim(SMALL, claimant=RETIRED, hosp_lv=1),
         # hifp = 10000 × 0.75 = 7500; pool_self = 2500
         lines=[(0, 0, 0, 10_000, ())],
         medfee=10_000, fulamt=0, overlmt=0, pre=0, inscp=10_000,
         dedc=0, hifp=7_500, hifmi=0, hifob=0, maf=0, fund=7_500, pool_self=2_500,
         psn_part=2_500, acct=0, mulaid=0, cash=2_500,
         delta=ytd(outpatient_pool=7_500, pool=7_500, pool_self=2_500), funds={"310100": 7_500}),
    case("a-retired-resident-gets-no-bonus",
         claim(BIG, claimant=Claimant("390", "retired"), med_type="21", hosp_lv=1, ytd=NOTHING_YET),
         # as a resident at level 1: hifp = 980000 × 0.85 = 833000
         lines=[(0, 0, 0, 1_000_000, ())],
         medfee=1_000_000, fulamt=0, overlmt=0, pre=0, inscp=1_000_000,
         dedc=20_000, hifp=833_000, hifmi=0, hifob=0, maf=0, fund=833_000, pool_self=147_000,
         psn_part=167_000, acct=0, mulaid=0, cash=167_000,
         delta=ytd(pool=833_000, pool_self=147_000), funds={"390100": 833_000}),
    case("the-retiree-bonus-is-capped-at-max-ratio",
         claim(BIG, claimant=RETIRED, med_type="21", hosp_lv=1, ytd=NOTHING_YET, policy=HIGH_RATIO_POLICY),
         # ratio = min(0.93 + 0.05, 0.95) = 0.95; dedc = 30000; hifp = 970000 × 0.95 = 921500
         # pool_self = 48500; psn_part = 78500
         lines=[(0, 0, 0, 1_000_000, ())],
         medfee=1_000_000, fulamt=0, overlmt=0, pre=0, inscp=1_000_000,
         dedc=30_000, hifp=921_500, hifmi=0, hifob=0, maf=0, fund=921_500, pool_self=48_500,
         psn_part=78_500, acct=0, mulaid=0, cash=78_500,
         delta=ytd(pool=921_500, pool_self=48_500), funds={"310100": 921_500}),
    case("below-the-cap-an-employed-person-keeps-the-custom-ratio",
         claim(BIG, med_type="21", hosp_lv=1, ytd=NOTHING_YET, policy=HIGH_RATIO_POLICY),
         # hifp = 970000 × 0.93 = 902100; pool_self = 67900; psn_part = 97900
         lines=[(0, 0, 0, 1_000_000, ())],
         medfee=1_000_000, fulamt=0, overlmt=0, pre=0, inscp=1_000_000,
         dedc=30_000, hifp=902_100, hifmi=0, hifob=0, maf=0, fund=902_100, pool_self=67_900,
         psn_part=97_900, acct=0, mulaid=0, cash=97_900,
         delta=ytd(pool=902_100, pool_self=67_900), funds={"310100": 902_100}),
]


# The yearly caps of step 4: the outpatient pool cap and the pool ceiling.
POOL_CAP_CASES = [
    case("the-outpatient-pool-cap-is-reached-mid-claim",
         claim(line("1", "A01", "1", "500.00", 50_000),
               ytd=ytd(outpatient_dedc=70_000, outpatient_pool=290_000, pool=290_000)),
         # 50000 × 0.70 = 35000, but only 300000 − 290000 = 10000 left; pool_self = 40000
         lines=[(0, 0, 0, 50_000, ())],
         medfee=50_000, fulamt=0, overlmt=0, pre=0, inscp=50_000,
         dedc=0, hifp=10_000, hifmi=0, hifob=0, maf=0, fund=10_000, pool_self=40_000,
         psn_part=40_000, acct=0, mulaid=0, cash=40_000,
         delta=ytd(outpatient_pool=10_000, pool=10_000, pool_self=40_000), funds={"310100": 10_000},
         reasons=(OUTPATIENT_CAP_REACHED,)),
    case("the-resident-outpatient-cap-of-400-yuan-is-reached-mid-claim",
         claim(SMALL, claimant=RESIDENT, ytd=ytd(outpatient_pool=39_000, pool=39_000)),
         # 10000 × 0.50 = 5000, but only 40000 − 39000 = 1000 left; pool_self = 9000
         lines=[(0, 0, 0, 10_000, ())],
         medfee=10_000, fulamt=0, overlmt=0, pre=0, inscp=10_000,
         dedc=0, hifp=1_000, hifmi=0, hifob=0, maf=0, fund=1_000, pool_self=9_000,
         psn_part=9_000, acct=0, mulaid=0, cash=9_000,
         delta=ytd(outpatient_pool=1_000, pool=1_000, pool_self=9_000), funds={"390100": 1_000},
         reasons=(OUTPATIENT_CAP_REACHED,)),
    case("an-outpatient-pool-cap-already-reached-pays-nothing",
         claim(SMALL, ytd=ytd(outpatient_dedc=70_000, outpatient_pool=300_000, pool=300_000)),
         lines=[(0, 0, 0, 10_000, ())],
         medfee=10_000, fulamt=0, overlmt=0, pre=0, inscp=10_000,
         dedc=0, hifp=0, hifmi=0, hifob=0, maf=0, fund=0, pool_self=10_000,
         psn_part=10_000, acct=0, mulaid=0, cash=10_000,
         delta=ytd(pool_self=10_000), funds={}, reasons=(OUTPATIENT_CAP_REACHED,)),
    case("the-pool-ceiling-is-reached-mid-claim",
         claim(BIG, med_type="21", hosp_lv=1, ytd=ytd(pool=39_500_000)),
         # 970000 × 0.92 = 892400, but only 40,000,000 − 39,500,000 = 500000 left; pool_self = 470000
         # 0 + 470000 is below the 2,000,000 threshold: no 330
         lines=[(0, 0, 0, 1_000_000, ())],
         medfee=1_000_000, fulamt=0, overlmt=0, pre=0, inscp=1_000_000,
         dedc=30_000, hifp=500_000, hifmi=0, hifob=0, maf=0, fund=500_000, pool_self=470_000,
         psn_part=500_000, acct=0, mulaid=0, cash=500_000,
         delta=ytd(pool=500_000, pool_self=470_000), funds={"310100": 500_000},
         reasons=(POOL_CEILING_REACHED,)),
    case("past-the-pool-ceiling-the-large-expense-fund-takes-the-self-burden",
         claim(BIG, med_type="21", hosp_lv=1, ytd=ytd(pool=39_500_000, pool_self=3_000_000)),
         # hifp = 500000 as above; pool_self = 470000, all above the threshold: hifob = 470000 × 0.80 = 376000
         # fund = 876000; psn_part = 124000
         lines=[(0, 0, 0, 1_000_000, ())],
         medfee=1_000_000, fulamt=0, overlmt=0, pre=0, inscp=1_000_000,
         dedc=30_000, hifp=500_000, hifmi=0, hifob=376_000, maf=0, fund=876_000, pool_self=470_000,
         psn_part=124_000, acct=0, mulaid=0, cash=124_000,
         delta=ytd(pool=500_000, pool_self=470_000, supp=376_000),
         funds={"310100": 500_000, "330200": 376_000}, reasons=(POOL_CEILING_REACHED,)),
    case("a-pool-ceiling-already-reached-pays-nothing-from-the-pool",
         claim(BIG, med_type="21", hosp_lv=1, ytd=ytd(pool=40_000_000)),
         # hifp = 0; pool_self = 970000, below the threshold
         lines=[(0, 0, 0, 1_000_000, ())],
         medfee=1_000_000, fulamt=0, overlmt=0, pre=0, inscp=1_000_000,
         dedc=30_000, hifp=0, hifmi=0, hifob=0, maf=0, fund=0, pool_self=970_000,
         psn_part=1_000_000, acct=0, mulaid=0, cash=1_000_000,
         delta=ytd(pool_self=970_000), funds={}, reasons=(POOL_CEILING_REACHED,)),
]


# Step 5: the supplementary layer (392 居民大病 for residents, 330 职工大额 for employees).
SUPPLEMENTARY_CASES = [
    case("a-resident-crossing-the-15000-threshold-mid-claim-gets-392-on-the-part-above",
         claim(BIG, claimant=RESIDENT, med_type="21", hosp_lv=3, ytd=ytd(pool_self=1_400_001)),
         # hifp = 540000; pool_self = 360000; above = 1,400,001 + 360000 − 1,500,000 = 260001
         # hifmi = 260001 × 0.60 = 156000.6 → 156001; fund = 696001; psn_part = 303999
         lines=[(0, 0, 0, 1_000_000, ())],
         medfee=1_000_000, fulamt=0, overlmt=0, pre=0, inscp=1_000_000,
         dedc=100_000, hifp=540_000, hifmi=156_001, hifob=0, maf=0, fund=696_001, pool_self=360_000,
         psn_part=303_999, acct=0, mulaid=0, cash=303_999,
         delta=ytd(pool=540_000, pool_self=360_000, supp=156_001),
         funds={"390100": 540_000, "390200": 156_001}),
    case("an-employee-crossing-the-20000-threshold-mid-claim-gets-330-on-the-part-above",
         claim(BIG, med_type="21", hosp_lv=3, ytd=ytd(pool_self=1_950_000)),
         # hifp = 765000; pool_self = 135000; above = 1,950,000 + 135000 − 2,000,000 = 85000
         # hifob = 85000 × 0.80 = 68000; fund = 833000; psn_part = 167000
         lines=[(0, 0, 0, 1_000_000, ())],
         medfee=1_000_000, fulamt=0, overlmt=0, pre=0, inscp=1_000_000,
         dedc=100_000, hifp=765_000, hifmi=0, hifob=68_000, maf=0, fund=833_000, pool_self=135_000,
         psn_part=167_000, acct=0, mulaid=0, cash=167_000,
         delta=ytd(pool=765_000, pool_self=135_000, supp=68_000),
         funds={"310100": 765_000, "330200": 68_000}),
    case("the-resident-supplementary-cap-is-reached-mid-claim",
         claim(BIG, claimant=RESIDENT, med_type="21", hosp_lv=3,
               ytd=ytd(pool_self=5_000_000, supp=39_950_000)),
         # 360000 × 0.60 = 216000, but only 40,000,000 − 39,950,000 = 50000 left; fund = 590000
         lines=[(0, 0, 0, 1_000_000, ())],
         medfee=1_000_000, fulamt=0, overlmt=0, pre=0, inscp=1_000_000,
         dedc=100_000, hifp=540_000, hifmi=50_000, hifob=0, maf=0, fund=590_000, pool_self=360_000,
         psn_part=410_000, acct=0, mulaid=0, cash=410_000,
         delta=ytd(pool=540_000, pool_self=360_000, supp=50_000),
         funds={"390100": 540_000, "390200": 50_000}, reasons=(SUPPLEMENTARY_CAP_REACHED,)),
    case("the-incentive-raise-extends-the-cap-and-is-reported-used",
         claim(BIG, claimant=Claimant("390", incentive_raise_fen=100_000), med_type="21", hosp_lv=3,
               ytd=ytd(pool_self=5_000_000, supp=39_950_000)),
         # left = 40,000,000 + 100000 − 39,950,000 = 150000 < 216000; fund = 690000; 39,950,000 + 150000 > cap
         lines=[(0, 0, 0, 1_000_000, ())],
         medfee=1_000_000, fulamt=0, overlmt=0, pre=0, inscp=1_000_000,
         dedc=100_000, hifp=540_000, hifmi=150_000, hifob=0, maf=0, fund=690_000, pool_self=360_000,
         psn_part=310_000, acct=0, mulaid=0, cash=310_000,
         delta=ytd(pool=540_000, pool_self=360_000, supp=150_000),
         funds={"390100": 540_000, "390200": 150_000}, reasons=(SUPPLEMENTARY_CAP_REACHED,), raise_used=True),
    case("a-raise-large-enough-pays-in-full-and-is-reported-used",
         claim(BIG, claimant=Claimant("390", incentive_raise_fen=500_000), med_type="21", hosp_lv=3,
               ytd=ytd(pool_self=5_000_000, supp=39_950_000)),
         # left = 550000 ≥ 216000; 39,950,000 + 216000 > 40,000,000: the raise is used; fund = 756000
         lines=[(0, 0, 0, 1_000_000, ())],
         medfee=1_000_000, fulamt=0, overlmt=0, pre=0, inscp=1_000_000,
         dedc=100_000, hifp=540_000, hifmi=216_000, hifob=0, maf=0, fund=756_000, pool_self=360_000,
         psn_part=244_000, acct=0, mulaid=0, cash=244_000,
         delta=ytd(pool=540_000, pool_self=360_000, supp=216_000),
         funds={"390100": 540_000, "390200": 216_000}, raise_used=True),
    case("a-raise-not-reached-is-not-reported-used",
         claim(BIG, claimant=Claimant("390", incentive_raise_fen=100_000), med_type="21", hosp_lv=3,
               ytd=ytd(pool_self=5_000_000)),
         # supp = 216000, far below the 40,000,000 base cap
         lines=[(0, 0, 0, 1_000_000, ())],
         medfee=1_000_000, fulamt=0, overlmt=0, pre=0, inscp=1_000_000,
         dedc=100_000, hifp=540_000, hifmi=216_000, hifob=0, maf=0, fund=756_000, pool_self=360_000,
         psn_part=244_000, acct=0, mulaid=0, cash=244_000,
         delta=ytd(pool=540_000, pool_self=360_000, supp=216_000),
         funds={"390100": 540_000, "390200": 216_000}),
    case("an-employee-gets-no-incentive-raise-on-the-330-cap",
         claim(BIG, claimant=Claimant("310", "employed", incentive_raise_fen=100_000), med_type="21", hosp_lv=3,
               ytd=ytd(pool_self=3_000_000, supp=49_950_000)),
         # 135000 × 0.80 = 108000, but only 50,000,000 − 49,950,000 = 50000 left; fund = 815000
         lines=[(0, 0, 0, 1_000_000, ())],
         medfee=1_000_000, fulamt=0, overlmt=0, pre=0, inscp=1_000_000,
         dedc=100_000, hifp=765_000, hifmi=0, hifob=50_000, maf=0, fund=815_000, pool_self=135_000,
         psn_part=185_000, acct=0, mulaid=0, cash=185_000,
         delta=ytd(pool=765_000, pool_self=135_000, supp=50_000),
         funds={"310100": 765_000, "330200": 50_000}, reasons=(SUPPLEMENTARY_CAP_REACHED,)),
    case("without-supplementary-attached-nothing-is-paid-above-the-threshold",
         claim(BIG, claimant=Claimant("390", supplementary=False), med_type="21", hosp_lv=3,
               ytd=ytd(pool_self=1_400_001)),
         lines=[(0, 0, 0, 1_000_000, ())],
         medfee=1_000_000, fulamt=0, overlmt=0, pre=0, inscp=1_000_000,
         dedc=100_000, hifp=540_000, hifmi=0, hifob=0, maf=0, fund=540_000, pool_self=360_000,
         psn_part=460_000, acct=0, mulaid=0, cash=460_000,
         delta=ytd(pool=540_000, pool_self=360_000), funds={"390100": 540_000}),
]


# Step 6: medical assistance (医疗救助).
ASSISTANCE_CASES = [
    case("extreme-poverty-gets-0.90-of-the-self-burden",
         claim(BIG, claimant=Claimant("390", assistance="extreme_poverty"), med_type="21", hosp_lv=1,
               ytd=NOTHING_YET),
         # pool_self = 147000; maf = 147000 × 0.90 = 132300; fund = 833000 + 132300 = 965300
         lines=[(0, 0, 0, 1_000_000, ())],
         medfee=1_000_000, fulamt=0, overlmt=0, pre=0, inscp=1_000_000,
         dedc=20_000, hifp=833_000, hifmi=0, hifob=0, maf=132_300, fund=965_300, pool_self=147_000,
         psn_part=34_700, acct=0, mulaid=0, cash=34_700,
         delta=ytd(pool=833_000, pool_self=147_000, maf=132_300),
         funds={"390100": 833_000, "610100": 132_300}),
    case("minimum-living-gets-0.80-of-the-self-burden",
         claim(BIG, claimant=Claimant("390", assistance="minimum_living"), med_type="21", hosp_lv=1,
               ytd=NOTHING_YET),
         # maf = 147000 × 0.80 = 117600; fund = 950600
         lines=[(0, 0, 0, 1_000_000, ())],
         medfee=1_000_000, fulamt=0, overlmt=0, pre=0, inscp=1_000_000,
         dedc=20_000, hifp=833_000, hifmi=0, hifob=0, maf=117_600, fund=950_600, pool_self=147_000,
         psn_part=49_400, acct=0, mulaid=0, cash=49_400,
         delta=ytd(pool=833_000, pool_self=147_000, maf=117_600),
         funds={"390100": 833_000, "610100": 117_600}),
    case("monitored-gets-0.70-of-the-self-burden",
         claim(BIG, claimant=Claimant("390", assistance="monitored"), med_type="21", hosp_lv=1,
               ytd=NOTHING_YET),
         # maf = 147000 × 0.70 = 102900; fund = 935900
         lines=[(0, 0, 0, 1_000_000, ())],
         medfee=1_000_000, fulamt=0, overlmt=0, pre=0, inscp=1_000_000,
         dedc=20_000, hifp=833_000, hifmi=0, hifob=0, maf=102_900, fund=935_900, pool_self=147_000,
         psn_part=64_100, acct=0, mulaid=0, cash=64_100,
         delta=ytd(pool=833_000, pool_self=147_000, maf=102_900),
         funds={"390100": 833_000, "610100": 102_900}),
    case("assistance-applies-to-what-the-supplementary-layer-left",
         claim(BIG, claimant=Claimant("390", assistance="minimum_living"), med_type="21", hosp_lv=3,
               ytd=ytd(pool_self=1_400_001)),
         # hifmi = 156001 (as above); maf = (360000 − 156001) × 0.80 = 163199.2 → 163199
         # fund = 540000 + 156001 + 163199 = 859200; psn_part = 140800
         lines=[(0, 0, 0, 1_000_000, ())],
         medfee=1_000_000, fulamt=0, overlmt=0, pre=0, inscp=1_000_000,
         dedc=100_000, hifp=540_000, hifmi=156_001, hifob=0, maf=163_199, fund=859_200, pool_self=360_000,
         psn_part=140_800, acct=0, mulaid=0, cash=140_800,
         delta=ytd(pool=540_000, pool_self=360_000, supp=156_001, maf=163_199),
         funds={"390100": 540_000, "390200": 156_001, "610100": 163_199}),
    case("assistance-rounds-half-up",
         claim(line("1", "A01", "1", "12.30", 1_230), claimant=Claimant("390", assistance="monitored"),
               ytd=NOTHING_YET),
         # hifp = 1230 × 0.50 = 615; pool_self = 615; maf = 615 × 0.70 = 430.5 → 431 (half-even: 430)
         # fund = 615 + 431 = 1046; psn_part = 1230 − 1046 = 184
         lines=[(0, 0, 0, 1_230, ())],
         medfee=1_230, fulamt=0, overlmt=0, pre=0, inscp=1_230,
         dedc=0, hifp=615, hifmi=0, hifob=0, maf=431, fund=1_046, pool_self=615,
         psn_part=184, acct=0, mulaid=0, cash=184,
         delta=ytd(outpatient_pool=615, pool=615, pool_self=615, maf=431),
         funds={"390100": 615, "610100": 431}),
    case("the-assistance-yearly-cap-is-reached-mid-claim",
         claim(BIG, claimant=Claimant("390", assistance="extreme_poverty"), med_type="21", hosp_lv=1,
               ytd=ytd(maf=4_950_000)),
         # 132300, but only 5,000,000 − 4,950,000 = 50000 left; fund = 883000
         lines=[(0, 0, 0, 1_000_000, ())],
         medfee=1_000_000, fulamt=0, overlmt=0, pre=0, inscp=1_000_000,
         dedc=20_000, hifp=833_000, hifmi=0, hifob=0, maf=50_000, fund=883_000, pool_self=147_000,
         psn_part=117_000, acct=0, mulaid=0, cash=117_000,
         delta=ytd(pool=833_000, pool_self=147_000, maf=50_000),
         funds={"390100": 833_000, "610100": 50_000}, reasons=(ASSISTANCE_CAP_REACHED,)),
    case("employees-get-assistance-from-the-same-table",
         claim(BIG, claimant=Claimant("310", "employed", assistance="monitored"), med_type="21", hosp_lv=1,
               ytd=NOTHING_YET),
         # pool_self = 77600; maf = 77600 × 0.70 = 54320; fund = 892400 + 54320 = 946720
         lines=[(0, 0, 0, 1_000_000, ())],
         medfee=1_000_000, fulamt=0, overlmt=0, pre=0, inscp=1_000_000,
         dedc=30_000, hifp=892_400, hifmi=0, hifob=0, maf=54_320, fund=946_720, pool_self=77_600,
         psn_part=53_280, acct=0, mulaid=0, cash=53_280,
         delta=ytd(pool=892_400, pool_self=77_600, maf=54_320),
         funds={"310100": 892_400, "610100": 54_320}),
]


# Step 8: the personal account, the family holder's, then cash. SMALL for an employee: psn_part = 3000.
SMALL_PAID = {
    "lines": [(0, 0, 0, 10_000, ())],
    "medfee": 10_000, "fulamt": 0, "overlmt": 0, "pre": 0, "inscp": 10_000,
    "dedc": 0, "hifp": 7_000, "hifmi": 0, "hifob": 0, "maf": 0, "fund": 7_000, "pool_self": 3_000,
    "psn_part": 3_000,
    "delta": ytd(outpatient_pool=7_000, pool=7_000, pool_self=3_000), "funds": {"310100": 7_000},
}
ACCOUNT_CASES = [
    case("an-account-short-of-the-persons-part-pays-its-balance",
         claim(SMALL, acct_used=True, wallets=Wallets(own_balc_fen=1_234)),
         # acct = min(3000, 1234) = 1234; cash = 1766
         **SMALL_PAID, acct=1_234, mulaid=0, cash=1_766),
    case("an-account-covering-the-persons-part-pays-all-of-it",
         claim(SMALL, acct_used=True, wallets=Wallets(own_balc_fen=500_000)),
         **SMALL_PAID, acct=3_000, mulaid=0, cash=0),
    case("without-acct-used-the-account-is-left-alone",
         claim(SMALL, acct_used=False, wallets=Wallets(own_balc_fen=500_000, family_holder="P-HOLDER",
                                                       family_balc_fen=500_000)),
         **SMALL_PAID, acct=0, mulaid=0, cash=3_000),
    case("the-family-holders-account-pays-what-the-own-account-cannot",
         claim(SMALL, acct_used=True, wallets=Wallets(own_balc_fen=1_000, family_holder="P-HOLDER",
                                                      family_balc_fen=1_500)),
         # acct = 1000; mulaid = min(3000 − 1000, 1500) = 1500; cash = 500
         **SMALL_PAID, acct=1_000, mulaid=1_500, cash=500),
    case("the-family-holders-account-covers-the-rest",
         claim(SMALL, acct_used=True, wallets=Wallets(own_balc_fen=1_000, family_holder="P-HOLDER",
                                                      family_balc_fen=50_000)),
         # mulaid = min(2000, 50000) = 2000
         **SMALL_PAID, acct=1_000, mulaid=2_000, cash=0),
    case("a-family-balance-without-a-holder-pays-nothing",
         claim(SMALL, acct_used=True, wallets=Wallets(own_balc_fen=1_000, family_balc_fen=50_000)),
         **SMALL_PAID, acct=1_000, mulaid=0, cash=2_000),
    case("a-negative-balance-pays-nothing",
         claim(SMALL, acct_used=True, wallets=Wallets(own_balc_fen=-500)),
         **SMALL_PAID, acct=0, mulaid=0, cash=3_000),
    case("the-account-pays-self-paid-items-too",
         claim(line("1", "C01", "3", "20.00", 6_000), acct_used=True, wallets=Wallets(own_balc_fen=10_000)),
         lines=[(6_000, 0, 0, 0, (CLASS_C_SELF_PAY,))],
         medfee=6_000, fulamt=6_000, overlmt=0, pre=0, inscp=0,
         dedc=0, hifp=0, hifmi=0, hifob=0, maf=0, fund=0, pool_self=0,
         psn_part=6_000, acct=6_000, mulaid=0, cash=0,
         delta=NOTHING_YET, funds={}),
]


# Steps 9 and 10, and a claim with nothing in scope.
NO_FUND_CASES = [
    case("in-the-waiting-period-the-claim-is-self-paid-and-nothing-counts-toward-the-year",
         claim(BIG, line("2", "B00", "1", "100.00", 10_000),
               claimant=Claimant("310", "employed", assistance="extreme_poverty"), med_type="21", hosp_lv=1,
               waiting=True, acct_used=True, wallets=Wallets(own_balc_fen=300_000)),
         # lines as usual: B00 pre = 1000, inscp = 9000; steps 3–6 skipped: no dedc, no fund, no maf
         # psn_part = 1,010,000; acct = 300000 (the account still pays); cash = 710000
         lines=[(0, 0, 0, 1_000_000, ()), (0, 0, 1_000, 9_000, ())],
         medfee=1_010_000, fulamt=0, overlmt=0, pre=1_000, inscp=1_009_000,
         dedc=0, hifp=0, hifmi=0, hifob=0, maf=0, fund=0, pool_self=0,
         psn_part=1_010_000, acct=300_000, mulaid=0, cash=710_000,
         delta=NOTHING_YET, funds={}, reasons=(WAITING_PERIOD,)),
    case("a-pharmacy-purchase-is-paid-from-the-account-only",
         claim(line("1", "B00", "2", "23.45", 4_690), line("2", "C01", "1", "15.00", 1_500),
               med_type="41", hosp_lv=None, ytd=NOTHING_YET, acct_used=True, wallets=Wallets(own_balc_fen=5_000)),
         # B00: pre = 4690 × 0.10 = 469, inscp = 4221; C01 fulamt 1500; medfee = 6190
         # fund = 0; psn_part = 6190; acct = 5000; cash = 1190
         lines=[(0, 0, 469, 4_221, ()), (1_500, 0, 0, 0, (CLASS_C_SELF_PAY,))],
         medfee=6_190, fulamt=1_500, overlmt=0, pre=469, inscp=4_221,
         dedc=0, hifp=0, hifmi=0, hifob=0, maf=0, fund=0, pool_self=0,
         psn_part=6_190, acct=5_000, mulaid=0, cash=1_190,
         delta=NOTHING_YET, funds={}, reasons=(PHARMACY_ACCOUNT_ONLY,)),
    case("a-resident-pharmacy-purchase-is-cash",
         claim(SMALL, claimant=RESIDENT, med_type="41", hosp_lv=None, ytd=NOTHING_YET),
         lines=[(0, 0, 0, 10_000, ())],
         medfee=10_000, fulamt=0, overlmt=0, pre=0, inscp=10_000,
         dedc=0, hifp=0, hifmi=0, hifob=0, maf=0, fund=0, pool_self=0,
         psn_part=10_000, acct=0, mulaid=0, cash=10_000,
         delta=NOTHING_YET, funds={}, reasons=(PHARMACY_ACCOUNT_ONLY,)),
    case("a-claim-with-nothing-in-scope-consumes-no-deductible",
         claim(line("1", "C01", "3", "20.00", 6_000), line("2", "X99", "1", "45.67", 4_567),
               med_type="21", hosp_lv=1, ytd=NOTHING_YET),
         # medfee = fulamt = 10567; dedc = min(0, 30000) = 0
         lines=[(6_000, 0, 0, 0, (CLASS_C_SELF_PAY,)), (4_567, 0, 0, 0, (NOT_IN_CATALOG,))],
         medfee=10_567, fulamt=10_567, overlmt=0, pre=0, inscp=0,
         dedc=0, hifp=0, hifmi=0, hifob=0, maf=0, fund=0, pool_self=0,
         psn_part=10_567, acct=0, mulaid=0, cash=10_567,
         delta=NOTHING_YET, funds={}),
]
# fmt: on


@pytest.mark.parametrize(("c", "expected"), LINE_CASES)
def test_lines_are_split_by_class_and_catalogue_limits(c: Claim, expected: Expected) -> None:
    assert observed(settle(c)) == expected


@pytest.mark.parametrize(("c", "expected"), INPATIENT_CASES)
def test_inpatient_deductible_is_per_admission_and_ratio_by_level(c: Claim, expected: Expected) -> None:
    assert observed(settle(c)) == expected


@pytest.mark.parametrize(("c", "expected"), OUTPATIENT_CASES)
def test_outpatient_deductible_is_per_year_and_ratio_by_level(c: Claim, expected: Expected) -> None:
    assert observed(settle(c)) == expected


@pytest.mark.parametrize(("c", "expected"), RETIREE_CASES)
def test_retired_employees_get_the_bonus_up_to_max_ratio(c: Claim, expected: Expected) -> None:
    assert observed(settle(c)) == expected


@pytest.mark.parametrize(("c", "expected"), POOL_CAP_CASES)
def test_the_pool_stops_at_the_outpatient_cap_and_the_yearly_ceiling(c: Claim, expected: Expected) -> None:
    assert observed(settle(c)) == expected


@pytest.mark.parametrize(("c", "expected"), SUPPLEMENTARY_CASES)
def test_the_supplementary_layer_pays_above_the_threshold_up_to_its_cap(c: Claim, expected: Expected) -> None:
    assert observed(settle(c)) == expected


@pytest.mark.parametrize(("c", "expected"), ASSISTANCE_CASES)
def test_assistance_pays_its_share_of_what_is_left_up_to_the_yearly_cap(c: Claim, expected: Expected) -> None:
    assert observed(settle(c)) == expected


@pytest.mark.parametrize(("c", "expected"), ACCOUNT_CASES)
def test_the_persons_part_is_paid_by_account_then_family_then_cash(c: Claim, expected: Expected) -> None:
    assert observed(settle(c)) == expected


@pytest.mark.parametrize(("c", "expected"), NO_FUND_CASES)
def test_waiting_pharmacy_and_out_of_scope_claims_get_nothing_from_the_fund(
    c: Claim, expected: Expected
) -> None:
    assert observed(settle(c)) == expected


def test_fund_rows_name_each_paying_fund_in_order() -> None:
    split = settle(
        claim(
            BIG,
            claimant=Claimant("390", assistance="minimum_living"),
            med_type="21",
            hosp_lv=3,
            ytd=ytd(pool_self=1_400_001),
        )
    )
    assert split.funds == (
        FundPayment("390100", 540_000),
        FundPayment("390200", 156_001),
        FundPayment("610100", 163_199),
    )


# --- age_on ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("brdy", "on", "age"),
    [
        pytest.param(date(1990, 3, 7), date(2026, 3, 7), 36, id="on-the-birthday-the-year-counts"),
        pytest.param(date(1990, 3, 7), date(2026, 3, 6), 35, id="the-day-before-it-does-not"),
        pytest.param(date(1990, 3, 7), date(2026, 12, 31), 36, id="later-in-the-year"),
        pytest.param(date(1990, 3, 7), date(2026, 1, 1), 35, id="earlier-in-the-year"),
        pytest.param(
            date(2000, 2, 29), date(2026, 2, 28), 25, id="born-on-29-february-not-yet-on-28-february"
        ),
        pytest.param(date(2000, 2, 29), date(2026, 3, 1), 26, id="born-on-29-february-older-on-1-march"),
        pytest.param(date(2000, 2, 29), date(2028, 2, 29), 28, id="born-on-29-february-older-on-29-february"),
        pytest.param(date(2026, 5, 1), date(2026, 5, 1), 0, id="a-newborn-is-0"),
    ],
)
def test_age_is_whole_years_on_the_date(brdy: date, on: date, age: int) -> None:
    assert age_on(brdy, on) == age


# --- split_lines ----------------------------------------------------------------------------------------


def parts(lines: list[FeeLine]) -> list[tuple[str, int, int, int, int, tuple[str, ...]]]:
    split = split_lines(lines, CATALOG, gend=MALE, age=36, class_b_selfpay_prop=Decimal("0.10"))
    return [
        (s.feedetl_sn, s.fulamt_ownpay_fen, s.overlmt_fen, s.preselfpay_fen, s.inscp_fen, s.reasons)
        for s in split
    ]


def test_the_line_that_passes_the_per_visit_quantity_is_the_one_self_paid() -> None:
    # max 10: 8 in, then 4 of which 2 are over: fulamt = 2 × 1.00 = 200
    assert parts([line("1", "QTY", "8", "1.00", 800), line("2", "QTY", "4", "1.00", 400)]) == [
        ("1", 0, 0, 0, 800, ()),
        ("2", 200, 0, 0, 200, (OVER_QUANTITY,)),
    ]


def test_upload_order_decides_which_line_goes_over_the_quantity() -> None:
    # 4 in, then 8 of which 2 are over: fulamt = 2 × 1.00 = 200, inscp = 600
    assert parts([line("1", "QTY", "4", "1.00", 400), line("2", "QTY", "8", "1.00", 800)]) == [
        ("1", 0, 0, 0, 400, ()),
        ("2", 200, 0, 0, 600, (OVER_QUANTITY,)),
    ]


def test_results_keep_the_upload_order_whatever_the_serial_numbers() -> None:
    lines = [
        line("9", "A01", "1", "1.00", 100),
        line("3", "C01", "1", "1.00", 100),
        line("5", "QTY", "1", "1.00", 100),
    ]
    assert [sn for sn, *_ in parts(lines)] == ["9", "3", "5"]


def test_a_line_after_the_quantity_is_used_up_is_wholly_self_paid() -> None:
    assert parts(
        [
            line("1", "QTY", "10", "1.00", 1_000),
            line("2", "QTY", "3", "2.00", 600),
        ]
    ) == [("1", 0, 0, 0, 1_000, ()), ("2", 600, 0, 0, 0, (OVER_QUANTITY,))]


def test_other_items_do_not_count_toward_an_items_quantity() -> None:
    assert parts(
        [
            line("1", "QTY", "6", "1.00", 600),
            line("2", "A01", "20", "1.00", 2_000),
            line("3", "QTY", "4", "1.00", 400),
        ]
    ) == [("1", 0, 0, 0, 600, ()), ("2", 0, 0, 0, 2_000, ()), ("3", 0, 0, 0, 400, ())]


def test_a_fractional_quantity_over_the_limit_is_split_within_the_line() -> None:
    # 9.5 in, then 1.0 of which 0.5 is over: fulamt = 0.5 × 3.00 = 150, inscp = 300 − 150 = 150
    assert parts([line("1", "QTY", "9.5", "3.00", 2_850), line("2", "QTY", "1.0", "3.00", 300)]) == [
        ("1", 0, 0, 0, 2_850, ()),
        ("2", 150, 0, 0, 150, (OVER_QUANTITY,)),
    ]


def test_the_price_cap_applies_only_to_the_quantity_still_covered() -> None:
    # QCAP: cap 4.00, max 10. Line 2: 4 covered, 2 over: fulamt = 2 × 5.00 = 1000;
    # overlmt = 4 × (5.00 − 4.00) = 400; inscp = 3000 − 1000 − 400 = 1600
    assert parts([line("1", "QCAP", "6", "5.00", 3_000), line("2", "QCAP", "6", "5.00", 3_000)]) == [
        ("1", 0, 600, 0, 2_400, (OVER_PRICE_CAP,)),
        ("2", 1_000, 400, 0, 1_600, (OVER_QUANTITY, OVER_PRICE_CAP)),
    ]


def test_a_price_at_the_cap_is_not_over_it() -> None:
    assert parts([line("1", "CAPA", "2", "30.00", 6_000)]) == [("1", 0, 0, 0, 6_000, ())]


# --- ledger ---------------------------------------------------------------------------------------------


def a_split(*, funds: dict[str, int], acct: int = 0, mulaid: int = 0, cash: int = 0) -> SettlementSplit:
    """A split with only what the ledger reads filled in."""
    fund = sum(funds.values())
    return SettlementSplit(
        medfee_fen=fund + acct + mulaid + cash,
        fulamt_ownpay_fen=0,
        overlmt_selfpay_fen=0,
        preselfpay_fen=0,
        inscp_scp_fen=0,
        act_pay_dedc_fen=0,
        hifp_pay_fen=0,
        hifmi_pay_fen=0,
        hifob_pay_fen=0,
        maf_pay_fen=0,
        fund_pay_fen=fund,
        psn_part_fen=acct + mulaid + cash,
        acct_pay_fen=acct,
        acct_mulaid_pay_fen=mulaid,
        psn_cash_pay_fen=cash,
        pool_self_fen=0,
        year_delta=YearToDate(),
        incentive_raise_used=False,
        funds=tuple(FundPayment(kind, amount) for kind, amount in funds.items()),
    )


def test_a_settlement_journal_debits_funds_and_accounts_and_credits_the_institution() -> None:
    split = a_split(funds={"310100": 7_000}, acct=1_000, mulaid=1_500, cash=500)
    legs = settlement_legs(split, psn_no="P1", fixmedins_code="H1", family_holder="P-HOLDER")
    assert legs == [
        Leg("fund:310100", 7_000),
        Leg("psn_acct:P1", 1_000),
        Leg("psn_acct:P-HOLDER", 1_500),
        Leg("inst_payable:H1", -9_500),  # 7000 + 1000 + 1500
        Leg("patient_cash:H1", 500),
        Leg("inst_cash:H1", -500),
    ]
    assert sum(leg.amount_fen for leg in legs) == 0


def test_a_settlement_journal_has_one_leg_per_paying_fund_and_drops_zero_legs() -> None:
    split = a_split(funds={"390100": 540_000, "390200": 156_001, "610100": 163_199}, cash=140_800)
    legs = settlement_legs(split, psn_no="P1", fixmedins_code="H1", family_holder="P-HOLDER")
    assert legs == [
        Leg("fund:390100", 540_000),
        Leg("fund:390200", 156_001),
        Leg("fund:610100", 163_199),
        Leg("inst_payable:H1", -859_200),
        Leg("patient_cash:H1", 140_800),
        Leg("inst_cash:H1", -140_800),
    ]
    assert sum(leg.amount_fen for leg in legs) == 0


def test_a_self_paid_settlement_paid_by_account_owes_the_institution_the_account_part() -> None:
    legs = settlement_legs(
        a_split(funds={}, acct=300_000, cash=710_000), psn_no="P1", fixmedins_code="H1", family_holder=None
    )
    assert legs == [
        Leg("psn_acct:P1", 300_000),
        Leg("inst_payable:H1", -300_000),
        Leg("patient_cash:H1", 710_000),
        Leg("inst_cash:H1", -710_000),
    ]


def test_a_split_whose_fund_rows_disagree_with_its_total_is_refused() -> None:
    split = a_split(funds={"310100": 7_000}, cash=3_000)
    broken = replace(split, fund_pay_fen=6_999)  # fund rows say 7000
    with pytest.raises(UnbalancedJournal):
        settlement_legs(broken, psn_no="P1", fixmedins_code="H1", family_holder=None)


def test_a_reversal_is_the_original_journal_opposite() -> None:
    original = settlement_legs(
        a_split(funds={"310100": 7_000}, acct=1_000, mulaid=1_500, cash=500),
        psn_no="P1",
        fixmedins_code="H1",
        family_holder="P-HOLDER",
    )
    reversal = reversal_legs(original)
    assert reversal == [
        Leg("fund:310100", -7_000),
        Leg("psn_acct:P1", -1_000),
        Leg("psn_acct:P-HOLDER", -1_500),
        Leg("inst_payable:H1", 9_500),
        Leg("patient_cash:H1", -500),
        Leg("inst_cash:H1", 500),
    ]
    assert sum(leg.amount_fen for leg in original + reversal) == 0


@pytest.mark.parametrize(
    ("insutype", "amount", "acct", "expected"),
    [
        pytest.param(
            "310",
            100_000,
            30_000,
            [Leg("bank:fund", 100_000), Leg("fund:310100", -70_000), Leg("psn_acct:P1", -30_000)],
            id="an-employee-contribution-splits-between-pool-and-account",
        ),
        pytest.param(
            "390",
            38_000,
            0,
            [Leg("bank:fund", 38_000), Leg("fund:390100", -38_000)],
            id="a-resident-contribution-goes-wholly-to-the-pool",
        ),
        pytest.param(
            "392",
            5_000,
            0,
            [Leg("bank:fund", 5_000), Leg("fund:390200", -5_000)],
            id="a-resident-critical-illness-contribution-feeds-the-critical-illness-fund",
        ),
        pytest.param(
            "330",
            2_000,
            0,
            [Leg("bank:fund", 2_000), Leg("fund:330200", -2_000)],
            id="an-employee-large-amount-contribution-feeds-the-large-amount-fund",
        ),
    ],
)
def test_a_contribution_journal_is_bank_in_pool_and_account_credited(
    insutype: str, amount: int, acct: int, expected: list[Leg]
) -> None:
    legs = contribution_legs(psn_no="P1", insutype=insutype, amount_fen=amount, acct_amount_fen=acct)
    assert legs == expected
    assert sum(leg.amount_fen for leg in legs) == 0


# --- coverage_on ----------------------------------------------------------------------------------------


def coverage(
    *,
    coverage_id: int = 1,
    insutype: str = "310",
    begndate: date = date(2026, 1, 1),
    enddate: date | None = None,
    benefit_start_date: date | None = None,
    suspensions: tuple[tuple[date, date | None], ...] = (),
) -> CoverageFacts:
    return CoverageFacts(
        coverage_id=coverage_id,
        insutype=insutype,
        attached_insutypes=("330",),
        status="active" if enddate is None else "ended",
        begndate=begndate,
        enddate=enddate,
        psn_type="employed",
        assistance=None,
        benefit_start_date=benefit_start_date or begndate,
        incentive_raise_fen=0,
        suspensions=suspensions,
    )


def test_care_begun_after_death_is_refused() -> None:
    decision = coverage_on([coverage()], insutype="310", on=date(2026, 6, 2), death_date=date(2026, 6, 1))
    assert (decision.coverage, decision.refusal) == (None, "PERSON_DECEASED")


def test_care_begun_on_the_day_of_death_is_covered() -> None:
    c = coverage()
    decision = coverage_on([c], insutype="310", on=date(2026, 6, 1), death_date=date(2026, 6, 1))
    assert (decision.coverage, decision.refusal, decision.in_waiting_period) == (c, None, False)


def test_no_coverage_at_all_is_refused() -> None:
    decision = coverage_on([], insutype="310", on=date(2026, 6, 1), death_date=None)
    assert (decision.coverage, decision.refusal) == (None, "NO_COVERAGE")


def test_coverage_of_another_scheme_does_not_count() -> None:
    decision = coverage_on([coverage(insutype="390")], insutype="310", on=date(2026, 6, 1), death_date=None)
    assert (decision.coverage, decision.refusal) == (None, "NO_COVERAGE")


def test_care_before_the_coverage_begins_is_refused() -> None:
    decision = coverage_on([coverage()], insutype="310", on=date(2025, 12, 31), death_date=None)
    assert (decision.coverage, decision.refusal) == (None, "NO_COVERAGE")


def test_the_enddate_is_the_last_covered_day() -> None:
    c = coverage(enddate=date(2026, 6, 30))
    decision = coverage_on([c], insutype="310", on=date(2026, 6, 30), death_date=None)
    assert (decision.coverage, decision.refusal) == (c, None)


def test_care_after_the_enddate_is_refused() -> None:
    c = coverage(enddate=date(2026, 6, 30))
    decision = coverage_on([c], insutype="310", on=date(2026, 7, 1), death_date=None)
    assert (decision.coverage, decision.refusal) == (None, "NO_COVERAGE")


@pytest.mark.parametrize(
    ("on", "refusal"),
    [
        pytest.param(date(2026, 2, 28), None, id="the-day-before-a-suspension-is-covered"),
        pytest.param(date(2026, 3, 1), "COVERAGE_SUSPENDED", id="the-first-day-of-a-suspension-is-suspended"),
        pytest.param(date(2026, 3, 31), "COVERAGE_SUSPENDED", id="the-day-before-its-end-is-suspended"),
        pytest.param(date(2026, 4, 1), None, id="its-end-date-is-covered-again"),
        pytest.param(date(2026, 9, 1), "COVERAGE_SUSPENDED", id="an-open-suspension-has-no-end"),
    ],
)
def test_a_suspension_starts_on_its_first_day_and_ends_before_its_end_date(
    on: date, refusal: str | None
) -> None:
    c = coverage(suspensions=((date(2026, 3, 1), date(2026, 4, 1)), (date(2026, 9, 1), None)))
    decision = coverage_on([c], insutype="310", on=on, death_date=None)
    assert (decision.coverage, decision.refusal) == (c, refusal)


@pytest.mark.parametrize(
    ("on", "waiting"),
    [
        pytest.param(date(2026, 1, 1), True, id="from-begndate-the-waiting-period-runs"),
        pytest.param(date(2026, 3, 31), True, id="the-day-before-benefit-start-is-waiting"),
        pytest.param(date(2026, 4, 1), False, id="benefit-start-is-not-waiting"),
    ],
)
def test_care_before_the_benefit_start_is_in_the_waiting_period(on: date, waiting: bool) -> None:
    c = coverage(begndate=date(2026, 1, 1), benefit_start_date=date(2026, 4, 1))
    decision = coverage_on([c], insutype="310", on=on, death_date=None)
    assert (decision.coverage, decision.refusal, decision.in_waiting_period) == (c, None, waiting)


def test_of_two_coverages_in_force_the_latest_begun_is_used() -> None:
    older = coverage(coverage_id=1, begndate=date(2025, 1, 1))
    newer = coverage(coverage_id=2, begndate=date(2026, 1, 1))
    decision = coverage_on([newer, older], insutype="310", on=date(2026, 6, 1), death_date=None)
    assert decision.coverage == newer


def test_a_line_wholly_over_the_quantity_is_not_also_called_over_the_price_cap() -> None:
    # max 10 at cap 4.00: line 2 is all over the quantity, so nothing of it is "over the cap".
    assert parts([line("1", "QCAP", "10", "5.00", 5_000), line("2", "QCAP", "2", "5.00", 1_000)]) == [
        ("1", 0, 1_000, 0, 4_000, (OVER_PRICE_CAP,)),
        ("2", 1_000, 0, 0, 0, (OVER_QUANTITY,)),
    ]


def test_a_retiree_never_gets_less_than_the_base_ratio_when_a_policy_sets_it_above_max_ratio() -> None:
    policy = policy_with({"310.inpatient.ratio.1": "0.97"})
    c = claim(line("1", "A01", "1", "10000.00", 1_000_000), med_type="21", policy=policy)
    employed = settle(c)
    retired = settle(Claim(**{**c.__dict__, "claimant": RETIRED}))
    # (1,000,000 − 30,000) × 0.97 = 940,900 for both: the bonus is capped at 0.95, never below the base.
    assert (employed.hifp_pay_fen, retired.hifp_pay_fen) == (940_900, 940_900)


# --- the benefit a med_type is paid as -----------------------------------------------------------------


def amounts(s: SettlementSplit) -> tuple[int, int, int, tuple[str, ...]]:
    return (s.act_pay_dedc_fen, s.hifp_pay_fen, s.fund_pay_fen, s.reasons)


THOUSAND = line("1", "A01", "1", "1000.00", 100_000)


@pytest.mark.parametrize(
    ("med_type", "expected"),
    [
        # outpatient: the yearly 700 deductible, then 0.70 at level 1: (1,000 − 700) × 0.70 = 210
        *((code, (70_000, 21_000, 21_000, ())) for code in ("11", "12", "13", "14", "51", "53")),
        # inpatient: 300 per admission at level 1, then 0.92: 700 × 0.92 = 644
        *((code, (30_000, 64_400, 64_400, ())) for code in ("21", "22", "23", "24", "28", "52")),
        ("41", (0, 0, 0, (PHARMACY_ACCOUNT_ONLY,))),
    ],
)
def test_every_national_med_type_is_split_as_the_default_benefit_it_is_paid_as(
    med_type: str, expected: tuple[int, int, int, tuple[str, ...]]
) -> None:
    assert amounts(settle(claim(THOUSAND, med_type=med_type, ytd=NOTHING_YET))) == expected


def test_a_policy_may_pay_emergency_care_as_an_admission() -> None:
    policy = policy_with({"benefits.13": "inpatient"})
    assert amounts(settle(claim(THOUSAND, med_type="13", ytd=NOTHING_YET, policy=policy))) == (
        30_000,
        64_400,
        64_400,
        (),
    )


def test_a_med_type_the_policy_does_not_map_cannot_be_split() -> None:
    policy = parse_policy({**DEFAULT_PARAMETERS, "benefits": {"11": "outpatient"}})
    with pytest.raises(MedTypeNotCovered):
        settle(claim(THOUSAND, med_type="21", policy=policy))
