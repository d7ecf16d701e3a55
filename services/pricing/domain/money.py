"""Unit prices as exact integers: millionths of a yuan (prices carry up to 6 places on the wire)."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

MICRO_PER_YUAN = 1_000_000
MICRO_PER_FEN = 10_000
_MICRO = Decimal(MICRO_PER_YUAN)


def price_to_micro(price: Decimal) -> int:
    """A wire price (at most 6 places) as integer millionths of a yuan."""
    micro = price * _MICRO
    if micro != micro.to_integral_value():
        raise ValueError(f"price {price} has more than 6 decimal places")
    return int(micro)


def micro_to_price(micro: int) -> Decimal:
    """Millionths of a yuan back to yuan: two places for whole fen (12.50), else every place needed."""
    if micro % MICRO_PER_FEN == 0:
        return (Decimal(micro) / _MICRO).quantize(Decimal("0.01"))
    return (Decimal(micro) / _MICRO).normalize()


def round_micro_to_fen(micro: Decimal) -> int:
    """A computed price in millionths rounded half-up to a whole fen, still in millionths."""
    fen = (micro / MICRO_PER_FEN).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    return int(fen) * MICRO_PER_FEN


def line_amount_fen(price_micro: int, cnt: Decimal) -> int:
    """price × cnt in fen, rounded half-up at this step (DESIGN §3)."""
    fen = (Decimal(price_micro) * cnt / MICRO_PER_FEN).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    return int(fen)
