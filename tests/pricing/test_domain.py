"""The pure rules with literals: reference price (mode, median, ties), lights at each boundary, the index."""

from __future__ import annotations

from decimal import Decimal

from pricing.domain.index import above_warning_line, price_index
from pricing.domain.light import Light, Thresholds, light_of
from pricing.domain.money import line_amount_fen, micro_to_price, price_to_micro
from pricing.domain.reference import Basis, Reference, reference_price


def y(text: str) -> int:
    return price_to_micro(Decimal(text))


def test_the_most_asked_price_is_the_reference_when_a_price_repeats() -> None:
    prices = [y("10.00"), y("10.00"), y("12.00"), y("9.00"), y("30.00")]
    assert reference_price(prices) == Reference(y("10.00"), Basis.MODE, 5)


def test_with_no_repeated_price_the_median_is_the_reference() -> None:
    assert reference_price([y("12.00"), y("9.00"), y("30.00")]) == Reference(y("12.00"), Basis.MEDIAN, 3)


def test_an_even_median_is_the_mean_of_the_two_middle_prices_half_up_to_the_fen() -> None:
    # middle 10.01 and 10.02: mean 10.015 -> 10.02 (half-up)
    assert reference_price([y("9.00"), y("10.01"), y("10.02"), y("11.00")]) == Reference(
        y("10.02"), Basis.MEDIAN, 4
    )
    assert reference_price([y("10.00"), y("11.00")]) == Reference(y("10.50"), Basis.MEDIAN, 2)


def test_several_modes_give_the_lowest() -> None:
    prices = [y("12.00"), y("12.00"), y("10.00"), y("10.00"), y("11.00")]
    assert reference_price(prices) == Reference(y("10.00"), Basis.MODE, 5)


def test_a_single_pharmacy_is_its_own_reference_and_none_is_no_reference() -> None:
    assert reference_price([y("8.88")]) == Reference(y("8.88"), Basis.MEDIAN, 1)
    assert reference_price([]) is None


def test_the_light_boundaries_are_exact() -> None:
    t = Thresholds()
    ref = y("10.00")
    assert light_of(y("11.50"), ref, None, t).light is Light.GREEN  # exactly 15 %
    assert light_of(y("11.501"), ref, None, t).light is Light.YELLOW  # 15.01 %
    assert light_of(y("13.00"), ref, None, t).light is Light.YELLOW  # exactly 30 %
    assert light_of(y("13.001"), ref, None, t).light is Light.RED  # 30.01 %
    assert light_of(y("9.00"), ref, None, t).light is Light.GREEN  # below the reference
    assert str(light_of(y("11.501"), ref, None, t).diff_ratio) == "0.1501"
    assert str(light_of(y("9.00"), ref, None, t).diff_ratio) == "-0.1000"


def test_above_one_and_a_half_times_the_procurement_price_is_red_whatever_the_reference() -> None:
    t = Thresholds()
    ref, procurement = y("10.00"), y("7.00")  # 1.5 x 7.00 = 10.50
    on_the_line = light_of(y("10.50"), ref, procurement, t)
    assert (on_the_line.light, on_the_line.over_procurement) == (Light.GREEN, False)
    above = light_of(y("10.500001"), ref, procurement, t)
    assert (above.light, above.over_procurement) == (Light.RED, True)


def test_thresholds_are_configurable() -> None:
    t = Thresholds(yellow=Decimal("0.05"), red=Decimal("0.10"), procurement_factor=Decimal("2"))
    assert light_of(y("10.60"), y("10.00"), None, t).light is Light.YELLOW
    assert light_of(y("11.01"), y("10.00"), None, t).light is Light.RED
    assert light_of(y("14.00"), y("10.00"), y("7.00"), t).over_procurement is False


def test_the_index_of_a_hand_computed_basket() -> None:
    # 2 x 11.00 + 3 x 5.50 + 1 x 20.00 = 58.50 against 2 x 10.00 + 3 x 5.00 + 1 x 20.00 = 55.00
    sales = line_amount_fen(y("11.00"), Decimal(2)) + line_amount_fen(y("5.50"), Decimal(3)) + 2000
    reference = line_amount_fen(y("10.00"), Decimal(2)) + line_amount_fen(y("5.00"), Decimal(3)) + 2000
    assert (sales, reference) == (5850, 5500)
    assert price_index(sales, reference) == Decimal("1.0636")  # 58.50 / 55.00 = 1.063636...
    assert above_warning_line(Decimal("1.1000"), Decimal("1.10")) is False
    assert above_warning_line(Decimal("1.1001"), Decimal("1.10")) is True
    assert price_index(0, 0) is None


def test_prices_are_exact_integers_of_millionths() -> None:
    assert price_to_micro(Decimal("0.123456")) == 123456
    assert micro_to_price(12_500_000) == Decimal("12.50")
    assert micro_to_price(123456) == Decimal("0.123456")
    assert line_amount_fen(y("0.333333"), Decimal("3")) == 100  # 0.999999 -> 1.00
