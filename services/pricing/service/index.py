"""The volume-price comparison index (量价比较指数) per pharmacy and month, and the ranking of a region."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from pricing.domain.index import above_warning_line, price_index
from pricing.uow import PricingUnitOfWork


@dataclass(frozen=True, slots=True)
class PharmacyIndex:
    fixmedins_code: str
    fixmedins_name: str | None
    admdvs: str | None
    month: str
    lines: int
    sales_fen: int
    reference_fen: int
    index: Decimal | None
    above: bool


async def pharmacy_index(
    *, uow: PricingUnitOfWork, fixmedins_code: str, month: str, warning_line: Decimal
) -> PharmacyIndex:
    """One pharmacy's index over the sales of a month (zero lines: no index)."""
    pharmacy = await uow.pharmacies.get(fixmedins_code)
    sums = await uow.observations.month_of(fixmedins_code, month)
    lines, sales, reference = (sums.lines, sums.sales_fen, sums.reference_fen) if sums else (0, 0, 0)
    index = price_index(sales, reference)
    return PharmacyIndex(
        fixmedins_code=fixmedins_code,
        fixmedins_name=pharmacy.fixmedins_name if pharmacy else None,
        admdvs=pharmacy.admdvs if pharmacy else None,
        month=month,
        lines=lines,
        sales_fen=sales,
        reference_fen=reference,
        index=index,
        above=above_warning_line(index, warning_line),
    )


async def ranking(
    *, uow: PricingUnitOfWork, month: str, admdvs: str | None, warning_line: Decimal
) -> list[PharmacyIndex]:
    """Every pharmacy with sales in the month (of a region, if given), highest index first, then by code."""
    sums = await uow.observations.month_by_pharmacy(month, admdvs=admdvs)
    names = await uow.pharmacies.names_of([item.fixmedins_code for item in sums])
    found = []
    for item in sums:
        index = price_index(item.sales_fen, item.reference_fen)
        name, region = names.get(item.fixmedins_code, (None, None))
        found.append(
            PharmacyIndex(
                fixmedins_code=item.fixmedins_code,
                fixmedins_name=name,
                admdvs=region or admdvs,
                month=month,
                lines=item.lines,
                sales_fen=item.sales_fen,
                reference_fen=item.reference_fen,
                index=index,
                above=above_warning_line(index, warning_line),
            )
        )
    found.sort(key=lambda item: (-(item.index or Decimal(0)), item.fixmedins_code))
    return found
