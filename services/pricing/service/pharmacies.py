"""The projection of designated pharmacies, fed by settlement.institution.changed."""

from __future__ import annotations

from datetime import datetime

from common.events.settlement import InstitutionChanged
from pricing.models import Pharmacy
from pricing.uow import PricingUnitOfWork

PHARMACY = "pharmacy"


async def apply_institution_changed(
    *, uow: PricingUnitOfWork, data: InstitutionChanged, event_time: datetime
) -> None:
    """Keep a pharmacy's name, region and status; hospitals are not ours. An older event changes nothing."""
    existing = await uow.pharmacies.get(data.fixmedins_code, for_update=True)
    if data.fixmedins_type != PHARMACY:
        if existing is not None and existing.changed_at <= event_time:
            await uow.pharmacies.remove(existing)  # it became a hospital: no longer a pharmacy to monitor
        return
    values = {
        "fixmedins_name": data.fixmedins_name,
        "admdvs": data.admdvs,
        "status": data.status,
        "changed_at": event_time,
    }
    if existing is None:
        uow.pharmacies.add(Pharmacy(fixmedins_code=data.fixmedins_code, **values))
    elif existing.changed_at <= event_time:
        await uow.pharmacies.replace(data.fixmedins_code, values)
    await uow.flush()
