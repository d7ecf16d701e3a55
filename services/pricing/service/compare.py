"""The public comparison (药价比价): a drug's latest price at each pharmacy of a region, cheapest first."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from pricing.domain.light import Light, light_of
from pricing.models import Drug
from pricing.service import settings as monitoring
from pricing.uow import PricingUnitOfWork


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


async def compare(
    *, uow: PricingUnitOfWork, med_list_codg: str, admdvs: str, now: datetime, limit: int
) -> Comparison:
    """Pharmacies whose latest price lies in the window, cheapest first (then by code), with their light."""
    drug = await uow.drugs.must_get(med_list_codg)
    settings = await monitoring.current(uow=uow)
    reference = await uow.references.of_group(drug.med_list_codg, admdvs)
    cutoff = now - timedelta(days=settings.window_days)
    offers = []
    for found in await uow.references.offers(drug.med_list_codg, admdvs, cutoff=cutoff, limit=limit):
        base = reference.price_micro if reference is not None else found.price_micro
        verdict = light_of(found.price_micro, base, drug.procurement_price_micro, settings.thresholds)
        offers.append(
            Offer(
                found.fixmedins_code,
                found.fixmedins_name,
                found.price_micro,
                verdict.light,
                found.observed_at,
            )
        )
    return Comparison(drug, admdvs, reference.price_micro if reference is not None else None, offers)
