"""Reference prices (参考价): the list, and the recompute that brings every one up to the window's edge.

Sales keep each reference current as they arrive (observations.py); `recompute` moves every group's window to
the cutoff (the groups nobody sold since), reading only the prices that crossed it; `recompute(rebuild=True)`
rebuilds everything from the latest prices (a repair).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from pricing.models import ReferencePrice
from pricing.uow import PricingUnitOfWork


@dataclass(frozen=True, slots=True)
class RecomputeResult:
    aged_out: int
    references: int
    previous_references: int
    seconds: float


async def list_references(
    *, uow: PricingUnitOfWork, med_list_codg: str | None, admdvs: str | None, limit: int
) -> list[ReferencePrice]:
    """Reference prices by drug and region."""
    return await uow.references.list_references(med_list_codg=med_list_codg, admdvs=admdvs, limit=limit)


async def recompute(
    *, uow: PricingUnitOfWork, window_days: int, now: datetime, rebuild: bool = False
) -> RecomputeResult:
    """Bring every reference price up to the window's edge (on PostgreSQL, with the tables locked for the run)."""
    started = time.perf_counter()
    recount = await uow.references.recompute(
        cutoff=now - timedelta(days=window_days), now=now, rebuild=rebuild
    )
    return RecomputeResult(
        aged_out=recount.aged_out,
        references=recount.references,
        previous_references=recount.previous_references,
        seconds=round(time.perf_counter() - started, 3),
    )
