"""Consumers of the pricing service: settlement's pharmacies and pharmacy settlements feed the monitoring."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from common.clock import Clock
from common.events.consumer import Subscription
from common.events.contracts import SETTLEMENT_STREAM, Subject
from common.events.envelope import EventEnvelope
from common.events.settlement import InstitutionChanged, SettlementReversed, SettlementSettled
from pricing.service import reference
from pricing.service import settings as monitoring
from pricing.service.observations import PHARMACY_MED_TYPE, record_settlement, withdraw_settlement
from pricing.service.pharmacies import apply_institution_changed
from pricing.uow import PricingUnitOfWork

log = logging.getLogger("pricing.events")

SETTLEMENT_DURABLE = "pricing-settlement"
SETTLEMENT_SUBJECTS = (Subject.INSTITUTION_CHANGED, Subject.SETTLED, Subject.REVERSED)


def observed(event: EventEnvelope) -> bool:
    """Only pharmacy settlements (med_type 41) and their reversals are price observations; the consumer acks the
    others unread (the handler does nothing with them). Institution changes are always applied."""
    return event.type == Subject.INSTITUTION_CHANGED or event.data.get("med_type") == PHARMACY_MED_TYPE


def subscriptions(*, clock: Clock) -> tuple[Subscription, ...]:
    """The durable consumer of the pricing service."""

    async def handle(session: AsyncSession, event: EventEnvelope) -> None:
        await on_settlement_event(session, event, clock=clock)

    # One consumer for both subjects keeps stream order: a pharmacy is known before its first settlement.
    return (
        Subscription(
            durable=SETTLEMENT_DURABLE,
            stream=SETTLEMENT_STREAM.name,
            subjects=SETTLEMENT_SUBJECTS,
            handler=handle,
            wants=observed,
        ),
    )


async def on_settlement_event(session: AsyncSession, event: EventEnvelope, *, clock: Clock) -> None:
    """Apply one settlement event in the consumer's transaction (a contract mismatch raises: dead-lettered).

    The use cases run on a unit of work inside the runner's transaction (the inbox row commits with them).
    """
    uow = PricingUnitOfWork.within(session)
    if event.type == Subject.INSTITUTION_CHANGED:
        await apply_institution_changed(
            uow=uow, data=InstitutionChanged.model_validate(event.data), event_time=event.time
        )
    elif event.type == Subject.SETTLED:
        recorded = await record_settlement(
            uow=uow, data=SettlementSettled.model_validate(event.data), clock=clock
        )
        skipped = sum(1 for outcome in recorded.outcomes if not outcome.accepted)
        if recorded.reversed_before:
            log.info("settlement %s: reversed before it arrived, not observed", event.subject)
        elif skipped:
            log.info("settlement %s: %d lines not observed", event.subject, skipped)
    elif event.type == Subject.REVERSED:
        withdrawn = await withdraw_settlement(
            uow=uow, data=SettlementReversed.model_validate(event.data), clock=clock
        )
        if withdrawn:
            log.info("reversal %s: %d observations withdrawn", event.subject, withdrawn)


def recompute_worker(interval_s: float) -> Callable[[FastAPI], Awaitable[None]]:
    """Recompute reference prices every interval (the window edge); safe on every replica."""

    async def recompute_references(app: FastAPI) -> None:
        while True:
            await asyncio.sleep(interval_s)
            try:
                async with PricingUnitOfWork(app.state.db) as uow:
                    settings = await monitoring.current(uow=uow)
                    await reference.recompute(
                        uow=uow, window_days=settings.window_days, now=app.state.clock.now()
                    )
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("reference recompute failed; next round in %ss", interval_s)

    return recompute_references
