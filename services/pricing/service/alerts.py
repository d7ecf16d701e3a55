"""Alerts (预警): one open per (pharmacy, drug, light) until resolved; raised and resolved through the outbox."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from common.clock import Clock
from common.errors import Conflict
from common.events.contracts import Subject
from common.events.envelope import new_event
from common.events.pricing import AlertRaised, AlertResolved
from pricing.domain.light import Light, Verdict
from pricing.domain.money import micro_to_price
from pricing.models import PriceAlert
from pricing.uow import PricingUnitOfWork

SOURCE = "pricing"
OPEN, RESOLVED = "open", "resolved"


@dataclass(frozen=True, slots=True)
class Sighting:
    """A yellow or red price seen in a sale."""

    fixmedins_code: str
    med_list_codg: str
    admdvs: str
    sale_id: str
    price_micro: int
    reference_micro: int
    verdict: Verdict


def open_key(fixmedins_code: str, med_list_codg: str, light: str) -> str:
    return f"{fixmedins_code}|{med_list_codg}|{light}"


async def raise_alerts(*, uow: PricingUnitOfWork, sightings: Sequence[Sighting], clock: Clock) -> int:
    """Raise an alert for each (pharmacy, drug, light) not already open; count the sighting on an open one.

    Returns how many alerts were raised.
    """
    wanted = [s for s in sightings if s.verdict.light is not Light.GREEN]
    if not wanted:
        return 0
    now = clock.now()
    keys = sorted({open_key(s.fixmedins_code, s.med_list_codg, s.verdict.light.value) for s in wanted})
    open_alerts = await uow.alerts.open_by_key(keys)
    raised = 0
    for sighting in wanted:
        key = open_key(sighting.fixmedins_code, sighting.med_list_codg, sighting.verdict.light.value)
        alert = open_alerts.get(key)
        if alert is None:
            raising = await _raise(uow, sighting, key, now=now, clock=clock)
            raised += raising.raised
            open_alerts[key] = raising.alert
            continue
        alert.occurrences += 1
        alert.last_seen_at = now
    await uow.flush()
    return raised


@dataclass(frozen=True, slots=True)
class _Raising:
    alert: PriceAlert
    raised: bool  # False: a concurrent upload had raised it a moment ago


async def _raise(
    uow: PricingUnitOfWork, sighting: Sighting, key: str, *, now: datetime, clock: Clock
) -> _Raising:
    alert = PriceAlert(
        open_key=key,
        fixmedins_code=sighting.fixmedins_code,
        med_list_codg=sighting.med_list_codg,
        admdvs=sighting.admdvs,
        light=sighting.verdict.light.value,
        status=OPEN,
        price_micro=sighting.price_micro,
        reference_micro=sighting.reference_micro,
        diff_ratio=format(sighting.verdict.diff_ratio, "f"),
        over_procurement=sighting.verdict.over_procurement,
        sale_id=sighting.sale_id,
        occurrences=1,
        raised_at=now,
        last_seen_at=now,
    )
    if await uow.alerts.add_new(alert) is None:  # raised by a concurrent upload: count this sighting on it
        existing = await uow.alerts.open_of(key)
        existing.occurrences += 1
        existing.last_seen_at = now
        return _Raising(existing, raised=False)
    data = AlertRaised(
        alert_id=alert.alert_id,
        fixmedins_code=alert.fixmedins_code,
        med_list_codg=alert.med_list_codg,
        admdvs=alert.admdvs,
        light=alert.light,
        pric=micro_to_price(alert.price_micro),
        reference_pric=micro_to_price(alert.reference_micro),
        diff_ratio=alert.diff_ratio,
        over_procurement=alert.over_procurement,
        sale_id=alert.sale_id,
        raised_at=now,
    )
    await uow.publish(
        new_event(
            type=Subject.ALERT_RAISED,
            source=SOURCE,
            subject=str(alert.alert_id),
            data=data.model_dump(mode="json"),
            clock=clock,
        )
    )
    return _Raising(alert, raised=True)


async def get_alert(*, uow: PricingUnitOfWork, alert_id: int) -> PriceAlert:
    """One alert, or 404 ALERT_NOT_FOUND."""
    return await uow.alerts.must_get(alert_id)


async def list_alerts(
    *,
    uow: PricingUnitOfWork,
    light: str | None,
    status: str | None,
    fixmedins_code: str | None,
    limit: int,
    before: int | None,
) -> list[PriceAlert]:
    """Alerts newest first, keyset-paginated on the id."""
    return await uow.alerts.newest(
        light=light, status=status, fixmedins_code=fixmedins_code, limit=limit, before=before
    )


async def resolve_alert(
    *, uow: PricingUnitOfWork, alert_id: int, note: str, resolved_by: str, clock: Clock
) -> PriceAlert:
    """Close an open alert with a note; the next out-of-line price raises a new one."""
    alert = await uow.alerts.must_get(alert_id, for_update=True)
    if alert.status == RESOLVED:
        raise Conflict("The alert is resolved already.", code="ALERT_ALREADY_RESOLVED", alert_id=alert_id)
    now = clock.now()
    alert.status = RESOLVED
    alert.open_key = None
    alert.resolved_at = now
    alert.resolved_by = resolved_by
    alert.note = note
    await uow.flush()
    data = AlertResolved(
        alert_id=alert.alert_id,
        fixmedins_code=alert.fixmedins_code,
        med_list_codg=alert.med_list_codg,
        light=alert.light,
        note=note,
        resolved_at=now,
        resolved_by=resolved_by,
    )
    await uow.publish(
        new_event(
            type=Subject.ALERT_RESOLVED,
            source=SOURCE,
            subject=str(alert.alert_id),
            data=data.model_dump(mode="json"),
            clock=clock,
        )
    )
    return alert
