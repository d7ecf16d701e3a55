"""The reference price of a drug in a region (参考价): mode of the pharmacies' latest prices, else median.

The inputs are the latest price of each pharmacy in the region whose latest sale lies in the window, as a
table price -> how many pharmacies ask it (the table the service keeps up to date on every sale).

- Mode (众数价): the price the most pharmacies ask, when at least two ask the same price. When several
  prices tie for the most pharmacies, the lowest of them (the public is better served by the lower one,
  and the choice must not depend on the order rows come back in).
- Median (中位数), when no price repeats: the middle price; with an even number of pharmacies the mean of
  the two middle prices, rounded half-up to the fen (0.01 yuan).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from pricing.domain.money import round_micro_to_fen


class Basis(StrEnum):
    MODE = "mode"  # 众数价
    MEDIAN = "median"  # 中位数


@dataclass(frozen=True, slots=True)
class Reference:
    price_micro: int
    basis: Basis
    pharmacies: int  # how many pharmacies' latest prices it is drawn from


def reference_from_counts(counts: Mapping[int, int]) -> Reference | None:
    """The reference of a price table (price in millionths -> pharmacies asking it); None if it is empty."""
    live = {price: count for price, count in counts.items() if count > 0}
    if not live:
        return None
    pharmacies = sum(live.values())
    most = max(live.values())
    if most > 1:
        return Reference(min(price for price, count in live.items() if count == most), Basis.MODE, pharmacies)
    ordered = sorted(live)  # no price repeats: each price is one pharmacy
    middle = len(ordered) // 2
    if len(ordered) % 2 == 1:
        return Reference(ordered[middle], Basis.MEDIAN, pharmacies)
    mean = Decimal(ordered[middle - 1] + ordered[middle]) / 2
    return Reference(round_micro_to_fen(mean), Basis.MEDIAN, pharmacies)


def reference_price(prices: Iterable[int]) -> Reference | None:
    """The reference of a list of latest prices (one per pharmacy), in millionths of a yuan."""
    return reference_from_counts(Counter(prices))
