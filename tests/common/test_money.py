"""Money: yuan on the wire, fen inside, half-up rounding, never more than two places."""

from decimal import Decimal

import pytest
from pydantic import BaseModel, ValidationError

from common import money
from common.money import (
    MoneyError,
    Price,
    Quantity,
    Yuan,
    fen_half_up,
    fen_to_str,
    fen_to_yuan,
    parse_decimal,
    round_half_up,
    yuan_half_up_to_fen,
    yuan_to_fen,
)


@pytest.mark.parametrize(
    ("wire", "fen"),
    [
        ("12.34", 1234),
        ("0.01", 1),
        ("100", 10000),
        (100, 10000),
        (12.3, 1230),
        ("-5.5", -550),
        ("0", 0),
        (0.1, 10),
        ("9999999999.99", 999999999999),
    ],
)
def test_yuan_on_the_wire_becomes_exact_fen(wire: object, fen: int) -> None:
    assert yuan_to_fen(wire) == fen


@pytest.mark.parametrize(
    "wire",
    [
        "12.345",
        12.345,
        "0.001",
        "1e3",
        "abc",
        "",
        " ",
        "NaN",
        "Infinity",
        True,
        None,
        [],
        "12,34",
        "10000000000.00",
    ],
)
def test_an_amount_that_is_not_two_decimal_money_is_refused(wire: object) -> None:
    with pytest.raises(MoneyError):
        yuan_to_fen(wire)


def test_fen_reads_back_as_two_place_yuan() -> None:
    assert fen_to_yuan(1234) == Decimal("12.34")
    assert fen_to_str(5) == "0.05"
    assert fen_to_str(-150) == "-1.50"
    assert fen_to_str(0) == "0.00"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2.345", "2.35"),
        ("2.344", "2.34"),
        ("2.355", "2.36"),
        ("-2.345", "-2.35"),
        ("0.005", "0.01"),
        ("1", "1.00"),
    ],
)
def test_rounding_is_half_up_not_bankers(value: str, expected: str) -> None:
    assert round_half_up(Decimal(value)) == Decimal(expected)


def test_computed_fen_amounts_round_half_up_to_whole_fen() -> None:
    # 1,005 fen at 50 % is 502.5 fen: half-up gives 503, banker's rounding would give 502.
    assert fen_half_up(Decimal(1005) * Decimal("0.5")) == 503
    assert fen_half_up(Decimal("502.49")) == 502
    assert yuan_half_up_to_fen(Decimal("10.005")) == 1001


class Line(BaseModel):
    amount: Yuan
    pric: Price
    cnt: Quantity


def test_pydantic_money_types_validate_and_serialise_as_exact_strings() -> None:
    line = Line.model_validate({"amount": 12.5, "pric": "3.123456", "cnt": "2.5"})
    assert line.amount == Decimal("12.5")
    assert line.model_dump(mode="json") == {"amount": "12.50", "pric": "3.123456", "cnt": "2.5"}


@pytest.mark.parametrize(
    ("field", "value"),
    [("amount", "1.001"), ("pric", "1.1234567"), ("cnt", "1.00001"), ("cnt", "1000000"), ("amount", "x")],
)
def test_pydantic_money_types_refuse_too_many_places_or_absurd_values(field: str, value: str) -> None:
    body = {"amount": "1", "pric": "1", "cnt": "1", field: value}
    with pytest.raises(ValidationError):
        Line.model_validate(body)


def test_a_text_parsed_before_gives_the_same_value_and_the_same_refusals() -> None:
    money._PARSED.clear()
    first = parse_decimal("12.345", places=6, what="price")
    assert parse_decimal("12.345", places=6, what="price") is first  # the kept value
    assert str(first) == "12.345"
    # Kept per places and limit: the same text is still refused where it does not fit.
    with pytest.raises(MoneyError, match="more than 2 decimal places"):
        parse_decimal("12.345", places=2)
    with pytest.raises(MoneyError, match="out of range"):
        parse_decimal("12.345", places=6, limit=Decimal("10"))
    # A refusal is not kept: asked again, it is refused again with its own field's name.
    for _ in range(2):
        with pytest.raises(MoneyError, match=r"^quantity must be a plain decimal"):
            parse_decimal("1e3", places=4, what="quantity")
    # Texts differing only by spaces or places are distinct keys with equal values.
    assert parse_decimal(" 7.50 ", places=2) == parse_decimal("7.5", places=2) == Decimal("7.5")
    # Bounded: past the limit the kept texts are dropped and parsing goes on.
    for n in range(money._PARSED_MAX + 10):
        assert parse_decimal(f"{n}.01", places=2) == Decimal(n) + Decimal("0.01")
    assert len(money._PARSED) <= money._PARSED_MAX
