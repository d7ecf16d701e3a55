"""The ten rule families, as pure functions over literal histories exactly at their thresholds."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from fraud.domain.facts import Claim, CodeUse, History, ItemLimit, Line, PastClaim, PastLine, Peers
from fraud.domain.families import FAMILIES
from fraud.domain.params import InvalidParams, ParamValue, validate_params

DAY = date(2026, 3, 10)


def params(family: str, **overrides: ParamValue) -> dict[str, ParamValue]:
    return validate_params(FAMILIES[family].params, overrides)


def check(
    family: str, claim: Claim, history: History, **overrides: ParamValue
) -> list[tuple[str, str | None, int | None]]:
    hits = FAMILIES[family].check(claim, history, params(family, **overrides))
    return [(hit.key, hit.feedetl_sn, hit.vola_fen) for hit in hits]


def claim(
    *,
    setl_id: str | None = "S9",
    med_type: str = "21",
    begin: date = DAY,
    end: date | None = None,
    code: str = "H1",
    dise: str | None = "I63.900",
    hosp_lv: int | None = 2,
    medfee: int = 100_000,
    fund: int = 60_000,
    psn_part: int = 40_000,
    gend: str | None = "1",
    brdy: date | None = date(1960, 3, 10),
    lines: tuple[Line, ...] = (),
) -> Claim:
    return Claim(
        setl_id=setl_id,
        psn_no="P1",
        med_type=med_type,
        fixmedins_code=code,
        hosp_lv=hosp_lv,
        dise_codg=dise,
        begin_date=begin,
        end_date=end,
        setl_date=end or begin,
        medfee_fen=medfee,
        fund_pay_fen=fund,
        psn_part_fen=psn_part,
        gend=gend,
        brdy=brdy,
        lines=lines,
    )


def past(
    setl_id: str,
    begin: date,
    *,
    med_type: str = "21",
    end: date | None = None,
    code: str = "H1",
    dise: str | None = "I63.100",
    psn_part: int = 0,
) -> PastClaim:
    return PastClaim(setl_id, med_type, code, dise, begin, end, end or begin, psn_part)


def line(
    sn: str,
    item: str = "A01",
    cnt: str = "1",
    amount: int = 1000,
    day: date = DAY,
    codes: tuple[str, ...] = (),
) -> Line:
    return Line(sn, item, Decimal(cnt), amount, day, codes)


# --- admission_frequency: ≥ N admissions begun within W days -------------------------------------------


def test_the_third_admission_within_a_year_flags_keyed_by_the_first_of_the_window() -> None:
    history = History(claims=(past("S1", DAY - timedelta(days=364)), past("S2", DAY - timedelta(days=100))))
    assert check("admission_frequency", claim(), history) == [("P1:S1", None, 60_000)]


def test_two_admissions_within_a_year_do_not_flag() -> None:
    history = History(claims=(past("S2", DAY - timedelta(days=100)),))
    assert check("admission_frequency", claim(), history) == []


def test_an_admission_exactly_w_days_before_is_outside_the_window() -> None:
    history = History(claims=(past("S1", DAY - timedelta(days=365)), past("S2", DAY - timedelta(days=100))))
    assert check("admission_frequency", claim(), history) == []


def test_outpatient_visits_are_not_admissions() -> None:
    history = History(
        claims=(past("S1", DAY - timedelta(days=10), med_type="11"), past("S2", DAY - timedelta(days=5)))
    )
    assert check("admission_frequency", claim(), history) == []
    assert check("admission_frequency", claim(), history, min_admissions=2) == [("P1:S2", None, 60_000)]


# --- cost_outlier: medfee > k × mean of ≥ m peers ------------------------------------------------------


def test_medfee_above_three_times_the_mean_of_thirty_peers_flags() -> None:
    # 30 peers with a mean of 1,000.00: 3,000.01 flags, 3,000.00 does not.
    peers = History(peers=Peers(30, 30 * 100_000))
    assert check("cost_outlier", claim(medfee=300_001), peers) == [("S9", None, 60_000)]
    assert check("cost_outlier", claim(medfee=300_000), peers) == []


def test_twenty_nine_peers_are_too_few_to_compare() -> None:
    assert check("cost_outlier", claim(medfee=900_000), History(peers=Peers(29, 29 * 100_000))) == []


def test_cost_outlier_needs_an_inpatient_claim_with_a_diagnosis() -> None:
    peers = History(peers=Peers(30, 30 * 100_000))
    assert check("cost_outlier", claim(medfee=900_000, med_type="11"), peers) == []
    assert check("cost_outlier", claim(medfee=900_000, dise=None), peers) == []


# --- split_admission: readmission ≤ D days after discharge, same institution and category ---------------


def test_readmission_on_day_fifteen_after_discharge_flags() -> None:
    history = History(claims=(past("S1", DAY - timedelta(days=25), end=DAY - timedelta(days=15)),))
    assert check("split_admission", claim(), history) == [("S9", None, 60_000)]


def test_readmission_on_day_sixteen_does_not_flag() -> None:
    history = History(claims=(past("S1", DAY - timedelta(days=25), end=DAY - timedelta(days=16)),))
    assert check("split_admission", claim(), history) == []


def test_readmission_elsewhere_or_for_another_category_does_not_flag() -> None:
    discharged = DAY - timedelta(days=3)
    history = History(
        claims=(
            past("S1", DAY - timedelta(days=9), end=discharged, code="H2"),
            past("S2", DAY - timedelta(days=9), end=discharged, dise="J18.000"),
        )
    )
    assert check("split_admission", claim(), history) == []


# --- trace_code_reuse ------------------------------------------------------------------------------------


def test_a_code_already_settled_blocks_that_line_with_its_amount() -> None:
    review = claim(
        setl_id=None, med_type="41", lines=(line("1", codes=("T1",)), line("2", amount=2500, codes=("T2",)))
    )
    first = CodeUse("settlement", "S1", "H1", datetime(2026, 3, 1, 2, tzinfo=UTC))
    history = History(used_trace_codes={"T2": first})
    assert check("trace_code_reuse", review, history) == [("review:2", "2", 2500)]


def test_a_code_sold_at_a_pharmacy_is_named_as_its_first_use_and_the_claims_own_settlement_is_not_a_use() -> (
    None
):
    sold = CodeUse("sale", "S-0001", "Y1", datetime(2026, 3, 1, 0, 30, tzinfo=UTC))  # 08:30 in Shanghai
    hits = FAMILIES["trace_code_reuse"].check(
        claim(setl_id=None, lines=(line("1", codes=("T1",)),)), History(used_trace_codes={"T1": sold}), {}
    )
    assert [(hit.message, hit.feedetl_sn) for hit in hits] == [
        ("traceability code T1 already sold at pharmacy Y1 (sale S-0001) on 2026-03-01", "1")
    ]
    own = CodeUse("settlement", "S9", "H1", datetime(2026, 3, 1, 2, tzinfo=UTC))
    assert (
        check(
            "trace_code_reuse",
            claim(lines=(line("1", codes=("T1",)),)),
            History(used_trace_codes={"T1": own}),
        )
        == []
    )


def test_a_code_twice_in_one_claim_flags_the_second_line() -> None:
    review = claim(setl_id=None, lines=(line("1", codes=("T1",)), line("2", codes=("T1",))))
    assert check("trace_code_reuse", review, History()) == [("review:2", "2", 1000)]


def test_fresh_codes_pass() -> None:
    assert check("trace_code_reuse", claim(lines=(line("1", codes=("T1", "T2")),)), History()) == []


# --- after_death -----------------------------------------------------------------------------------------


def test_care_begun_the_day_after_death_flags_and_on_the_day_of_death_does_not() -> None:
    assert check("after_death", claim(), History(death_date=DAY - timedelta(days=1))) == [
        ("S9", None, 60_000)
    ]
    assert check("after_death", claim(), History(death_date=DAY)) == []
    assert check("after_death", claim(), History()) == []


# --- duplicate_billing -----------------------------------------------------------------------------------


def test_the_same_item_on_the_same_day_in_another_settlement_flags() -> None:
    history = History(lines=(PastLine("S1", "1", "A01", DAY, Decimal(1)),))
    assert check("duplicate_billing", claim(lines=(line("1"),)), history) == [("S9:1", "1", 1000)]


def test_the_same_item_the_next_day_does_not_flag() -> None:
    history = History(lines=(PastLine("S1", "1", "A01", DAY - timedelta(days=1), Decimal(1)),))
    assert check("duplicate_billing", claim(lines=(line("1"),)), history) == []


def test_the_same_item_twice_on_a_day_in_one_claim_flags_the_second() -> None:
    both = claim(lines=(line("1"), line("2"), line("3", item="B02")))
    assert check("duplicate_billing", both, History()) == [("S9:2", "2", 1000)]


# --- over_quantity ---------------------------------------------------------------------------------------


LIMITED = {"A01": ItemLimit(max_cnt_per_visit=Decimal(6))}


def test_quantity_above_the_per_visit_limit_flags_and_at_the_limit_does_not() -> None:
    over = claim(med_type="41", lines=(line("1", cnt="4"), line("2", cnt="2.5", amount=500)))
    assert check("over_quantity", over, History(catalog=LIMITED)) == [("S9:1", "1", 1500)]
    at = claim(med_type="41", lines=(line("1", cnt="6"),))
    assert check("over_quantity", at, History(catalog=LIMITED)) == []


def test_supplies_overlapping_within_w_days_flag_and_after_w_days_do_not() -> None:
    bought = claim(med_type="41", lines=(line("1", cnt="3"),))
    within = History(
        catalog=LIMITED, lines=(PastLine("S1", "1", "A01", DAY - timedelta(days=29), Decimal(4)),)
    )
    assert check("over_quantity", bought, within) == [("S9:1", "1", 1000)]
    after = History(
        catalog=LIMITED, lines=(PastLine("S1", "1", "A01", DAY - timedelta(days=30), Decimal(4)),)
    )
    assert check("over_quantity", bought, after) == []


def test_items_without_a_limit_are_not_judged() -> None:
    assert check("over_quantity", claim(lines=(line("1", cnt="100"),)), History()) == []


# --- gender_age_limit ------------------------------------------------------------------------------------


def test_an_item_for_women_billed_for_a_man_flags() -> None:
    history = History(catalog={"A01": ItemLimit(gend_lmt="2")})
    assert check("gender_age_limit", claim(lines=(line("1"),)), history) == [("S9:1", "1", 1000)]
    assert check("gender_age_limit", claim(gend="2", lines=(line("1"),)), history) == []


def test_age_limits_hold_on_the_birthday_itself() -> None:
    # Born 10 March 1960: 66 on 10 March 2026, still 65 the day before.
    history = History(catalog={"A01": ItemLimit(age_max=65), "B02": ItemLimit(age_min=66)})
    on_birthday = claim(lines=(line("1"), line("2", item="B02")))
    assert check("gender_age_limit", on_birthday, history) == [("S9:1", "1", 1000)]
    day_before = DAY - timedelta(days=1)
    earlier = claim(lines=(line("1", day=day_before), line("2", item="B02", day=day_before)))
    assert check("gender_age_limit", earlier, history) == [("S9:2", "2", 1000)]


# --- visit_frequency: > N outpatient visits in W days ----------------------------------------------------


def visits(n: int) -> History:
    return History(
        claims=tuple(past(f"V{i:02d}", DAY - timedelta(days=i), med_type="11") for i in range(1, n + 1))
    )


def test_the_twenty_first_outpatient_visit_in_thirty_days_flags() -> None:
    assert check("visit_frequency", claim(med_type="11"), visits(20)) == [("P1:V20", None, 60_000)]


def test_twenty_visits_in_thirty_days_do_not_flag() -> None:
    assert check("visit_frequency", claim(med_type="14"), visits(19)) == []


def test_a_visit_thirty_days_before_is_outside_the_window() -> None:
    history = History(claims=(*visits(19).claims, past("V30", DAY - timedelta(days=30), med_type="11")))
    assert check("visit_frequency", claim(med_type="11"), history) == []


# --- high_burden: the year's personal burden > 50,000 ----------------------------------------------------


def test_a_burden_above_fifty_thousand_in_the_year_flags_once_per_year() -> None:
    history = History(
        claims=(
            past("S1", date(2026, 1, 5), psn_part=4_000_000),
            past("S0", date(2025, 12, 30), psn_part=9_000_000),
        )
    )
    assert check("high_burden", claim(psn_part=1_000_001), history) == [("P1:2026", None, None)]


def test_a_burden_of_exactly_fifty_thousand_does_not_flag() -> None:
    history = History(claims=(past("S1", date(2026, 1, 5), psn_part=4_000_000),))
    assert check("high_burden", claim(psn_part=1_000_000), history) == []


def test_high_burden_is_the_assistance_category_not_fraud() -> None:
    assert {name: f.category for name, f in FAMILIES.items() if f.category != "fraud"} == {
        "high_burden": "assistance"
    }


# --- parameters --------------------------------------------------------------------------------------------


def test_defaults_are_those_of_the_design() -> None:
    assert {name: (f.severity, f.scope, validate_params(f.params, {})) for name, f in FAMILIES.items()} == {
        "admission_frequency": ("warn", "post", {"min_admissions": 3, "window_days": 365}),
        "cost_outlier": ("warn", "post", {"multiple": Decimal(3), "min_peers": 30}),
        "split_admission": ("warn", "post", {"max_days": 15}),
        "trace_code_reuse": ("block", "in", {}),
        "after_death": ("warn", "post", {}),
        "duplicate_billing": ("warn", "in", {}),
        "over_quantity": ("warn", "in", {"window_days": 30}),
        "gender_age_limit": ("block", "in", {}),
        "visit_frequency": ("warn", "post", {"max_visits": 20, "window_days": 30}),
        "high_burden": ("info", "post", {"threshold_yuan": Decimal(50000), "thresholds_by_category": {}}),
        "bed_hold": ("warn", "post", {"min_days": 2, "care_prefixes": ("1109", "12", "001109", "0012")}),
        "induced_admission": (
            "warn",
            "post",
            {
                "max_days": 3,
                "max_cost_yuan": Decimal(3000),
                "max_share": Decimal("0.2"),
                "min_count": 5,
                "mild_diagnoses": (
                    *("J00", "J02", "J03", "J06", "J20", "A09", "K29", "K52", "I10", "E11.9", "M54", "R42"),
                    *("R51", "I67.8"),
                ),
            },
        ),
        "institution_outlier": (
            "warn",
            "post",
            {"multiple": Decimal(2), "min_peers": 5, "min_cases": 10, "drug_prefixes": ("X", "Z", "T")},
        ),
        "upcoding": (
            "warn",
            "post",
            {"multiple": Decimal("1.5"), "min_peers": 5, "min_cases": 20, "severities": ("MCC", "CC")},
        ),
    }


@pytest.mark.parametrize(
    ("family", "raw", "problems"),
    [
        ("admission_frequency", {"min_admissions": 1}, ["min_admissions must be between 2 and 100, got 1"]),
        ("admission_frequency", {"window": 30}, ["unknown parameter 'window'"]),
        ("cost_outlier", {"multiple": "abc"}, ["multiple must be a decimal number"]),
        ("cost_outlier", {"min_peers": 2.5}, ["min_peers must be a whole number"]),
        ("split_admission", {"max_days": True}, ["max_days must be a number"]),
        ("high_burden", {"threshold_yuan": "1.00001"}, ["threshold_yuan has more than 4 decimal places"]),
    ],
)
def test_bad_parameters_are_refused_with_what_is_wrong(
    family: str, raw: dict[str, object], problems: list[str]
) -> None:
    with pytest.raises(InvalidParams) as refused:
        validate_params(FAMILIES[family].params, raw)
    assert refused.value.problems == problems
