"""The volume-price comparison index (量价比较指数) of a pharmacy over a period.

index = Σ(price × qty) ÷ Σ(reference × qty) over its sales, each product already rounded half-up to the fen
when the sale was recorded, the reference being the one in force at that sale; the index is rounded
half-up to 4 places. Above the warning line (default 1.10) the pharmacy is listed for an interview (约谈).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal


def price_index(sales_fen: int, reference_fen: int) -> Decimal | None:
    """The index of the sums in fen; None when there is nothing to compare against."""
    if reference_fen <= 0:
        return None
    return (Decimal(sales_fen) / Decimal(reference_fen)).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)


def above_warning_line(index: Decimal | None, warning_line: Decimal) -> bool:
    """Strictly above the line is listed; exactly on it is not."""
    return index is not None and index > warning_line
