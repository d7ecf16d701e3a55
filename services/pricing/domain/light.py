"""The light of a price (红黄绿灯): how far it lies above the reference, and above the procurement price.

difference ratio (差值比) = price ÷ reference − 1. Green while the ratio is at most the yellow threshold
(default 0.15: exactly 15 % is still green), yellow while at most the red threshold (default 0.30), red
above; and red whenever the price is above the procurement factor (default 1.5) × the centralised
procurement price (集采中选价), whatever the reference. Comparisons are exact (no division, no rounding):
price ≤ reference × (1 + threshold).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum


class Light(StrEnum):
    GREEN = "green"
    YELLOW = "yellow"
    RED = "red"


@dataclass(frozen=True, slots=True)
class Thresholds:
    yellow: Decimal = Decimal("0.15")  # ratio above this is yellow
    red: Decimal = Decimal("0.30")  # ratio above this is red
    procurement_factor: Decimal = Decimal("1.5")  # price above factor × procurement price is red


@dataclass(frozen=True, slots=True)
class Verdict:
    light: Light
    diff_ratio: Decimal  # price ÷ reference − 1, half-up to 4 places (for display only)
    over_procurement: bool  # red because of the procurement price


def difference_ratio(price_micro: int, reference_micro: int) -> Decimal:
    """price ÷ reference − 1, rounded half-up to 4 places (0.1501 is 15.01 %)."""
    return (Decimal(price_micro) / Decimal(reference_micro) - 1).quantize(
        Decimal("0.0001"), rounding=ROUND_HALF_UP
    )


def light_of(
    price_micro: int, reference_micro: int, procurement_micro: int | None, thresholds: Thresholds
) -> Verdict:
    """The light of one price against the reference and the procurement price."""
    price, reference = Decimal(price_micro), Decimal(reference_micro)
    over_procurement = procurement_micro is not None and price > thresholds.procurement_factor * Decimal(
        procurement_micro
    )
    if over_procurement or price > reference * (1 + thresholds.red):
        light = Light.RED
    elif price > reference * (1 + thresholds.yellow):
        light = Light.YELLOW
    else:
        light = Light.GREEN
    return Verdict(light, difference_ratio(price_micro, reference_micro), over_procurement)
