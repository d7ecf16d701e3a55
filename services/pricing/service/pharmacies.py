"""The projection of designated pharmacies, fed by settlement.institution.changed."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from common.events.settlement import InstitutionChanged
from pricing.models import Pharmacy

PHARMACY = "pharmacy"


async def apply_institution_changed(
    session: AsyncSession, data: InstitutionChanged, *, event_time: datetime
) -> None:
    """Keep a pharmacy's name, region and status; hospitals are not ours. An older event changes nothing."""
    existing = await session.get(Pharmacy, data.fixmedins_code, with_for_update=True)
    if data.fixmedins_type != PHARMACY:
        if existing is not None and existing.changed_at <= event_time:
            await session.delete(existing)  # it became a hospital: no longer a pharmacy to monitor
        return
    values = {
        "fixmedins_name": data.fixmedins_name,
        "admdvs": data.admdvs,
        "status": data.status,
        "changed_at": event_time,
    }
    if existing is None:
        session.add(Pharmacy(fixmedins_code=data.fixmedins_code, **values))
    elif existing.changed_at <= event_time:
        await session.execute(
            sa.update(Pharmacy).where(Pharmacy.fixmedins_code == data.fixmedins_code).values(**values)
        )
    await session.flush()


async def find_pharmacy(session: AsyncSession, fixmedins_code: str) -> Pharmacy | None:
    return await session.get(Pharmacy, fixmedins_code)
