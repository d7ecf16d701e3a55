"""Alerts (预警): one open per (pharmacy, drug, light) until resolved; raised and resolved through the outbox."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

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

    Set-based: the open alerts of all the sightings are read in one query, the new ones inserted in one
    statement (a key a concurrent upload raised a moment ago is skipped there and counted on that alert),
    the sightings counted on the open ones in one statement, and the alert.raised events written together,
    in the order of the sightings that raised them. Returns how many alerts were raised.
    """
    wanted = [s for s in sightings if s.verdict.light is not Light.GREEN]
    if not wanted:
        return 0
    now = clock.now()
    by_key: dict[str, list[Sighting]] = {}  # in the order of each key's first sighting
    for sighting in wanted:
        key = open_key(sighting.fixmedins_code, sighting.med_list_codg, sighting.verdict.light.value)
        by_key.setdefault(key, []).append(sighting)
    open_alerts = await uow.alerts.open_counts(sorted(by_key))
    new_rows = [
        _alert_row(group[0], key, occurrences=len(group), now=now)
        for key, group in by_key.items()
        if key not in open_alerts
    ]
    inserted = await uow.alerts.insert_open(new_rows)
    raced = sorted(row["open_key"] for row in new_rows if row["open_key"] not in inserted)
    if raced:  # raised by a concurrent upload: count these sightings on it
        open_alerts |= await uow.alerts.open_counts(raced)
    await uow.alerts.count_sightings(
        [
            (alert_id, occurrences + len(by_key[key]))
            for key, (alert_id, occurrences) in open_alerts.items()
            if key in by_key
        ],
        now=now,
    )
    await uow.publish(
        *(
            new_event(
                type=Subject.ALERT_RAISED,
                source=SOURCE,
                subject=str(inserted[row["open_key"]]),
                data=_raised(row, inserted[row["open_key"]], now).model_dump(mode="json"),
                clock=clock,
            )
            for row in new_rows
            if row["open_key"] in inserted
        )
    )
    return len(inserted)


def _alert_row(sighting: Sighting, key: str, *, occurrences: int, now: datetime) -> dict[str, Any]:
    """A new open alert, raised by its first sighting and counting every sighting of the upload."""
    return {
        "open_key": key,
        "fixmedins_code": sighting.fixmedins_code,
        "med_list_codg": sighting.med_list_codg,
        "admdvs": sighting.admdvs,
        "light": sighting.verdict.light.value,
        "status": OPEN,
        "price_micro": sighting.price_micro,
        "reference_micro": sighting.reference_micro,
        "diff_ratio": format(sighting.verdict.diff_ratio, "f"),
        "over_procurement": sighting.verdict.over_procurement,
        "sale_id": sighting.sale_id,
        "occurrences": occurrences,
        "raised_at": now,
        "last_seen_at": now,
        "resolved_at": None,
        "resolved_by": None,
        "note": None,
    }


def _raised(row: dict[str, Any], alert_id: int, now: datetime) -> AlertRaised:
    return AlertRaised(
        alert_id=alert_id,
        fixmedins_code=row["fixmedins_code"],
        med_list_codg=row["med_list_codg"],
        admdvs=row["admdvs"],
        light=row["light"],
        pric=micro_to_price(row["price_micro"]),
        reference_pric=micro_to_price(row["reference_micro"]),
        diff_ratio=row["diff_ratio"],
        over_procurement=row["over_procurement"],
        sale_id=row["sale_id"],
        raised_at=now,
    )


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
