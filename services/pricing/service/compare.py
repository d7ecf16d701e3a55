"""The public comparison (药价比价): a drug's latest price at each pharmacy of a region, cheapest first."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from pricing.domain.light import Light, light_of
from pricing.models import Drug, LatestPrice, Pharmacy, ReferencePrice
from pricing.service import settings as monitoring


@dataclass(frozen=True, slots=True)
class Offer:
    fixmedins_code: str
    fixmedins_name: str
    price_micro: int
    light: Light
    observed_at: datetime


@dataclass(frozen=True, slots=True)
class Comparison:
    drug: Drug
    admdvs: str
    reference_micro: int | None
    offers: list[Offer]


async def compare(session: AsyncSession, drug: Drug, admdvs: str, *, now: datetime, limit: int) -> Comparison:
    """Pharmacies whose latest price lies in the window, cheapest first (then by code), with their light."""
    settings = await monitoring.current(session)
    reference = await session.get(ReferencePrice, (drug.med_list_codg, admdvs))
    cutoff = now - timedelta(days=settings.window_days)
    rows = await session.execute(
        sa.select(
            LatestPrice.fixmedins_code,
            Pharmacy.fixmedins_name,
            LatestPrice.price_micro,
            LatestPrice.observed_at,
        )
        .join(Pharmacy, Pharmacy.fixmedins_code == LatestPrice.fixmedins_code)
        .where(
            LatestPrice.med_list_codg == drug.med_list_codg,
            LatestPrice.admdvs == admdvs,
            LatestPrice.observed_at >= cutoff,
        )
        .order_by(LatestPrice.price_micro, LatestPrice.fixmedins_code)
        .limit(limit)
    )
    offers = []
    for code, name, price, observed_at in rows:
        base = reference.price_micro if reference is not None else price
        verdict = light_of(price, base, drug.procurement_price_micro, settings.thresholds)
        offers.append(Offer(code, name, price, verdict.light, observed_at))
    return Comparison(drug, admdvs, reference.price_micro if reference is not None else None, offers)
