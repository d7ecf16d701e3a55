"""Routes of alerts (预警): list them, resolve one with a note."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from common.deps import PROBLEMS, ClockDep
from common.params import PathId
from common.principal import OpsPrincipal, Role
from pricing.api.deps import PharmacyPrincipal, ensure_scope
from pricing.domain.money import micro_to_price
from pricing.models import PriceAlert
from pricing.schemas.drugs import FixmedinsCode
from pricing.schemas.monitoring import AlertLight, AlertOut, AlertPage, AlertStatus, ResolveIn
from pricing.service import alerts as service
from pricing.uow import Uow

router = APIRouter()
ALERTS = "alerts 价格预警"


def alert_out(alert: PriceAlert) -> AlertOut:
    return AlertOut(
        alert_id=alert.alert_id,
        fixmedins_code=alert.fixmedins_code,
        med_list_codg=alert.med_list_codg,
        admdvs=alert.admdvs,
        light=AlertLight(alert.light),
        status=AlertStatus(alert.status),
        pric=micro_to_price(alert.price_micro),
        reference_pric=micro_to_price(alert.reference_micro),
        diff_ratio=alert.diff_ratio,
        over_procurement=alert.over_procurement,
        sale_id=alert.sale_id,
        occurrences=alert.occurrences,
        raised_at=alert.raised_at,
        last_seen_at=alert.last_seen_at,
        resolved_at=alert.resolved_at,
        resolved_by=alert.resolved_by,
        note=alert.note,
    )


@router.get(
    "/alerts",
    response_model=AlertPage,
    responses=PROBLEMS,
    tags=[ALERTS],
    summary="Alerts, newest first (a POS sees its own pharmacy's) 预警列表",
)
async def list_alerts(
    uow: Uow,
    who: PharmacyPrincipal,
    light: Annotated[AlertLight | None, Query(description="yellow | red")] = None,
    status: Annotated[AlertStatus | None, Query(description="open | resolved")] = None,
    fixmedins_code: Annotated[FixmedinsCode | None, Query(description="定点零售药店编码")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[
        int | None, Query(ge=1, le=2**63 - 1, description="next_cursor of the previous page (an alert id)")
    ] = None,
) -> AlertPage:
    """Price alerts, newest first: one open per pharmacy, drug and light until it is resolved.

    Each shows the price, the reference then and the difference ratio (差值比), whether the price was over
    the procurement limit, and how many sales have shown the light while it was open.

    Filter by light, status (open, resolved) and pharmacy. A pharmacy (POS) sees only its own alerts;
    staff see every pharmacy's. Pass `next_cursor` as `cursor` for the next page.
    """
    if who.role is Role.POS:
        fixmedins_code = fixmedins_code or who.scope
        ensure_scope(who, fixmedins_code or "")
    found = await service.list_alerts(
        uow=uow,
        light=light.value if light else None,
        status=status.value if status else None,
        fixmedins_code=fixmedins_code,
        limit=limit + 1,
        before=cursor,
    )
    return AlertPage(
        items=[alert_out(alert) for alert in found[:limit]],
        next_cursor=str(found[limit - 1].alert_id) if len(found) > limit else None,
    )


@router.get(
    "/alerts/{alert_id}", response_model=AlertOut, responses=PROBLEMS, tags=[ALERTS], summary="One alert"
)
async def get_alert(alert_id: PathId, uow: Uow, who: PharmacyPrincipal) -> AlertOut:
    """One price alert: its sale, price, reference and ratio, and once resolved who resolved it and how.

    A pharmacy may read only its own (403 SCOPE_FORBIDDEN). 404 ALERT_NOT_FOUND.
    """
    alert = await service.get_alert(uow=uow, alert_id=alert_id)
    ensure_scope(who, alert.fixmedins_code)
    return alert_out(alert)


@router.post(
    "/alerts/{alert_id}/resolve",
    response_model=AlertOut,
    responses=PROBLEMS,
    tags=[ALERTS],
    summary="Resolve an alert with a note 预警处理",
)
async def resolve_alert(
    alert_id: PathId,
    body: ResolveIn,
    uow: Uow,
    ops: OpsPrincipal,
    clock: ClockDep,
) -> AlertOut:
    """Close an open alert once it has been dealt with, with a note saying how.

    E.g. the pharmacy corrected its price, or the price was justified; the caller is recorded as the one
    who resolved it. A later out-of-line sale raises a new alert.

    409 ALERT_ALREADY_RESOLVED for an alert closed before; 404 ALERT_NOT_FOUND. Publishes the resolution.
    """
    alert = await service.resolve_alert(
        uow=uow, alert_id=alert_id, note=body.note, resolved_by=ops.client_id, clock=clock
    )
    return alert_out(alert)
