"""bed_hold, the institution-level families and high_burden by assistance category, as pure functions exactly
at their thresholds (and just below), with their messages."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

import pytest

from fraud.domain.facts import Claim, History, Line, PastClaim
from fraud.domain.families import FAMILIES
from fraud.domain.institutions import Admission, InstitutionFigures, InstitutionMonth
from fraud.domain.params import InvalidParams, validate_params

DAY = date(2026, 3, 10)


def params(family: str, **overrides: object) -> dict[str, object]:
    return dict(validate_params(FAMILIES[family].params, overrides))


def hits(
    family: str, claim: Claim, history: History | None = None, **overrides: object
) -> list[tuple[str, str, int | None]]:
    found = FAMILIES[family].check(
        claim, history or History(), validate_params(FAMILIES[family].params, overrides)
    )
    return [(hit.key, hit.message, hit.vola_fen) for hit in found]


def month_hits(
    family: str, month: InstitutionMonth, **overrides: object
) -> list[tuple[str, str, int | None]]:
    check = FAMILIES[family].month_check
    assert check is not None
    found = check(month, validate_params(FAMILIES[family].params, overrides))
    return [(hit.key, hit.message, hit.vola_fen) for hit in found]


def stay(
    *days_charged: int, nights: int = 6, item: str = "001109000010000", assistance: str | None = None
) -> Claim:
    """An admission on DAY for `nights` nights, a charge of `item` on each of the given day offsets."""
    return Claim(
        setl_id="S1",
        psn_no="P1",
        med_type="21",
        fixmedins_code="H1",
        hosp_lv=2,
        dise_codg="I63.900",
        begin_date=DAY,
        end_date=DAY + timedelta(days=nights),
        setl_date=DAY + timedelta(days=nights),
        medfee_fen=300_000,
        fund_pay_fen=200_000,
        psn_part_fen=100_000,
        gend="1",
        brdy=date(1960, 1, 1),
        lines=tuple(
            Line(f"{n}", item, Decimal(1), 5_000, DAY + timedelta(days=offset))
            for n, offset in enumerate(days_charged)
        ),
        assistance=assistance,
    )


# --- bed_hold 挂床住院 -------------------------------------------------------------------------------------


def test_two_days_of_a_stay_without_a_bed_nursing_or_treatment_charge_flag_the_stay() -> None:
    assert hits("bed_hold", stay(0, 1, 2, 5)) == [
        (
            "S1",
            "2 of 6 inpatient days with no bed, nursing or treatment charge (2026-03-13, 2026-03-14; threshold 2)",
            200_000,
        )
    ]


def test_one_day_without_a_charge_is_below_the_threshold() -> None:
    assert hits("bed_hold", stay(0, 1, 2, 3, 5)) == []


def test_the_discharge_day_is_not_a_day_of_the_stay() -> None:
    assert hits("bed_hold", stay(0, 1, 2, 3, 4, 5)) == []
    assert hits("bed_hold", stay(0, 1, 2, 3, 4, 6)) == []  # only day 5 empty: below 2


def test_nursing_and_treatment_codes_count_in_both_code_forms_and_others_do_not() -> None:
    nursing = stay(0, 1, 2, 3, 4, 5, item="120100003")  # Ⅰ级护理, price-item code
    assert hits("bed_hold", nursing) == []
    drug_only = replace(stay(0), lines=(
        Line("1", "001109000010000", Decimal(1), 5_000, DAY),
        *(Line(f"d{n}", "XA10BAE054A001010104195", Decimal(1), 900, DAY + timedelta(days=n)) for n in range(1, 6)),
    ))  # fmt: skip
    assert [key for key, *_ in hits("bed_hold", drug_only)] == ["S1"]


def test_a_stay_billed_with_none_of_the_care_codes_is_not_judged() -> None:
    assert hits("bed_hold", stay(0, item="A01")) == []


def test_the_threshold_and_the_codes_are_parameters() -> None:
    assert [key for key, *_ in hits("bed_hold", stay(0, 1, 2, 3, 5), min_days=1)] == ["S1"]
    assert hits("bed_hold", stay(0, 1, 2, 5, item="B01"), care_prefixes=["b0"]) != []


# --- high_burden by assistance category (高额医疗费用预警) --------------------------------------------------


def burden(psn_part: int, assistance: str | None) -> Claim:
    return replace(stay(0, assistance=assistance), psn_part_fen=psn_part)


CATEGORIES = "extreme_poverty, minimum_living, monitored"
BY, MONITORED = "thresholds_by_category", "thresholds_by_category.monitored"
NOT_A_CODE = "(letters, digits and dots, 1 to 30 characters)"
BY_CATEGORY = {"minimum_living": "10000", "extreme_poverty": "5000.50"}


def test_a_minimum_living_person_is_flagged_above_the_threshold_of_the_category() -> None:
    assert hits("high_burden", burden(1_000_001, "minimum_living"), thresholds_by_category=BY_CATEGORY) == [
        ("P1:2026", "personal burden 10000.01 in 2026 above 10000 (threshold of minimum_living)", None)
    ]
    assert hits("high_burden", burden(1_000_000, "minimum_living"), thresholds_by_category=BY_CATEGORY) == []


def test_each_category_has_its_own_threshold_and_others_fall_back_to_the_general_one() -> None:
    assert hits("high_burden", burden(500_051, "extreme_poverty"), thresholds_by_category=BY_CATEGORY) != []
    assert hits("high_burden", burden(500_050, "extreme_poverty"), thresholds_by_category=BY_CATEGORY) == []
    assert hits("high_burden", burden(1_000_001, "monitored"), thresholds_by_category=BY_CATEGORY) == []
    assert hits("high_burden", burden(1_000_001, None), thresholds_by_category=BY_CATEGORY) == []
    assert hits("high_burden", burden(5_000_001, "monitored"), thresholds_by_category=BY_CATEGORY) == [
        ("P1:2026", "personal burden 50000.01 in 2026 above 50000", None)
    ]


def test_the_year_so_far_counts_toward_the_category_threshold() -> None:
    history = History(
        claims=(PastClaim("S0", "11", "H1", None, date(2026, 1, 5), None, date(2026, 1, 5), 600_000),)
    )
    claim = burden(400_001, "minimum_living")
    assert [k for k, *_ in hits("high_burden", claim, history, thresholds_by_category=BY_CATEGORY)] == [
        "P1:2026"
    ]


@pytest.mark.parametrize(
    ("raw", "problems"),
    [
        ({"thresholds_by_category": {"rich": "1"}}, [f"{BY}: unknown key 'rich' (one of {CATEGORIES})"]),
        ({"thresholds_by_category": {"monitored": "-1"}}, [f"{MONITORED} must be between 0 and 10000000, got -1"]),
        ({"thresholds_by_category": {"monitored": "abc"}}, [f"{MONITORED} must be a decimal number"]),
        ({"thresholds_by_category": ["monitored"]}, [f"{BY} must be an object of amounts by {CATEGORIES}"]),
    ],
)  # fmt: skip
def test_bad_category_thresholds_are_refused_with_what_is_wrong(
    raw: dict[str, object], problems: list[str]
) -> None:
    with pytest.raises(InvalidParams) as refused:
        validate_params(FAMILIES["high_burden"].params, raw)
    assert refused.value.problems == problems


@pytest.mark.parametrize(
    ("family", "raw", "problems"),
    [
        ("bed_hold", {"care_prefixes": "1109"}, ["care_prefixes must be a list of codes"]),
        ("bed_hold", {"care_prefixes": []}, ["care_prefixes must list between 1 and 200 codes, got 0"]),
        ("bed_hold", {"care_prefixes": ["11 09"]}, ["care_prefixes: '11 09' is not a code " + NOT_A_CODE]),
        ("bed_hold", {"care_prefixes": ["1109", "1109"]}, ["care_prefixes: 1109 is listed twice"]),
        ("induced_admission", {"max_share": "1.5"}, ["max_share must be between 0 and 1, got 1.5"]),
        ("upcoding", {"multiple": "0.5"}, ["multiple must be between 1 and 100, got 0.5"]),
    ],
)  # fmt: skip
def test_bad_codes_and_shares_are_refused(family: str, raw: dict[str, object], problems: list[str]) -> None:
    with pytest.raises(InvalidParams) as refused:
        validate_params(FAMILIES[family].params, raw)
    assert refused.value.problems == problems


# --- induced_admission 诱导住院 ------------------------------------------------------------------------------


def admission(n: int, *, dise: str = "J06.900", days: int = 2, medfee: int = 200_000) -> Admission:
    begin = date(2026, 3, 1) + timedelta(days=n % 20)
    return Admission(
        f"A{n:02d}",
        f"P{n}",
        dise,
        begin,
        begin + timedelta(days=days),
        begin + timedelta(days=days),
        medfee,
        150_000,
    )


def induced(mild: int, others: int) -> InstitutionMonth:
    admissions = [admission(n) for n in range(mild)] + [
        admission(100 + n, dise="I63.900", days=8, medfee=2_000_000) for n in range(others)
    ]
    return InstitutionMonth(
        "2026-03", InstitutionFigures("H1", 2, admissions=len(admissions)), tuple(admissions)
    )


def test_mild_short_cheap_admissions_above_a_fifth_of_the_month_flag_with_their_fund_pay() -> None:
    assert month_hits("induced_admission", induced(6, 23)) == [
        (
            "H1:2026-03",
            "6 of 29 admissions in 2026-03 (20.69%) were short (≤ 3 days), low-cost (≤ 3000.00) and of mild "
            "diagnoses, above 20.00% (at least 5)",
            900_000,
        )
    ]


def test_exactly_a_fifth_or_fewer_than_five_do_not_flag() -> None:
    assert month_hits("induced_admission", induced(6, 24)) == []  # 6 of 30 = 20.00%: not above
    assert month_hits("induced_admission", induced(4, 0)) == []  # 100% but only 4


def test_a_longer_or_dearer_stay_or_another_diagnosis_is_not_mild() -> None:
    base = [admission(n) for n in range(5)]
    for other in (
        admission(9, days=4),
        admission(9, medfee=300_001),
        admission(9, dise="I63.900"),
    ):
        month = InstitutionMonth("2026-03", InstitutionFigures("H1", 2), (*base[:4], other))
        assert month_hits("induced_admission", month) == []
    at_edges = InstitutionMonth(
        "2026-03",
        InstitutionFigures("H1", 2),
        (*base[:4], admission(9, days=3, medfee=300_000, dise="e11.900")),
    )
    assert [k for k, *_ in month_hits("induced_admission", at_edges)] == ["H1:2026-03"]


# --- institution_outlier 机构指标异常 -----------------------------------------------------------------------


def figures(
    code: str,
    *,
    lv: int = 2,
    admissions: int = 10,
    cost: int = 500_000,
    persons: int | None = None,
    settlements: int = 20,
    medfee: int = 10_000_000,
    drug: int = 3_000_000,
) -> InstitutionFigures:
    return InstitutionFigures(
        fixmedins_code=code, hosp_lv=lv, settlements=settlements, medfee_fen=medfee, fund_pay_fen=medfee // 2,
        drug_fen=drug, admissions=admissions, inpatient_medfee_fen=cost * admissions,
        inpatients=admissions if persons is None else persons,
    )  # fmt: skip


PEERS = tuple(figures(f"H{n}", cost=400_000 + 50_000 * n) for n in range(5))  # mean cost 5000.00


def test_a_cost_per_case_above_twice_the_peers_mean_flags() -> None:
    own = figures("X1", cost=1_000_001)
    assert month_hits("institution_outlier", InstitutionMonth("2026-03", own, peers=PEERS)) == [
        (
            "X1:2026-03:cost_per_case",
            "cost per inpatient case 次均住院费用 10000.01 in 2026-03 above 2 × the mean 5000.00 of 5 level-2 peers",
            None,
        )
    ]
    at = figures("X1", cost=1_000_000)
    assert month_hits("institution_outlier", InstitutionMonth("2026-03", at, peers=PEERS)) == []


def test_admissions_per_person_and_drug_share_flag_each_as_its_own_finding() -> None:
    own = figures("X1", admissions=10, persons=4, drug=6_000_001)  # 2.5 per person; 60.00001 %
    found = month_hits("institution_outlier", InstitutionMonth("2026-03", own, peers=PEERS), multiple="1.5")
    assert [(key, message) for key, message, _ in found] == [
        (
            "X1:2026-03:admissions_per_person",
            "admissions per insured person 住院人次人头比 2.5000 in 2026-03 above 1.5 × the mean 1.0000 of 5 "
            "level-2 peers",
        ),
        (
            "X1:2026-03:drug_share",
            "drug share 药占比 60.00% in 2026-03 above 1.5 × the mean 30.00% of 5 level-2 peers",
        ),
    ]
    at = figures("X1", admissions=10, persons=10, drug=4_500_000)  # exactly 1.5 × 30 %
    assert (
        month_hits("institution_outlier", InstitutionMonth("2026-03", at, peers=PEERS), multiple="1.5") == []
    )


def test_too_few_peers_or_cases_compare_nothing() -> None:
    own = figures("X1", cost=5_000_000)
    assert month_hits("institution_outlier", InstitutionMonth("2026-03", own, peers=PEERS[:4])) == []
    small = figures("X1", cost=5_000_000, admissions=9, settlements=9)
    assert month_hits("institution_outlier", InstitutionMonth("2026-03", small, peers=PEERS)) == []
    few_cases = tuple(figures(f"H{n}", admissions=9, settlements=9) for n in range(5))
    assert month_hits("institution_outlier", InstitutionMonth("2026-03", own, peers=few_cases)) == []


# --- upcoding 高套病组 ---------------------------------------------------------------------------------------


def grouped(code: str, cases: int, high: int) -> InstitutionFigures:
    return InstitutionFigures(code, 3, grouped_cases=cases, high_severity_cases=high)


GROUPED_PEERS = tuple(grouped(f"H{n}", 40, 8) for n in range(5))  # 20 % each


def test_a_high_severity_share_above_one_and_a_half_times_the_peers_flags() -> None:
    month = InstitutionMonth("2026-03", grouped("X1", 40, 13), peers=GROUPED_PEERS)  # 32.5 % > 30 %
    assert month_hits("upcoding", month) == [
        (
            "X1:2026-03",
            "high-severity (mcc, cc) share 32.50% of 40 grouped cases in 2026-03 above 1.5 × the mean 20.00% of "
            "5 level-3 peers",
            None,
        )
    ]
    assert (
        month_hits("upcoding", InstitutionMonth("2026-03", grouped("X1", 40, 12), peers=GROUPED_PEERS)) == []
    )


def test_upcoding_needs_enough_grouped_cases_and_peers() -> None:
    assert (
        month_hits("upcoding", InstitutionMonth("2026-03", grouped("X1", 19, 19), peers=GROUPED_PEERS)) == []
    )
    assert (
        month_hits("upcoding", InstitutionMonth("2026-03", grouped("X1", 40, 40), peers=GROUPED_PEERS[:4]))
        == []
    )
    assert (
        month_hits(
            "upcoding",
            InstitutionMonth("2026-03", grouped("X1", 40, 40), peers=GROUPED_PEERS[:4]),
            min_peers=4,
        )
        != []
    )
