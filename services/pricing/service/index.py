"""The volume-price comparison index (量价比较指数) per pharmacy and month, and the ranking of a region."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from pricing.domain.index import above_warning_line, price_index
from pricing.models import Observation, Pharmacy


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


def _sums() -> Any:
    return sa.select(
        Observation.fixmedins_code,
        sa.func.count(),
        sa.func.coalesce(sa.func.sum(Observation.amount_fen), 0),
        sa.func.coalesce(sa.func.sum(Observation.reference_amount_fen), 0),
    )


async def pharmacy_index(
    session: AsyncSession, fixmedins_code: str, *, month: str, warning_line: Decimal
) -> PharmacyIndex:
    """One pharmacy's index over the sales of a month (zero lines: no index)."""
    pharmacy = await session.get(Pharmacy, fixmedins_code)
    row = (
        await session.execute(
            _sums()
            .where(Observation.fixmedins_code == fixmedins_code, Observation.month == month)
            .group_by(Observation.fixmedins_code)
        )
    ).one_or_none()
    lines, sales, reference = (row[1], int(row[2]), int(row[3])) if row else (0, 0, 0)
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
    session: AsyncSession, *, month: str, admdvs: str | None, warning_line: Decimal
) -> list[PharmacyIndex]:
    """Every pharmacy with sales in the month (of a region, if given), highest index first, then by code."""
    query = _sums().where(Observation.month == month).group_by(Observation.fixmedins_code)
    if admdvs:
        query = query.where(Observation.admdvs == admdvs)
    rows = (await session.execute(query)).all()
    codes = [row[0] for row in rows]
    names = {
        code: (name, region)
        for code, name, region in await session.execute(
            sa.select(Pharmacy.fixmedins_code, Pharmacy.fixmedins_name, Pharmacy.admdvs).where(
                Pharmacy.fixmedins_code.in_(codes)
            )
        )
    }
    found = []
    for code, lines, sales, reference in rows:
        index = price_index(int(sales), int(reference))
        name, region = names.get(code, (None, None))
        found.append(
            PharmacyIndex(
                fixmedins_code=code,
                fixmedins_name=name,
                admdvs=region or admdvs,
                month=month,
                lines=lines,
                sales_fen=int(sales),
                reference_fen=int(reference),
                index=index,
                above=above_warning_line(index, warning_line),
            )
        )
    found.sort(key=lambda item: (-(item.index or Decimal(0)), item.fixmedins_code))
    return found
