"""Payment by points (DESIGN §12, domain/points.py) with literals: every expected value worked out by hand.

Money is integer fen, points are Decimals; no app, no database.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from settlement.domain.points import (
    CC,
    MCC,
    Adrg,
    CaseCoding,
    ClearingLine,
    Colour,
    Deviation,
    DipGrouper,
    DrgGrouper,
    Group,
    InstitutionYear,
    Procedure,
    YearParameters,
    allowed_fen,
    case_points,
    clear_year,
    colour,
    days_in_year,
    entitlement_fen,
    final_fen,
    point_value,
    quality_reserve_fen,
    year_share,
)

P = YearParameters()  # q 0.05, low 0.4, high 2.0, keep 0.15, share 0.5, band 0.10, 100 yuan a point
GROUP = Group("G1", "the worked example's group", Decimal("100"), 1_000_000)  # 100 points, avg_cost 10,000.00
ONE_POINT = Group("G2", "one point, avg_cost 1,000.00", Decimal("1"), 100_000)
H1, H2 = "H42010200001", "H42010200002"


def points_of(medfee_fen: int, group: Group | None = GROUP, coefficient: str = "1.00") -> Decimal:
    return case_points(
        medfee_fen=medfee_fen, group=group, coefficient=Decimal(coefficient), parameters=P
    ).points


# --- 1. the worked example of DESIGN §12 ---------------------------------------------------------------


def test_the_worked_example_cases_points_and_deviations() -> None:
    a = case_points(medfee_fen=1_000_000, group=GROUP, coefficient=Decimal("1.00"), parameters=P)
    b = case_points(medfee_fen=300_000, group=GROUP, coefficient=Decimal("1.00"), parameters=P)
    c = case_points(medfee_fen=2_500_000, group=GROUP, coefficient=Decimal("0.90"), parameters=P)
    # a: r = 10,000 ÷ 10,000 = 1.0, 0.4 ≤ r ≤ 2.0 → 100 × 1.00 = 100
    assert (a.points, a.deviation, a.ratio, a.base, a.coefficient) == (
        Decimal("100.0000"),
        Deviation.NORMAL,
        Decimal("1"),
        Decimal("100"),
        Decimal("1.00"),
    )
    # b: r = 3,000 ÷ 10,000 = 0.3 < 0.4 → 100 × 0.3 × 1.00 = 30
    assert (b.points, b.deviation, b.ratio) == (Decimal("30.0000"), Deviation.LOW, Decimal("0.3"))
    # c: r = 25,000 ÷ 10,000 = 2.5 > 2.0 → 100 × (2.5 − 2.0 + 1) × 0.90 = 150 × 0.9 = 135
    assert (c.points, c.deviation, c.ratio, c.coefficient) == (
        Decimal("135.0000"),
        Deviation.HIGH,
        Decimal("2.5"),
        Decimal("0.90"),
    )
    assert not (a.special or b.special or c.special)
    assert str(a.points) == "100.0000"  # 4 decimals


def test_the_worked_example_year_clearing_to_the_fen() -> None:
    # withheld in the months: 5% of the inpatient hifp_pay — H1 0.05 × 7,500.00 = 375.00, H2 0.05 × 17,000.00 = 850.00
    assert quality_reserve_fen(750_000, P) == 37_500
    assert quality_reserve_fen(1_700_000, P) == 85_000
    h1 = InstitutionYear(
        H1,
        cases=2,
        points=Decimal("130.0000"),  # 100 + 30
        n_fen=550_000,  # (10,000 − 6,000) + (3,000 − 1,500) = 5,500.00
        f_fen=750_000,  # 6,000 + 1,500 = 7,500.00
        withheld_fen=37_500,
        score=Decimal("1"),
    )
    h2 = InstitutionYear(
        H2,
        cases=1,
        points=Decimal("135.0000"),
        n_fen=800_000,  # 25,000 − 17,000 = 8,000.00
        f_fen=1_700_000,
        withheld_fen=85_000,
        score=Decimal("0.8"),
    )
    clearing = clear_year(3_000_000, P, [h2, h1])  # given out of order: the lines come by fixmedins_code

    assert clearing.total_points == Decimal("265")  # 130 + 135
    assert clearing.n_fen == 1_350_000  # 5,500 + 8,000
    assert clearing.f_fen == 2_450_000  # 7,500 + 17,000
    # PV = (30,000 + 13,500) ÷ 265 = 43,500 ÷ 265 = 164.1509433… → 164.150943
    assert clearing.point_value == Decimal("164.150943")
    assert str(clearing.point_value) == "164.150943"

    line1, line2 = clearing.lines
    assert (line1.fixmedins_code, line2.fixmedins_code) == (H1, H2)

    # H1: E = 130 × 164.150943 − 5,500 = 21,339.62259 − 5,500 = 15,839.62259 → 1,583,962 fen
    assert line1.e_fen == 1_583_962
    # F 7,500.00 ≤ E: A = min(15,839.62, 7,500 + 0.15 × 15,839.62 = 7,500 + 2,375.943 = 9,875.943) → 9,875.94
    assert line1.a_fen == 987_594
    # s 1: final = A × (1 − 0.05 × 0) = 9,875.94
    assert line1.final_fen == 987_594
    # P = 7,500.00 − 375.00 = 7,125.00; C = 9,875.94 − 7,125.00 = +2,750.94
    assert line1.paid_fen == 712_500
    assert line1.clearing_fen == 275_094
    # (F − E) ÷ E = (7,500.00 − 15,839.62) ÷ 15,839.62 < 0 → green
    assert line1.colour is Colour.GREEN
    # cmi = 130 ÷ 2 cases = 65
    assert line1.cmi == Decimal("65.0000")
    assert (line1.cases, line1.points, line1.n_fen, line1.f_fen, line1.withheld_fen, line1.score) == (
        2,
        Decimal("130.0000"),
        550_000,
        750_000,
        37_500,
        Decimal("1"),
    )

    # H2: E = 135 × 164.150943 − 8,000 = 22,160.377305 − 8,000 = 14,160.377305 → 1,416,038 fen
    assert line2.e_fen == 1_416_038
    # F − E = 17,000.00 − 14,160.38 = 2,839.62 > band 0.10 × 14,160.38 = 1,416.038
    # A = 14,160.38 + 0.5 × 1,416.038 = 14,160.38 + 708.019 = 14,868.399 → 14,868.40
    assert line2.a_fen == 1_486_840
    # s 0.8: final = 14,868.40 × (1 − 0.05 × 0.2) = 14,868.40 × 0.99 = 14,719.716 → 14,719.72
    assert line2.final_fen == 1_471_972
    # P = 17,000.00 − 850.00 = 16,150.00; C = 14,719.72 − 16,150.00 = −1,430.28
    assert line2.paid_fen == 1_615_000
    assert line2.clearing_fen == -143_028
    # (F − E) ÷ E = 2,839.62 ÷ 14,160.38 ≈ 0.2005 > 0.10 → red
    assert line2.colour is Colour.RED
    # cmi = 135 ÷ 1 = 135
    assert line2.cmi == Decimal("135.0000")


# --- 2. boundaries of a case's points ------------------------------------------------------------------


def test_r_exactly_at_the_low_ratio_is_normal_and_just_below_is_low() -> None:
    exactly = case_points(medfee_fen=400_000, group=GROUP, coefficient=Decimal("1.00"), parameters=P)
    # r = 4,000 ÷ 10,000 = 0.4, not < 0.4 → normal: the group's 100 points
    assert (exactly.points, exactly.deviation) == (Decimal("100.0000"), Deviation.NORMAL)
    below = case_points(medfee_fen=399_999, group=GROUP, coefficient=Decimal("1.00"), parameters=P)
    # r = 3,999.99 ÷ 10,000 = 0.399999 < 0.4 → 100 × 0.399999 = 39.9999
    assert (below.points, below.deviation, below.ratio) == (
        Decimal("39.9999"),
        Deviation.LOW,
        Decimal("0.399999"),
    )
    # with the 0.80 coefficient: 39.9999 × 0.8 = 31.99992 → 31.9999
    assert points_of(399_999, coefficient="0.80") == Decimal("31.9999")


def test_r_exactly_at_the_high_ratio_is_normal_and_just_above_is_high() -> None:
    exactly = case_points(medfee_fen=2_000_000, group=GROUP, coefficient=Decimal("1.00"), parameters=P)
    # r = 20,000 ÷ 10,000 = 2.0, not > 2.0 → normal: 100
    assert (exactly.points, exactly.deviation) == (Decimal("100.0000"), Deviation.NORMAL)
    above = case_points(medfee_fen=2_000_001, group=GROUP, coefficient=Decimal("1.00"), parameters=P)
    # r = 2.000001 > 2.0 → 100 × (2.000001 − 2.0 + 1) = 100 × 1.000001 = 100.0001
    assert (above.points, above.deviation, above.ratio) == (
        Decimal("100.0001"),
        Deviation.HIGH,
        Decimal("2.000001"),
    )


def test_points_are_rounded_half_up_at_the_fifth_decimal() -> None:
    # group of 1 point, avg_cost 1,000.00: medfee 123.45 → r = 0.12345 < 0.4 → 1 × 0.12345 = 0.12345
    # half-up → 0.1235 (half-even would give 0.1234)
    assert points_of(12_345, ONE_POINT) == Decimal("0.1235")
    # medfee 123.44 → 0.12344 → 0.1234
    assert points_of(12_344, ONE_POINT) == Decimal("0.1234")
    # medfee 123.55 → 0.12355 → 0.1236
    assert points_of(12_355, ONE_POINT) == Decimal("0.1236")
    # normal case with a coefficient of 7 decimals: 100 × 0.1234565 = 12.34565 → 12.3457
    assert points_of(1_000_000, coefficient="0.1234565") == Decimal("12.3457")
    # 100 × 0.1234564 = 12.34564 → 12.3456
    assert points_of(1_000_000, coefficient="0.1234564") == Decimal("12.3456")


def test_an_ungrouped_case_is_paid_per_yuan() -> None:
    ungrouped = case_points(medfee_fen=1_234_567, group=None, coefficient=Decimal("1.00"), parameters=P)
    # 12,345.67 yuan ÷ 100 yuan a point = 123.4567 points
    assert (ungrouped.points, ungrouped.deviation) == (Decimal("123.4567"), Deviation.UNGROUPED)
    assert (ungrouped.ratio, ungrouped.base, ungrouped.coefficient, ungrouped.special) == (
        None,
        None,
        None,
        False,
    )
    # 0.01 yuan ÷ 200 = 0.00005 → half-up 0.0001
    two_hundred = YearParameters(yuan_per_point=Decimal("200"))
    assert case_points(
        medfee_fen=1, group=None, coefficient=Decimal("1.00"), parameters=two_hundred
    ).points == Decimal("0.0001")


# --- 2. boundaries of the clearing ---------------------------------------------------------------------


def test_a_surplus_keeps_fifteen_percent_of_the_entitlement_at_most_up_to_it() -> None:
    # E 1,000.00, F 800.00: F + 0.15 × E = 800 + 150 = 950 < E → A = 950.00 (F + keep × E)
    assert allowed_fen(100_000, 80_000, P) == 95_000
    # E 1,000.00, F 900.00: 900 + 150 = 1,050 > E → A = E = 1,000.00
    assert allowed_fen(100_000, 90_000, P) == 100_000
    # exactly at the edge, F 850.00: 850 + 150 = 1,000 = E → 1,000.00
    assert allowed_fen(100_000, 85_000, P) == 100_000
    # F = E: no surplus → E
    assert allowed_fen(100_000, 100_000, P) == 100_000
    # rounding half-up: E 1,000.10, F 500.00: 500.00 + 0.15 × 1,000.10 = 500.00 + 150.015 = 650.015 → 650.02
    assert allowed_fen(100_010, 50_000, P) == 65_002


def test_an_overspend_is_shared_half_up_to_the_band() -> None:
    # E 1,000.00, F 1,050.00: F − E = 50 < band 100 → A = 1,000 + 0.5 × 50 = 1,025.00
    assert allowed_fen(100_000, 105_000, P) == 102_500
    # F 1,300.00: F − E = 300 > band 100 → A = 1,000 + 0.5 × 100 = 1,050.00
    assert allowed_fen(100_000, 130_000, P) == 105_000
    # exactly at the band, F 1,100.00: 1,000 + 0.5 × 100 = 1,050.00
    assert allowed_fen(100_000, 110_000, P) == 105_000
    # rounding half-up: E 1,000.01, F 1,000.02: 1,000.01 + 0.5 × 0.01 = 1,000.015 → 1,000.02
    assert allowed_fen(100_001, 100_002, P) == 100_002
    # outside the band, E 1,000.01, F 2,000.00: 1,000.01 + 0.5 × (0.10 × 1,000.01) = 1,000.01 + 50.0005
    # = 1,050.0105 → 1,050.01
    assert allowed_fen(100_001, 200_000, P) == 105_001


def test_no_entitlement_allows_nothing() -> None:
    assert allowed_fen(0, 50_000, P) == 0
    assert allowed_fen(-1, 0, P) == 0
    assert final_fen(0, Decimal("1"), P) == 0


def test_a_negative_entitlement_in_the_clearing_recovers_everything_paid() -> None:
    rich = InstitutionYear(H1, cases=1, points=Decimal("100"), n_fen=0, f_fen=100_000, withheld_fen=5_000)
    poor = InstitutionYear(
        H2, cases=1, points=Decimal("100"), n_fen=1_000_000, f_fen=20_000, withheld_fen=1_000
    )
    clearing = clear_year(100_000, P, [rich, poor])
    # PV = (1,000.00 + 10,000.00) ÷ 200 = 55.000000
    assert clearing.point_value == Decimal("55.000000")
    line1, line2 = clearing.lines
    # H1: E = 100 × 55 − 0 = 5,500.00; F 1,000.00 ≤ E → A = min(5,500, 1,000 + 825) = 1,825.00
    assert (line1.e_fen, line1.a_fen, line1.final_fen) == (550_000, 182_500, 182_500)
    # P = 1,000 − 50 = 950.00; C = 1,825 − 950 = 875.00
    assert (line1.paid_fen, line1.clearing_fen) == (95_000, 87_500)
    # H2: E = 100 × 55 − 10,000 = −4,500.00 ≤ 0 → A = 0, final 0
    assert (line2.e_fen, line2.a_fen, line2.final_fen) == (-450_000, 0, 0)
    # P = 200.00 − 10.00 = 190.00; C = 0 − 190.00 = −P
    assert (line2.paid_fen, line2.clearing_fen) == (19_000, -19_000)
    # no entitlement with money paid: red
    assert line2.colour is Colour.RED


def test_the_score_takes_up_to_q_of_the_allowed_amount() -> None:
    # s 0: final = 1,000.00 × (1 − 0.05 × 1) = 950.00
    assert final_fen(100_000, Decimal("0"), P) == 95_000
    # s 1: final = A
    assert final_fen(100_000, Decimal("1"), P) == 100_000
    # s 0.5: 123.45 × (1 − 0.05 × 0.5) = 123.45 × 0.975 = 120.36375 → 120.36
    assert final_fen(12_345, Decimal("0.5"), P) == 12_036
    # half-up: 0.10 × 0.95 = 0.095 yuan = 9.5 fen → 10; 0.30 × 0.95 = 28.5 fen → 29
    assert final_fen(10, Decimal("0"), P) == 10
    assert final_fen(30, Decimal("0"), P) == 29


def test_the_withheld_reserves_change_the_clearing() -> None:
    def line(withheld: int) -> ClearingLine:
        year = InstitutionYear(
            H1, cases=1, points=Decimal("100"), n_fen=0, f_fen=100_000, withheld_fen=withheld
        )
        return clear_year(100_000, P, [year]).lines[0]

    # one institution: PV = (1,000.00 + 0) ÷ 100 = 10.000000; E = 100 × 10 = 1,000.00 = F → A = 1,000.00
    without, with_reserve = line(0), line(5_000)
    assert (without.e_fen, without.a_fen, without.final_fen) == (100_000, 100_000, 100_000)
    # W 0: P = 1,000.00, C = 0
    assert (without.paid_fen, without.clearing_fen) == (100_000, 0)
    # W 50.00: P = 950.00, C = 1,000.00 − 950.00 = +50.00
    assert (with_reserve.paid_fen, with_reserve.clearing_fen) == (95_000, 5_000)


def test_no_points_give_no_point_value() -> None:
    assert point_value(3_000_000, 100_000, Decimal("0")) is None
    empty = InstitutionYear(H1, cases=0, points=Decimal("0"), n_fen=10_000, f_fen=20_000, withheld_fen=1_000)
    clearing = clear_year(3_000_000, P, [empty])
    assert clearing.point_value is None
    (line,) = clearing.lines
    # E 0 → A 0, final 0; P = 200.00 − 10.00 = 190.00, C = −190.00; no cases → no cmi
    assert (line.e_fen, line.a_fen, line.final_fen, line.paid_fen, line.clearing_fen) == (
        0,
        0,
        0,
        19_000,
        -19_000,
    )
    assert line.cmi is None
    assert clear_year(3_000_000, P, []).point_value is None


def test_the_point_value_is_rounded_half_up_at_six_decimals() -> None:
    # 0.01 yuan ÷ 32 points = 0.0003125 → 0.000313 (half-even would give 0.000312)
    assert point_value(1, 0, Decimal("32")) == Decimal("0.000313")
    # 0.01 ÷ 64 = 0.00015625 → 0.000156
    assert point_value(1, 0, Decimal("64")) == Decimal("0.000156")
    # provisional: (30,000.00 × 0.5 + 13,500.00) ÷ 265 = 28,500 ÷ 265 = 107.5471698… → 107.547170
    assert point_value(3_000_000, 1_350_000, Decimal("265"), Decimal("0.5")) == Decimal("107.547170")


def test_the_entitlement_is_rounded_half_up_to_the_fen() -> None:
    # 1 point × 0.005 yuan = 0.5 fen → 1
    assert entitlement_fen(Decimal("1"), Decimal("0.005"), 0) == 1
    # 1 × 0.004 = 0.4 fen → 0
    assert entitlement_fen(Decimal("1"), Decimal("0.004"), 0) == 0
    # 3 × 1.234565 = 3.703695 yuan = 370.3695 fen − 70 = 300.3695 → 300
    assert entitlement_fen(Decimal("3"), Decimal("1.234565"), 70) == 300


def test_the_month_quality_reserve_is_rounded_half_up_to_the_fen() -> None:
    assert quality_reserve_fen(12_345, P) == 617  # 0.05 × 12,345 = 617.25 → 617
    assert quality_reserve_fen(12_350, P) == 618  # 0.05 × 12,350 = 617.5 → 618
    assert quality_reserve_fen(12_330, P) == 617  # 0.05 × 12,330 = 616.5 → 617 (half-even would give 616)
    assert quality_reserve_fen(0, P) == 0


def test_the_three_colours_at_their_boundaries() -> None:
    assert colour(90_000, 100_000) is Colour.GREEN  # (900 − 1,000) ÷ 1,000 = −0.1
    assert colour(100_000, 100_000) is Colour.GREEN  # overrun exactly 0
    assert colour(100_001, 100_000) is Colour.YELLOW  # 0.00001
    assert colour(110_000, 100_000) is Colour.YELLOW  # exactly 0.10
    assert colour(110_001, 100_000) is Colour.RED  # 0.10001
    assert colour(0, 0) is Colour.GREEN  # no entitlement, nothing paid
    assert colour(1, 0) is Colour.RED  # no entitlement, money paid


# --- 3. DRG grouping ----------------------------------------------------------------------------------

PNEUMONIA_ADRGS = (
    Adrg("ES2", ("J18",), frozenset(), 1),  # medical, the lowest priority of all
    Adrg("EB1", ("J18",), frozenset({"32.2901"}), 5),  # surgical
    Adrg("EC1", ("J18",), frozenset({"33.2701"}), 3),  # surgical, a lower priority than EB1
    Adrg("FB2", ("I21",), frozenset({"36.0601"}), 1),  # surgical only
)
COMPLICATIONS = {"E11": CC, "E11.2": MCC, "N18": CC, "I50": MCC, "J18.0": CC}
ALL_GROUPS = [f"{adrg}{suffix}" for adrg in ("ES2", "EB1", "EC1", "FB2") for suffix in "135"]
DRG = DrgGrouper(PNEUMONIA_ADRGS, COMPLICATIONS, ALL_GROUPS)


def drg_case(main: str | None, *secondary: str, procedures: tuple[Procedure, ...] = ()) -> CaseCoding:
    return CaseCoding(main, tuple(secondary), procedures, from_list=True)


def test_drg_suffix_by_mcc_cc_or_none() -> None:
    mcc = DRG.group(drg_case("J18.9", "I50.0"))  # I50 is an MCC → 1
    assert (mcc.group_code, mcc.adrg, mcc.severity) == ("ES21", "ES2", "mcc")
    cc = DRG.group(drg_case("J18.9", "N18.3"))  # N18 is a CC → 3
    assert (cc.group_code, cc.severity) == ("ES23", "cc")
    none = DRG.group(drg_case("J18.9", "Z95.1"))  # not on the list → 5
    assert (none.group_code, none.severity) == ("ES25", "none")
    assert DRG.group(drg_case("J18.9")).group_code == "ES25"  # no secondary diagnosis → 5
    # the most severe of all the secondary diagnoses, whatever their order: CC then MCC → 1
    assert DRG.group(drg_case("J18.9", "N18.3", "I50.0")).group_code == "ES21"


def test_drg_a_secondary_diagnosis_equal_to_the_main_one_is_ignored() -> None:
    # J18.0 is a CC, but as a secondary diagnosis equal to the main one it does not count → 5
    assert DRG.group(drg_case("J18.0", "J18.0")).group_code == "ES25"
    assert DRG.group(drg_case("J18.0", " j18.0 ")).group_code == "ES25"  # equal once normalised
    # a different secondary J18.0 under main J18.9 is a CC → 3
    assert DRG.group(drg_case("J18.9", "J18.0")).group_code == "ES23"


def test_drg_complications_match_their_longest_prefix() -> None:
    # E11.201 → prefixes E11.201, E11.20, E11.2 (MCC) before E11 (CC) → 1
    assert DRG.group(drg_case("J18.9", "E11.201")).group_code == "ES21"
    # E11.900 → only E11 (CC) matches → 3
    assert DRG.group(drg_case("J18.9", "E11.900")).group_code == "ES23"


def test_drg_surgical_beats_medical_when_the_case_has_the_procedure() -> None:
    # the medical ES2 has priority 1 < 5, but the surgical EB1 whose procedure the case has wins
    surgical = DRG.group(drg_case("J18.9", procedures=(Procedure("32.2901", main=True),)))
    assert (surgical.group_code, surgical.adrg) == ("EB15", "EB1")
    # a procedure that is only a secondary one counts as well
    secondary = DRG.group(
        drg_case("J18.9", procedures=(Procedure("99.0401", main=True), Procedure("32.2901")))
    )
    assert secondary.group_code == "EB15"


def test_drg_medical_when_the_case_lacks_the_procedure() -> None:
    assert DRG.group(drg_case("J18.9", procedures=(Procedure("99.0401", main=True),))).group_code == "ES25"
    assert DRG.group(drg_case("J18.9")).adrg == "ES2"


def test_drg_lowest_priority_wins_among_two_surgical_adrgs() -> None:
    both = (Procedure("32.2901", main=True), Procedure("33.2701"))
    # EB1 priority 5, EC1 priority 3 → EC1, even though EB1's procedure is the main one
    grouped = DRG.group(drg_case("J18.9", "I50.0", procedures=both))
    assert (grouped.group_code, grouped.adrg, grouped.severity) == ("EC11", "EC1", "mcc")


def drg_with_groups(*groups: str) -> DrgGrouper:
    return DrgGrouper([Adrg("GB1", ("K35",), frozenset(), 1)], COMPLICATIONS, groups)


def test_drg_a_missing_suffix_falls_back_to_the_next_less_severe_one() -> None:
    mcc_case = drg_case("K35.8", "I50.0")  # wants GB11
    assert drg_with_groups("GB13").group(mcc_case).group_code == "GB13"
    assert drg_with_groups("GB15").group(mcc_case).group_code == "GB15"
    assert drg_with_groups("GB19").group(mcc_case).group_code == "GB19"
    assert drg_with_groups("GB15", "GB13").group(mcc_case).group_code == "GB13"  # the nearest one
    cc_case = drg_case("K35.8", "N18.3")  # wants GB13
    assert drg_with_groups("GB11", "GB15").group(cc_case).group_code == "GB15"  # never a more severe one
    none_case = drg_case("K35.8")  # wants GB15
    assert drg_with_groups("GB19").group(none_case).group_code == "GB19"
    only_more_severe = drg_with_groups("GB11", "GB13").group(none_case)
    assert (only_more_severe.group_code, only_more_severe.adrg) == (None, "GB1")


def test_drg_ungrouped_cases() -> None:
    no_adrg = DRG.group(drg_case("Z99.9"))  # no ADRG for the main diagnosis
    assert (no_adrg.group_code, no_adrg.adrg) == (None, None)
    # I21 maps only to the surgical FB2 and the case has not got 36.0601
    without = DRG.group(drg_case("I21.0", procedures=(Procedure("99.0401", main=True),)))
    assert without.group_code is None
    assert DRG.group(drg_case("I21.0")).group_code is None
    # with the procedure it is grouped
    assert DRG.group(drg_case("I21.0", procedures=(Procedure("36.0601", main=True),))).group_code == "FB25"
    assert DRG.group(drg_case(None, "I50.0")).group_code is None  # no main diagnosis
    assert DRG.group(drg_case("", "I50.0")).group_code is None


def test_drg_input_codes_are_normalised() -> None:
    grouped = DRG.group(drg_case(" j18.9 ", "i50.0"))
    assert grouped.group_code == "ES21"


# --- 4. DIP grouping ----------------------------------------------------------------------------------

DIP = DipGrouper(
    [
        ("K80", None, "K80-C"),  # conservative
        ("K80.2", None, "K80.2-C"),  # conservative, a longer prefix
        ("K80", "51.2301", "K80-51.23"),
        ("K80.2", "51.2201", "K80.2-51.22"),
        ("k80.20", "51.2200x001", "K80.20-51.22X"),  # lower case in the rows too
    ]
)


def test_dip_the_longest_prefix_with_one_of_the_cases_procedures_wins() -> None:
    # K80.201 matches K80.20, K80.2 and K80; only K80 has a row for 51.2301 → the procedure row, not a
    # conservative row of a longer prefix
    only = DIP.group(CaseCoding("K80.201", procedures=(Procedure("51.2301", main=True),)))
    assert only.group_code == "K80-51.23"
    # with 51.2201 as a secondary procedure, K80.2 (longer than K80) has a row for it → K80.2 wins
    longer = DIP.group(
        CaseCoding("K80.201", procedures=(Procedure("51.2301", main=True), Procedure("51.2201")))
    )
    assert longer.group_code == "K80.2-51.22"


def test_dip_at_the_same_prefix_the_main_procedure_is_preferred() -> None:
    dip = DipGrouper([("K80.2", "51.2201", "SECONDARY"), ("K80.2", "51.2301", "MAIN")])
    # the secondary procedure is listed first, and its row comes first: the main one still wins
    coding = CaseCoding("K80.201", procedures=(Procedure("51.2201"), Procedure("51.2301", main=True)))
    assert dip.group(coding).group_code == "MAIN"


def test_dip_a_case_without_procedures_takes_the_longest_conservative_row() -> None:
    assert DIP.group(CaseCoding("K80.201")).group_code == "K80.2-C"  # K80.20 has no conservative row
    assert DIP.group(CaseCoding("K80.901")).group_code == "K80-C"
    # only procedure rows for the prefix → ungrouped
    assert DipGrouper([("K80", "51.2301", "X")]).group(CaseCoding("K80.2")).group_code is None


def test_dip_a_case_with_procedures_matching_no_row_is_ungrouped() -> None:
    coding = CaseCoding("K80.201", procedures=(Procedure("99.0401", main=True),))
    assert DIP.group(coding).group_code is None  # not the conservative K80.2-C


def test_dip_lower_case_codes_are_matched() -> None:
    coding = CaseCoding("k80.201", procedures=(Procedure("51.2200x001", main=True),))
    assert DIP.group(coding).group_code == "K80.20-51.22X"
    assert DIP.group(CaseCoding("k80.201")).group_code == "K80.2-C"


def test_dip_ungrouped_without_a_main_diagnosis_or_a_row() -> None:
    assert DIP.group(CaseCoding(None)).group_code is None
    assert DIP.group(CaseCoding("J18.9")).group_code is None
    assert len(DIP) == 5


# --- 5. 特例单议 ---------------------------------------------------------------------------------------


def test_special_points_replace_the_computed_ones() -> None:
    special = case_points(
        medfee_fen=2_500_000,
        group=GROUP,
        coefficient=Decimal("0.90"),
        parameters=P,
        special_points=Decimal("88.123456"),
    )
    # computed would be 135 (high); the hand-set 88.123456 → 88.1235, the deviation kept
    assert (special.points, special.deviation, special.special) == (Decimal("88.1235"), Deviation.HIGH, True)
    assert (special.ratio, special.base, special.coefficient) == (
        Decimal("2.5"),
        Decimal("100"),
        Decimal("0.90"),
    )
    assert str(special.points) == "88.1235"
    ungrouped = case_points(
        medfee_fen=100_000,
        group=None,
        coefficient=Decimal("1"),
        parameters=P,
        special_points=Decimal("12.34565"),
    )
    # 12.34565 → 12.3457, still ungrouped
    assert (ungrouped.points, ungrouped.deviation, ungrouped.special) == (
        Decimal("12.3457"),
        Deviation.UNGROUPED,
        True,
    )


# --- 6. the institution's coefficient ------------------------------------------------------------------


def test_an_institutions_own_coefficient_wins_else_the_default_of_its_level() -> None:
    assert P.coefficient(1, Decimal("1.05")) == Decimal("1.05")
    assert P.coefficient(3, Decimal("0.85")) == Decimal("0.85")
    assert P.coefficient(3, None) == Decimal("1.00")
    assert P.coefficient(2, None) == Decimal("0.90")
    assert P.coefficient(1, None) == Decimal("0.80")


# --- 7. the share of the year ---------------------------------------------------------------------------


def test_the_share_of_a_leap_and_a_non_leap_year() -> None:
    assert (days_in_year(2024), days_in_year(2025), days_in_year(1900), days_in_year(2000)) == (
        366,
        365,
        365,
        366,
    )
    # 2024 is a leap year: 29 February is day 60 of 366, 1 March day 61
    assert year_share(2024, date(2024, 2, 29)) == Decimal(60) / Decimal(366)
    assert year_share(2024, date(2024, 3, 1)) == Decimal(61) / Decimal(366)
    assert year_share(2024, date(2024, 1, 1)) == Decimal(1) / Decimal(366)
    assert year_share(2024, date(2024, 12, 31)) == Decimal(1)
    # 2025 is not: 1 March is day 60 of 365
    assert year_share(2025, date(2025, 3, 1)) == Decimal(60) / Decimal(365)
    assert year_share(2025, date(2025, 12, 31)) == Decimal(1)


def test_the_share_before_and_after_the_year() -> None:
    assert year_share(2025, date(2024, 12, 31)) == Decimal(0)
    assert year_share(2025, date(2026, 1, 1)) == Decimal(1)
