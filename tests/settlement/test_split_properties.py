"""The invariants of DESIGN.md §6.2 over random claims, catalogues, people, years, wallets and policies."""

from __future__ import annotations

import copy
import functools
from dataclasses import dataclass, replace
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from settlement.domain.policy import DEFAULT_PARAMETERS, DEFAULT_POLICY, Policy, parse_policy
from settlement.domain.split import (
    CatalogEntry,
    Claimant,
    FeeLine,
    SettlementSplit,
    Wallets,
    YearToDate,
    split_lines,
    split_settlement,
)

FAST = settings(max_examples=300, deadline=None, database=None)
CODES = ("M1", "M2", "M3", "M4", "M5")
UNLISTED = "M9"  # never in the catalogue

# Strategies are built once, at import: building one inside a draw makes hypothesis validate it every time.


@functools.cache
def one_in(n: int) -> st.SearchStrategy[bool]:
    """True about one time in n; False is the simplest value, the one hypothesis shrinks to."""
    return st.sampled_from((False,) * (n - 1) + (True,))


@st.composite
def sometimes(draw: st.DrawFn, strategy: st.SearchStrategy[Any], n: int) -> Any:
    """A value one time in n, else None: limits are the exception in a real catalogue."""
    return draw(strategy) if draw(one_in(n)) else None


def decimals(*, places: int, max_value: int, min_units: int = 0) -> st.SearchStrategy[Decimal]:
    """Decimals with at most `places` places in [min_units × 10^-places, max_value]."""
    return st.integers(min_units, max_value * 10**places).map(lambda n: Decimal(n).scaleb(-places))


ratios = decimals(places=4, max_value=1)
# Mostly round amounts, sometimes awkward ones: the edges of rounding live in the odd places.
quantities = st.one_of(st.integers(1, 20).map(Decimal), decimals(places=4, max_value=50, min_units=1))
prices = st.one_of(
    st.integers(0, 2_000).map(Decimal),
    decimals(places=2, max_value=5_000),
    decimals(places=6, max_value=200_000),
)


def half_up_fen(cnt: Decimal, pric: Decimal) -> int:
    return int((cnt * pric * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


LINE_COUNT = st.integers(1, 6)
LINE_CODES = st.sampled_from((*CODES, *CODES, UNLISTED))


@st.composite
def fee_lines(draw: st.DrawFn) -> list[FeeLine]:
    """A visit's lines, amount = cnt × pric rounded half-up to the fen; now and then none at all."""
    lines = []
    for sn in range(0 if draw(one_in(20)) else draw(LINE_COUNT)):
        cnt, pric = draw(quantities), draw(prices)
        lines.append(FeeLine(str(sn + 1), draw(LINE_CODES), cnt, pric, half_up_fen(cnt, pric)))
    return lines


maybe_ratio = sometimes(ratios, 2)
maybe_price = sometimes(prices, 4)
maybe_quantity = sometimes(quantities, 4)
maybe_gender = sometimes(st.sampled_from(("1", "2")), 6)
maybe_age = sometimes(st.integers(0, 110), 6)
classes = st.sampled_from(("01", "02", "01", "02", "03"))


@st.composite
def catalog_entries(draw: st.DrawFn, code: str) -> CatalogEntry:
    age_min, age_max = draw(maybe_age), draw(maybe_age)
    if age_min is not None and age_max is not None and age_min > age_max:
        age_min, age_max = age_max, age_min
    return CatalogEntry(
        med_list_codg=code,
        chrgitm_lv=draw(classes),
        selfpay_prop=draw(maybe_ratio),
        pric_uplmt_amt=draw(maybe_price),
        gend_lmt=draw(maybe_gender),
        age_min=age_min,
        age_max=age_max,
        max_cnt_per_visit=draw(maybe_quantity),
    )


ENTRIES = {code: catalog_entries(code) for code in CODES}


@st.composite
def catalogs(draw: st.DrawFn) -> dict[str, CatalogEntry]:
    catalog = {}
    for code in CODES:
        if not draw(one_in(6)):  # most codes are in the catalogue
            catalog[code] = draw(ENTRIES[code])
    return catalog


def yuan(fen: int) -> str:
    return str(Decimal(fen).scaleb(-2))


@functools.cache
def fen_up_to(max_yuan: int) -> st.SearchStrategy[int]:
    return st.integers(0, max_yuan * 100)


@st.composite
def policies(draw: st.DrawFn) -> Policy:
    """The default table, or one with every parameter drawn (amounts to the fen, ratios to 4 places)."""
    if draw(st.booleans()):
        return DEFAULT_POLICY
    parameters: dict[str, Any] = copy.deepcopy(DEFAULT_PARAMETERS)

    def amount(max_yuan: int) -> str:
        return yuan(draw(fen_up_to(max_yuan)))

    def ratio() -> str:
        return str(draw(ratios))

    for insutype in ("310", "390"):
        scheme = parameters[insutype]
        for level in ("1", "2", "3"):
            scheme["inpatient"]["deductible"][level] = amount(2_000)
            scheme["inpatient"]["ratio"][level] = ratio()
            scheme["outpatient"]["ratio"][level] = ratio()
        scheme["outpatient"]["deductible_per_year"] = amount(2_000)
        scheme["outpatient"]["pool_cap_per_year"] = amount(10_000)
        scheme["retiree_bonus"] = ratio()
        scheme["max_ratio"] = ratio()
        scheme["pool_ceiling_per_year"] = amount(500_000)
        scheme["supplementary"] = {"threshold": amount(50_000), "ratio": ratio(), "cap": amount(600_000)}
        scheme["assistance"] = {
            "ratio": {c: ratio() for c in ("extreme_poverty", "minimum_living", "monitored")},
            "cap_per_year": amount(100_000),
        }
    parameters["class_b_selfpay_prop"] = ratio()
    return parse_policy(parameters)


@functools.cache
def used(cap: int) -> st.SearchStrategy[int]:
    """A year-to-date total: mostly well under its cap, sometimes just below, at, or above it."""
    return st.one_of(
        st.just(0),
        st.integers(0, cap // 2),
        st.integers(0, cap // 2),
        st.integers(0, cap),
        st.integers(max(0, cap - 10_000), cap),
        st.just(cap),
        st.integers(cap, cap * 2 + 100),
    )


@dataclass(frozen=True)
class RandomClaim:
    lines: list[FeeLine]
    catalog: dict[str, CatalogEntry]
    gend: str
    age: int
    policy: Policy
    claimant: Claimant
    med_type: str
    hosp_lv: int | None
    ytd: YearToDate
    waiting: bool
    acct_used: bool
    wallets: Wallets


claimants = st.builds(
    Claimant,
    insutype=st.sampled_from(("310", "390")),
    psn_type=st.sampled_from((None, "employed", "retired")),
    assistance=st.sampled_from((None, "extreme_poverty", "minimum_living", "monitored")),
    supplementary=st.booleans(),
    incentive_raise_fen=st.one_of(st.just(0), st.integers(0, 5_000_000)),
)
wallets = st.builds(
    Wallets,
    own_balc_fen=st.one_of(st.just(0), st.integers(-1_000, 10_000_000)),
    family_holder=st.sampled_from((None, "P-HOLDER")),
    family_balc_fen=st.one_of(st.just(0), st.integers(-1_000, 10_000_000)),
)


@st.composite
def years(draw: st.DrawFn, policy: Policy, insutype: str) -> YearToDate:
    scheme = policy.scheme(insutype)
    return YearToDate(
        outpatient_dedc_fen=draw(used(scheme.outpatient_deductible_fen)),
        outpatient_pool_fen=draw(used(scheme.outpatient_pool_cap_fen)),
        pool_fen=draw(used(scheme.pool_ceiling_fen)),
        pool_self_fen=draw(used(scheme.supplementary_threshold_fen)),
        supp_fen=draw(used(scheme.supplementary_cap_fen)),
        maf_fen=draw(used(scheme.assistance_cap_fen)),
    )


MED_TYPES = st.sampled_from(("21", "11", "14", "21", "11", "41"))


@st.composite
def visits(draw: st.DrawFn) -> tuple[str, int | None]:
    med_type = draw(MED_TYPES)
    hosp_lv = None if med_type == "41" else draw(st.sampled_from((1, 2, 3)))
    return med_type, hosp_lv


@st.composite
def random_claims(draw: st.DrawFn) -> RandomClaim:
    policy = draw(policies())
    claimant = draw(claimants)
    med_type, hosp_lv = draw(visits())
    return RandomClaim(
        lines=draw(fee_lines()),
        catalog=draw(catalogs()),
        gend=draw(st.sampled_from(("1", "2"))),
        age=draw(st.integers(0, 110)),
        policy=policy,
        claimant=claimant,
        med_type=med_type,
        hosp_lv=hosp_lv,
        ytd=draw(years(policy, claimant.insutype)),
        waiting=draw(one_in(5)),
        acct_used=draw(st.booleans()),
        wallets=draw(wallets),
    )


def settle(c: RandomClaim, *, ytd: YearToDate | None = None) -> SettlementSplit:
    lines = split_lines(
        c.lines, c.catalog, gend=c.gend, age=c.age, class_b_selfpay_prop=c.policy.class_b_selfpay_prop
    )
    return split_settlement(
        lines,
        policy=c.policy,
        claimant=c.claimant,
        med_type=c.med_type,
        hosp_lv=c.hosp_lv,
        ytd=c.ytd if ytd is None else ytd,
        in_waiting_period=c.waiting,
        acct_used=c.acct_used,
        wallets=c.wallets,
    )


def amounts(s: SettlementSplit) -> dict[str, int]:
    return {
        "medfee": s.medfee_fen,
        "fulamt": s.fulamt_ownpay_fen,
        "overlmt": s.overlmt_selfpay_fen,
        "preselfpay": s.preselfpay_fen,
        "inscp": s.inscp_scp_fen,
        "dedc": s.act_pay_dedc_fen,
        "hifp": s.hifp_pay_fen,
        "hifmi": s.hifmi_pay_fen,
        "hifob": s.hifob_pay_fen,
        "maf": s.maf_pay_fen,
        "fund": s.fund_pay_fen,
        "psn_part": s.psn_part_fen,
        "acct": s.acct_pay_fen,
        "mulaid": s.acct_mulaid_pay_fen,
        "cash": s.psn_cash_pay_fen,
        "pool_self": s.pool_self_fen,
    }


def added(ytd: YearToDate, delta: YearToDate) -> YearToDate:
    return YearToDate(
        outpatient_dedc_fen=ytd.outpatient_dedc_fen + delta.outpatient_dedc_fen,
        outpatient_pool_fen=ytd.outpatient_pool_fen + delta.outpatient_pool_fen,
        pool_fen=ytd.pool_fen + delta.pool_fen,
        pool_self_fen=ytd.pool_self_fen + delta.pool_self_fen,
        supp_fen=ytd.supp_fen + delta.supp_fen,
        maf_fen=ytd.maf_fen + delta.maf_fen,
    )


def yearly_caps(policy: Policy, claimant: Claimant) -> dict[str, int]:
    scheme = policy.scheme(claimant.insutype)
    raise_fen = claimant.incentive_raise_fen if claimant.insutype == "390" else 0
    return {
        "outpatient_dedc_fen": scheme.outpatient_deductible_fen,
        "outpatient_pool_fen": scheme.outpatient_pool_cap_fen,
        "pool_fen": scheme.pool_ceiling_fen,
        "supp_fen": scheme.supplementary_cap_fen + raise_fen,
        "maf_fen": scheme.assistance_cap_fen,
    }


def assert_caps_kept(before: YearToDate, after: YearToDate, caps: dict[str, int]) -> None:
    """A year under its cap stays under it; a year already over it (a lowered cap) gets nothing more."""
    for name, cap in caps.items():
        start, end = getattr(before, name), getattr(after, name)
        assert end <= max(cap, start), f"{name}: {start} → {end} past the cap {cap}"
        if start >= cap:
            assert end == start, f"{name}: {start} was at the cap {cap}, yet grew to {end}"


@given(fee_lines(), catalogs(), st.sampled_from(("1", "2")), st.integers(0, 110), ratios)
@FAST
def test_every_line_splits_its_amount_into_non_negative_parts(
    lines: list[FeeLine], catalog: dict[str, CatalogEntry], gend: str, age: int, class_b_prop: Decimal
) -> None:
    parts = split_lines(lines, catalog, gend=gend, age=age, class_b_selfpay_prop=class_b_prop)
    assert [p.feedetl_sn for p in parts] == [line.feedetl_sn for line in lines]
    for line, part in zip(lines, parts, strict=True):
        assert part.amount_fen == line.amount_fen
        assert (
            part.fulamt_ownpay_fen + part.overlmt_fen + part.preselfpay_fen + part.inscp_fen
            == line.amount_fen
        )
        assert min(part.fulamt_ownpay_fen, part.overlmt_fen, part.preselfpay_fen, part.inscp_fen) >= 0
        entry = catalog.get(line.med_list_codg)
        if entry is None or entry.chrgitm_lv == "03":
            assert part.fulamt_ownpay_fen == line.amount_fen
        elif entry.chrgitm_lv == "01":
            assert part.preselfpay_fen == 0
        if entry is not None and (entry.pric_uplmt_amt is None or line.pric <= entry.pric_uplmt_amt):
            assert part.overlmt_fen == 0


@given(random_claims())
@FAST
def test_the_settlement_adds_up_both_ways_and_no_part_is_negative(c: RandomClaim) -> None:
    s = settle(c)
    a = amounts(s)
    assert a["medfee"] == sum(line.amount_fen for line in c.lines)
    assert a["medfee"] == a["fulamt"] + a["overlmt"] + a["preselfpay"] + a["inscp"]
    assert a["medfee"] == a["fund"] + a["acct"] + a["mulaid"] + a["cash"]
    assert a["fund"] == a["hifp"] + a["hifmi"] + a["hifob"] + a["maf"]
    assert a["psn_part"] == a["medfee"] - a["fund"]
    assert a["fund"] == sum(f.amount_fen for f in s.funds)
    assert all(f.amount_fen > 0 for f in s.funds)
    assert {k: v for k, v in a.items() if v < 0} == {}
    assert min(fields_of(s.year_delta).values()) >= 0


@given(random_claims())
@FAST
def test_splitting_a_claim_never_pays_the_fund_more_than_the_in_scope_amount(c: RandomClaim) -> None:
    s = settle(c)
    assert s.fund_pay_fen <= s.inscp_scp_fen
    assert s.act_pay_dedc_fen + s.hifp_pay_fen <= s.inscp_scp_fen
    assert s.hifmi_pay_fen + s.hifob_pay_fen + s.maf_pay_fen <= s.pool_self_fen
    if s.fund_pay_fen or s.act_pay_dedc_fen:
        assert s.act_pay_dedc_fen + s.hifp_pay_fen + s.pool_self_fen == s.inscp_scp_fen


@given(random_claims())
@FAST
def test_no_yearly_cap_is_exceeded_and_no_account_pays_past_its_balance(c: RandomClaim) -> None:
    s = settle(c)
    assert_caps_kept(c.ytd, added(c.ytd, s.year_delta), yearly_caps(c.policy, c.claimant))
    assert s.acct_pay_fen <= max(0, c.wallets.own_balc_fen)
    assert s.acct_mulaid_pay_fen <= max(0, c.wallets.family_balc_fen)
    if not c.acct_used:
        assert (s.acct_pay_fen, s.acct_mulaid_pay_fen) == (0, 0)
    if c.wallets.family_holder is None:
        assert s.acct_mulaid_pay_fen == 0
    if s.acct_mulaid_pay_fen:  # the family's account pays only what the person's own could not
        assert s.acct_pay_fen == min(s.psn_part_fen, max(0, c.wallets.own_balc_fen))


@given(random_claims())
@FAST
def test_only_the_funds_the_person_is_entitled_to_pay(c: RandomClaim) -> None:
    s = settle(c)
    if c.waiting or c.med_type == "41":
        assert s.fund_pay_fen == 0
        assert s.act_pay_dedc_fen == s.pool_self_fen == 0
        assert s.year_delta == YearToDate()
        assert s.funds == ()
        assert s.psn_part_fen == s.medfee_fen
        assert s.reasons == (("WAITING_PERIOD",) if c.waiting else ("PHARMACY_ACCOUNT_ONLY",))
    if c.claimant.insutype == "310":
        assert s.hifmi_pay_fen == 0
    else:
        assert s.hifob_pay_fen == 0
    if not c.claimant.supplementary:
        assert s.hifmi_pay_fen == s.hifob_pay_fen == 0
    if c.claimant.assistance is None:
        assert s.maf_pay_fen == 0
    if c.claimant.insutype == "310" or c.claimant.incentive_raise_fen == 0:
        assert not s.incentive_raise_used


@st.composite
def years_of_claims(draw: st.DrawFn) -> list[RandomClaim]:
    """One person's claims in one year: same policy, catalogue and claimant; visits, lines and wallets vary."""
    first = draw(random_claims())
    later = []
    for _ in range(draw(st.integers(1, 5))):
        med_type, hosp_lv = draw(visits())
        later.append(
            replace(
                first,
                lines=draw(fee_lines()),
                med_type=med_type,
                hosp_lv=hosp_lv,
                waiting=draw(one_in(5)),
                acct_used=draw(st.booleans()),
                wallets=draw(wallets),
            )
        )
    return [first, *later]


@given(years_of_claims())
@FAST
def test_a_year_of_claims_settled_one_after_another_keeps_every_cap(claims: list[RandomClaim]) -> None:
    first = claims[0]
    year = first.ytd
    fund = inscp = 0
    for c in claims:
        s = settle(c, ytd=year)
        fund, inscp = fund + s.fund_pay_fen, inscp + s.inscp_scp_fen
        year = added(year, s.year_delta)
    assert fund <= inscp
    assert_caps_kept(first.ytd, year, yearly_caps(first.policy, first.claimant))


def fields_of(ytd: YearToDate) -> dict[str, int]:
    return {name: getattr(ytd, name) for name in YearToDate.__dataclass_fields__}
