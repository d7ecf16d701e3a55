"""Money: yuan on the wire, integer fen inside, half-up rounding, at most two decimals."""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema

FEN_PER_YUAN = 100
CENT = Decimal("0.01")
# Beyond ten billion yuan a single amount is a typo or an attack, not a medical bill.
MAX_YUAN = Decimal("9999999999.99")

_DECIMAL_TEXT = re.compile(r"^[+-]?\d{1,16}(\.\d{1,12})?$")


# Wire texts parsed before, by (text, places, limit): a claim's prices, counts and amounts repeat across
# claims, and a Decimal is immutable, so the same text gives the same value without the pattern and the
# checks again. Only successes are kept (a refusal's message names the field); bounded, cleared when full.
_PARSED: dict[tuple[str, int, Decimal], Decimal] = {}
_PARSED_MAX = 16384


class MoneyError(ValueError):
    """An amount that cannot be money: not a number, too many places, too large."""


def parse_decimal(value: Any, *, places: int, what: str = "amount", limit: Decimal = MAX_YUAN) -> Decimal:
    """Parse a wire value (string, int or float from JSON) into a Decimal with at most `places` decimals."""
    if type(value) is str:
        known = _PARSED.get((value, places, limit))
        if known is not None:
            return known
        number = _parse_text(value.strip(), places=places, what=what, limit=limit)
        if len(_PARSED) >= _PARSED_MAX:
            _PARSED.clear()
        _PARSED[(value, places, limit)] = number
        return number
    if isinstance(value, bool) or value is None:
        raise MoneyError(f"{what} must be a decimal number")
    if type(value) is Decimal and value.is_finite():
        # Already a number (a model built from values parsed before): only the places and the range to check.
        exponent = value.as_tuple().exponent
        if isinstance(exponent, int) and -places <= exponent <= 0 and abs(value) <= limit:
            return value
    if isinstance(value, Decimal):
        text = format(value, "f")
    elif isinstance(value, int):
        text = str(value)
    elif isinstance(value, float):
        # JSON numbers arrive as floats; repr gives the shortest text that reads back as the same float,
        # which is the text the caller wrote for any amount with a sane number of digits.
        text = repr(value)
    elif isinstance(value, str):
        text = value.strip()
    else:
        raise MoneyError(f"{what} must be a decimal number")
    return _parse_text(text, places=places, what=what, limit=limit)


def _parse_text(text: str, *, places: int, what: str, limit: Decimal) -> Decimal:
    if not _DECIMAL_TEXT.match(text):
        raise MoneyError(f"{what} must be a plain decimal number such as 12.30, got {text[:40]!r}")
    try:
        number = Decimal(text)
    except InvalidOperation as exc:  # pragma: no cover - the pattern already guarantees a number
        raise MoneyError(f"{what} is not a number") from exc
    exponent = number.as_tuple().exponent
    assert isinstance(exponent, int)
    if -exponent > places:
        raise MoneyError(f"{what} has more than {places} decimal places: {text}")
    if abs(number) > limit:
        raise MoneyError(f"{what} is out of range (at most {limit})")
    return number


def round_half_up(value: Decimal, places: int = 2) -> Decimal:
    """Round to `places` decimals, halves away from zero (四舍五入)."""
    return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def yuan_to_fen(value: Any) -> int:
    """Yuan (string, int, float from JSON or Decimal, at most 2 places) to integer fen."""
    return int(parse_decimal(value, places=2) * FEN_PER_YUAN)


def fen_to_yuan(fen: int) -> Decimal:
    """Integer fen to yuan with exactly two places."""
    return (Decimal(fen) / FEN_PER_YUAN).quantize(CENT)


def fen_to_str(fen: int) -> str:
    """Integer fen as the wire string, e.g. 1234 -> '12.34'."""
    return f"{fen_to_yuan(fen):.2f}"


def fen_half_up(value: Decimal) -> int:
    """A computed amount in fen (e.g. fen x ratio) rounded half-up to whole fen."""
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def yuan_half_up_to_fen(value: Decimal) -> int:
    """A computed amount in yuan rounded half-up to 0.01 and expressed in fen."""
    return int(round_half_up(value, 2) * FEN_PER_YUAN)


def _money_validator(places: int, what: str, limit: Decimal) -> BeforeValidator:
    def validate(value: Any) -> Decimal:
        return parse_decimal(value, places=places, what=what, limit=limit)

    return BeforeValidator(validate)


def _decimal_schema(places: int, example: str) -> WithJsonSchema:
    return WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": rf"^-?\d+(\.\d{{1,{places}}})?$"},
                {"type": "number"},
            ],
            "examples": [example],
        }
    )


def _as_text(places: int) -> PlainSerializer:
    return PlainSerializer(lambda d: f"{d:.{places}f}", return_type=str, when_used="json")


Yuan = Annotated[
    Decimal,
    _money_validator(2, "amount", MAX_YUAN),
    _decimal_schema(2, "128.50"),
    _as_text(2),
]
"""An amount in yuan with at most 2 decimals (string or number on the wire, string in responses)."""

Price = Annotated[
    Decimal,
    _money_validator(6, "price", MAX_YUAN),
    _decimal_schema(6, "12.345600"),
    PlainSerializer(lambda d: format(d, "f"), return_type=str, when_used="json"),
]
"""A unit price (pric) with at most 6 decimals."""

Quantity = Annotated[
    Decimal,
    _money_validator(4, "quantity", Decimal("999999.9999")),
    _decimal_schema(4, "2"),
    PlainSerializer(lambda d: format(d, "f"), return_type=str, when_used="json"),
]
"""A quantity (cnt) with at most 4 decimals."""
