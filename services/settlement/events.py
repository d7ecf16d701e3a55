"""Consumers of the settlement service: enrollment's events feed the projection, fraud's findings deductions.

Each handler runs in the transaction the consumer runner opened (with the event's inbox row) and commits:
the use cases get a unit of work joined to that transaction, so they read and write as any other.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from common.clock import Clock
from common.events.consumer import Subscription
from common.events.contracts import ENROLLMENT_STREAM, FRAUD_STREAM, Subject
from common.events.enrollment import (
    ContributionPaid,
    CoverageChanged,
    FamilyBound,
    PersonDeceased,
    PersonRegistered,
)
from common.events.envelope import EventEnvelope
from common.events.fraud import FindingConfirmed
from settlement.service import monthly, projection
from settlement.uow import SettlementUnitOfWork

ENROLLMENT_DURABLE = "settlement-enrollment"
ENROLLMENT_SUBJECTS = (
    Subject.PERSON_REGISTERED,
    Subject.COVERAGE_CHANGED,
    Subject.PERSON_DECEASED,
    Subject.CONTRIBUTION_PAID,
    Subject.FAMILY_BOUND,
)
FRAUD_DURABLE = "settlement-fraud-findings"
FRAUD_SUBJECTS = (Subject.FINDING_CONFIRMED,)


def subscriptions(*, clock: Clock) -> tuple[Subscription, ...]:
    """The durable consumers of the settlement service."""

    async def handle(session: AsyncSession, event: EventEnvelope) -> None:
        await on_enrollment_event(session, event, clock=clock)

    async def handle_fraud(session: AsyncSession, event: EventEnvelope) -> None:
        await on_fraud_event(session, event, clock=clock)

    # One consumer for all five subjects keeps them in stream order while one process applies them; with
    # replicas or two relays a death can come before the registration, and is retried (see projection).
    return (
        Subscription(
            durable=ENROLLMENT_DURABLE,
            stream=ENROLLMENT_STREAM.name,
            subjects=ENROLLMENT_SUBJECTS,
            handler=handle,
        ),
        Subscription(
            durable=FRAUD_DURABLE,
            stream=FRAUD_STREAM.name,
            subjects=FRAUD_SUBJECTS,
            handler=handle_fraud,
        ),
    )


async def on_enrollment_event(session: AsyncSession, event: EventEnvelope, *, clock: Clock) -> None:
    """Apply one enrollment event to the projection, in the consumer's transaction."""
    uow, when, now = SettlementUnitOfWork.within(session), event.time, clock.now()
    if event.type == Subject.PERSON_REGISTERED:
        await projection.apply_person_registered(
            uow=uow, data=PersonRegistered.model_validate(event.data), event_time=when, now=now
        )
    elif event.type == Subject.COVERAGE_CHANGED:
        await projection.apply_coverage_changed(
            uow=uow, data=CoverageChanged.model_validate(event.data), event_time=when, now=now
        )
    elif event.type == Subject.PERSON_DECEASED:
        await projection.apply_person_deceased(
            uow=uow, data=PersonDeceased.model_validate(event.data), event_time=when, now=now
        )
    elif event.type == Subject.CONTRIBUTION_PAID:
        await projection.apply_contribution_paid(
            uow=uow, data=ContributionPaid.model_validate(event.data), event_time=when, now=now
        )
    elif event.type == Subject.FAMILY_BOUND:
        await projection.apply_family_bound(
            uow=uow, data=FamilyBound.model_validate(event.data), event_time=when, now=now
        )


async def on_fraud_event(session: AsyncSession, event: EventEnvelope, *, clock: Clock) -> None:
    """A confirmed finding becomes a deduction (once per finding), in the consumer's transaction.

    A finding that does not fit the contract, or a negative amount, raises ValueError: retried, then
    dead-lettered for ops to look at and replay.
    """
    if event.type == Subject.FINDING_CONFIRMED:
        await monthly.record_deduction(
            uow=SettlementUnitOfWork.within(session),
            finding=FindingConfirmed.model_validate(event.data),
            now=clock.now(),
        )
