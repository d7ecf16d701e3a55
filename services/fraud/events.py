"""Consumers of the fraud service: settlement's claims and catalogue, enrollment's persons and deaths."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from common.clock import Clock
from common.events.consumer import Subscription
from common.events.contracts import ENROLLMENT_STREAM, SETTLEMENT_STREAM, Subject
from common.events.enrollment import PersonDeceased, PersonRegistered
from common.events.envelope import EventEnvelope
from common.events.settlement import CatalogChanged, SettlementReversed, SettlementSettled
from fraud.service import findings, projection
from fraud.service.rules import RuleBook
from fraud.uow import FraudUnitOfWork

SETTLEMENT_DURABLE = "fraud-settlement"
SETTLEMENT_SUBJECTS = (Subject.SETTLED, Subject.REVERSED, Subject.CATALOG_CHANGED)
ENROLLMENT_DURABLE = "fraud-enrollment"
ENROLLMENT_SUBJECTS = (Subject.PERSON_REGISTERED, Subject.PERSON_DECEASED)


def subscriptions(*, clock: Clock, book: RuleBook | None = None) -> tuple[Subscription, ...]:
    """The durable consumers of the fraud service (post rules from `book`'s cache when given)."""

    async def handle_settlement(session: AsyncSession, event: EventEnvelope) -> None:
        await on_settlement_event(session, event, clock=clock, book=book)

    async def handle_enrollment(session: AsyncSession, event: EventEnvelope) -> None:
        await on_enrollment_event(session, event, clock=clock)

    # One consumer per stream keeps each stream's order: a settlement is projected before its reversal.
    return (
        Subscription(
            durable=SETTLEMENT_DURABLE,
            stream=SETTLEMENT_STREAM.name,
            subjects=SETTLEMENT_SUBJECTS,
            handler=handle_settlement,
        ),
        Subscription(
            durable=ENROLLMENT_DURABLE,
            stream=ENROLLMENT_STREAM.name,
            subjects=ENROLLMENT_SUBJECTS,
            handler=handle_enrollment,
        ),
    )


async def on_settlement_event(
    session: AsyncSession, event: EventEnvelope, *, clock: Clock, book: RuleBook | None = None
) -> None:
    """Project one settlement event and run the post rules it calls for, in the consumer's transaction."""
    uow = FraudUnitOfWork.within(session)
    now = clock.now()
    if event.type == Subject.SETTLED:
        data = SettlementSettled.model_validate(event.data)
        if await projection.apply_settled(uow=uow, data=data):
            await findings.after_settled(uow=uow, data=data, clock=clock, book=book)
    elif event.type == Subject.REVERSED:
        reversed_ = SettlementReversed.model_validate(event.data)
        if await projection.apply_reversed(uow=uow, data=reversed_):
            await findings.after_reversed(uow=uow, setl_id=reversed_.orig_setl_id, clock=clock)
    elif event.type == Subject.CATALOG_CHANGED:
        await projection.apply_catalog_changed(
            uow=uow, data=CatalogChanged.model_validate(event.data), now=now
        )


async def on_enrollment_event(session: AsyncSession, event: EventEnvelope, *, clock: Clock) -> None:
    """Keep the persons' facts; a death runs after_death over the care already settled."""
    uow = FraudUnitOfWork.within(session)
    now = clock.now()
    if event.type == Subject.PERSON_REGISTERED:
        await projection.apply_person_registered(
            uow=uow, data=PersonRegistered.model_validate(event.data), now=now
        )
    elif event.type == Subject.PERSON_DECEASED:
        data = PersonDeceased.model_validate(event.data)
        if await projection.apply_person_deceased(uow=uow, data=data, now=now):
            await findings.after_death_recorded(uow=uow, psn_no=data.psn_no, clock=clock)
