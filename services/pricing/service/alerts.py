"""Alerts (预警): one open per (pharmacy, drug, light) until resolved; raised and resolved through the outbox."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from common.clock import Clock
from common.errors import Conflict, NotFound
from common.events.contracts import Subject
from common.events.envelope import new_event
from common.events.outbox import add_event
from common.events.pricing import AlertRaised, AlertResolved
from pricing.domain.light import Light, Verdict
from pricing.domain.money import micro_to_price
from pricing.models import PriceAlert

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


async def raise_alerts(session: AsyncSession, sightings: Sequence[Sighting], *, clock: Clock) -> int:
    """Raise an alert for each (pharmacy, drug, light) not already open; count the sighting on an open one.

    Returns how many alerts were raised.
    """
    wanted = [s for s in sightings if s.verdict.light is not Light.GREEN]
    if not wanted:
        return 0
    now = clock.now()
    keys = sorted({open_key(s.fixmedins_code, s.med_list_codg, s.verdict.light.value) for s in wanted})
    found = await session.scalars(sa.select(PriceAlert).where(PriceAlert.open_key.in_(keys)))
    open_alerts = {alert.open_key: alert for alert in found}
    raised = 0
    for sighting in wanted:
        key = open_key(sighting.fixmedins_code, sighting.med_list_codg, sighting.verdict.light.value)
        alert = open_alerts.get(key)
        if alert is None:
            alert, created = await _raise(session, sighting, key, now=now, clock=clock)
            raised += created
            open_alerts[key] = alert
            continue
        alert.occurrences += 1
        alert.last_seen_at = now
    await session.flush()
    return raised


async def _raise(
    session: AsyncSession, sighting: Sighting, key: str, *, now: datetime, clock: Clock
) -> tuple[PriceAlert, bool]:
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
    try:
        async with session.begin_nested():
            session.add(alert)
            await session.flush()
    except IntegrityError:  # raised by a concurrent upload a moment ago: count this sighting on it
        existing = (await session.scalars(sa.select(PriceAlert).where(PriceAlert.open_key == key))).one()
        existing.occurrences += 1
        existing.last_seen_at = now
        return existing, False
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
    await add_event(
        session,
        new_event(
            type=Subject.ALERT_RAISED,
            source=SOURCE,
            subject=str(alert.alert_id),
            data=data.model_dump(mode="json"),
            clock=clock,
        ),
    )
    return alert, True


async def get_alert(session: AsyncSession, alert_id: int) -> PriceAlert:
    alert = await session.get(PriceAlert, alert_id)
    if alert is None:
        raise NotFound("No such alert.", code="ALERT_NOT_FOUND", alert_id=alert_id)
    return alert


async def list_alerts(
    session: AsyncSession,
    *,
    light: str | None,
    status: str | None,
    fixmedins_code: str | None,
    limit: int,
    before: int | None,
) -> list[PriceAlert]:
    """Alerts newest first, keyset-paginated on the id."""
    query = sa.select(PriceAlert)
    if light:
        query = query.where(PriceAlert.light == light)
    if status:
        query = query.where(PriceAlert.status == status)
    if fixmedins_code:
        query = query.where(PriceAlert.fixmedins_code == fixmedins_code)
    if before is not None:
        query = query.where(PriceAlert.alert_id < before)
    query = query.order_by(PriceAlert.alert_id.desc()).limit(limit)
    return list((await session.scalars(query)).all())


async def resolve_alert(
    session: AsyncSession, alert_id: int, *, note: str, resolved_by: str, clock: Clock
) -> PriceAlert:
    """Close an open alert with a note; the next out-of-line price raises a new one."""
    alert = await session.get(PriceAlert, alert_id, with_for_update=True)
    if alert is None:
        raise NotFound("No such alert.", code="ALERT_NOT_FOUND", alert_id=alert_id)
    if alert.status == RESOLVED:
        raise Conflict("The alert is resolved already.", code="ALERT_ALREADY_RESOLVED", alert_id=alert_id)
    now = clock.now()
    alert.status = RESOLVED
    alert.open_key = None
    alert.resolved_at = now
    alert.resolved_by = resolved_by
    alert.note = note
    await session.flush()
    data = AlertResolved(
        alert_id=alert.alert_id,
        fixmedins_code=alert.fixmedins_code,
        med_list_codg=alert.med_list_codg,
        light=alert.light,
        note=note,
        resolved_at=now,
        resolved_by=resolved_by,
    )
    await add_event(
        session,
        new_event(
            type=Subject.ALERT_RESOLVED,
            source=SOURCE,
            subject=str(alert.alert_id),
            data=data.model_dump(mode="json"),
            clock=clock,
        ),
    )
    return alert
