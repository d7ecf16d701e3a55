"""Consumers of the fraud service: settlement's claims and catalogue, enrollment's persons and deaths,
pricing's POS sales and refunds (their traceability codes)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from common.clock import Clock
from common.events.consumer import Subscription
from common.events.contracts import ENROLLMENT_STREAM, PRICING_STREAM, SETTLEMENT_STREAM, Subject
from common.events.enrollment import PersonDeceased, PersonRegistered
from common.events.envelope import EventEnvelope
from common.events.pricing import SaleRecorded, SaleRefunded
from common.events.settlement import CaseGrouped, CatalogChanged, SettlementReversed, SettlementSettled
from fraud.service import findings, projection, tracecodes
from fraud.service.institution_rules import apply_case_grouped
from fraud.service.rules import RuleBook
from fraud.uow import FraudUnitOfWork

SETTLEMENT_DURABLE = "fraud-settlement"
SETTLEMENT_SUBJECTS = (Subject.SETTLED, Subject.REVERSED, Subject.CATALOG_CHANGED, Subject.CASE_GROUPED)
ENROLLMENT_DURABLE = "fraud-enrollment"
ENROLLMENT_SUBJECTS = (Subject.PERSON_REGISTERED, Subject.PERSON_DECEASED)
PRICING_DURABLE = "fraud-pricing"
PRICING_SUBJECTS = (Subject.SALE_RECORDED, Subject.SALE_REFUNDED)


def subscriptions(*, clock: Clock, book: RuleBook | None = None) -> tuple[Subscription, ...]:
    """The durable consumers of the fraud service (post rules from `book`'s cache when given)."""

    async def handle_settlement(session: AsyncSession, event: EventEnvelope) -> None:
        await on_settlement_event(session, event, clock=clock, book=book)

    async def handle_enrollment(session: AsyncSession, event: EventEnvelope) -> None:
        await on_enrollment_event(session, event, clock=clock)

    async def handle_pricing(session: AsyncSession, event: EventEnvelope) -> None:
        await on_pricing_event(session, event, clock=clock)

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
        Subscription(
            durable=PRICING_DURABLE,
            stream=PRICING_STREAM.name,
            subjects=PRICING_SUBJECTS,
            handler=handle_pricing,
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
        projected = await projection.apply_settled(uow=uow, data=data)
        if projected is not None:
            await findings.after_settled(uow=uow, data=data, clock=clock, book=book, projected=projected)
    elif event.type == Subject.REVERSED:
        reversed_ = SettlementReversed.model_validate(event.data)
        if await projection.apply_reversed(uow=uow, data=reversed_):
            await findings.after_reversed(uow=uow, setl_id=reversed_.orig_setl_id, clock=clock)
    elif event.type == Subject.CATALOG_CHANGED:
        await projection.apply_catalog_changed(
            uow=uow, data=CatalogChanged.model_validate(event.data), now=now
        )
    elif event.type == Subject.CASE_GROUPED:
        await apply_case_grouped(uow=uow, data=CaseGrouped.model_validate(event.data))


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


async def on_pricing_event(session: AsyncSession, event: EventEnvelope, *, clock: Clock) -> None:
    """POS sales and their refunds: the trace-code projection, the scan rate, findings on reused codes."""
    uow = FraudUnitOfWork.within(session)
    if event.type == Subject.SALE_RECORDED:
        await tracecodes.apply_sale_recorded(
            uow=uow, data=SaleRecorded.model_validate(event.data), clock=clock
        )
    elif event.type == Subject.SALE_REFUNDED:
        await tracecodes.apply_sale_refunded(uow=uow, data=SaleRefunded.model_validate(event.data))
