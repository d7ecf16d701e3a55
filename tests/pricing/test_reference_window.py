"""The incremental reference prices agree with a computation from scratch, whatever the order of events.

A seeded random run of sales (some late, some older than the window), clock moves, window changes and
periodic recomputes; after every step each group's reference and price table equal what the latest prices
inside the window give, computed here independently of the service's bookkeeping.
"""

from __future__ import annotations

import random
from collections import Counter
from datetime import datetime, timedelta
from decimal import Decimal

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI

from common.clock import FrozenClock
from pricing.domain.money import micro_to_price, price_to_micro
from pricing.domain.reference import reference_from_counts
from pricing.models import PriceCount, PriceWindow
from tests.pricing.conftest import put_drug, sale, seed_pharmacies, upload

DRUGS = ("XA0000000000000001", "XA0000000000000002", "XA0000000000000003")
PHARMACIES = tuple(f"Q{n:03d}" for n in range(8))
REGIONS = {code: ("420100" if n % 3 else "420200") for n, code in enumerate(PHARMACIES)}
PRICES = ("9.00", "9.50", "10.00", "10.00", "11.00", "12.30")


def expected(
    latest: dict[tuple[str, str], tuple[str, datetime]], starts: dict[tuple[str, str], datetime]
) -> tuple[dict[tuple[str, str], tuple[str, str, int]], dict[tuple[str, str, int], int]]:
    """References and price tables from the latest prices observed since their group's window start."""
    tables: dict[tuple[str, str], Counter[int]] = {}
    for (code, drug), (price, observed_at) in latest.items():
        if observed_at >= starts[(drug, REGIONS[code])]:
            tables.setdefault((drug, REGIONS[code]), Counter())[price_to_micro(Decimal(price))] += 1
    references = {}
    counts = {}
    for (drug, admdvs), table in tables.items():
        reference = reference_from_counts(table)
        assert reference is not None
        references[(drug, admdvs)] = (
            str(micro_to_price(reference.price_micro)),
            reference.basis.value,
            reference.pharmacies,
        )
        counts.update({(drug, admdvs, price): n for price, n in table.items()})
    return references, counts


async def observed(
    api: httpx.AsyncClient, app: FastAPI
) -> tuple[dict[tuple[str, str], tuple[str, str, int]], dict[tuple[str, str, int], int]]:
    references = {}
    for drug in DRUGS:
        for row in (await api.get("/reference-prices", params={"med_list_codg": drug})).json():
            references[(drug, row["admdvs"])] = (row["reference_pric"], row["basis"], row["pharmacies"])
    async with app.state.db.transaction(readonly=True) as session:
        rows = (
            await session.execute(
                sa.select(
                    PriceCount.med_list_codg, PriceCount.admdvs, PriceCount.price_micro, PriceCount.pharmacies
                )
            )
        ).all()
    return references, {(drug, admdvs, price): n for drug, admdvs, price, n in rows}


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_incremental_references_equal_a_computation_from_scratch(
    api: httpx.AsyncClient, pricing_app: FastAPI, clock: FrozenClock, seed: int
) -> None:
    rng = random.Random(seed)  # noqa: S311 - a reproducible sequence, not a secret
    for admdvs in sorted(set(REGIONS.values())):
        await seed_pharmacies(
            pricing_app.state.db, *(c for c in PHARMACIES if REGIONS[c] == admdvs), admdvs=admdvs
        )
    for drug in DRUGS:
        await put_drug(api, drug)
    window_days = 30
    latest: dict[tuple[str, str], tuple[str, datetime]] = {}
    # Where each group's window starts: moved to the cutoff by a sale of the drug in the region, and for
    # every group by a recompute. A clock move or a window change alone changes nothing until then.
    starts: dict[tuple[str, str], datetime] = {}

    def cutoff() -> datetime:
        return clock.now() - timedelta(days=window_days)

    async def recompute(rebuild: bool) -> None:
        response = await api.post("/reference-prices/recompute", params={"rebuild": str(rebuild).lower()})
        assert response.status_code == 200, response.text
        starts.update(dict.fromkeys(starts, cutoff()))

    sale_no = 0
    for step in range(60):
        roll = rng.random()
        if roll < 0.55:
            code, drug = rng.choice(PHARMACIES), rng.choice(DRUGS)
            # Mostly now, sometimes late (an older sale arriving after a newer one), sometimes outside the window.
            at = clock.now() - timedelta(hours=rng.choice((0, 0, 0, 5, 24 * 20, 24 * 40)))
            price = rng.choice(PRICES)
            sale_no += 1
            answer = await upload(api, code, sale(f"s{sale_no}", drug, price, at=at))
            assert answer["accepted"] == 1, answer
            starts[(drug, REGIONS[code])] = cutoff()
            if (code, drug) not in latest or at >= latest[(code, drug)][1]:
                latest[(code, drug)] = (price, at)
        elif roll < 0.75:
            clock.advance(days=rng.choice((1, 3, 7, 12)))
        elif roll < 0.9:
            await recompute(rebuild=rng.random() < 0.3)
        else:
            window_days = rng.choice((7, 14, 30, 60))
            current = (await api.get("/settings")).json()
            body = {
                k: current[k]
                for k in ("yellow_threshold", "red_threshold", "procurement_factor", "index_warning_line")
            }
            response = await api.put("/settings", json=body | {"window_days": window_days})
            assert response.status_code == 200, response.text
        got = await observed(api, pricing_app)
        assert got == expected(latest, starts), f"step {step}"
    await recompute(rebuild=False)
    assert await observed(api, pricing_app) == expected(latest, starts)
    async with pricing_app.state.db.transaction(readonly=True) as session:
        windows = set((await session.scalars(sa.select(PriceWindow.counted_from))).all())
    assert windows == {cutoff()}
