"""Consumers of the settlement service: enrollment's events feed the projection, fraud's findings deductions.

Each handler runs in the transaction the consumer runner opened (with the event's inbox row) and commits:
the use cases get a unit of work joined to that transaction, so they read and write as any other.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import groupby

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
from common.events.fraud import CaseDecided, FindingConfirmed, PractitionerReinstated, PractitionerSuspended
from settlement.service import monthly, practitioners, projection
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
# A durable of its own: a practitioner's suspension and its reinstatement come in stream order, and never
# wait behind (or hold up) the deductions.
PRACTITIONER_DURABLE = "settlement-fraud-practitioners"
PRACTITIONER_SUBJECTS = (Subject.PRACTITIONER_SUSPENDED, Subject.PRACTITIONER_REINSTATED)
# Decided cases on a durable of their own (the findings' durable keeps its filter where it already runs). The
# order against a case's fraud.finding.confirmed events does not matter: a case.decided keeps its findings'
# recoveries and its penalty in one transaction, the finding events keep the same recoveries, each once.
CASE_DURABLE = "settlement-fraud-cases"
CASE_SUBJECTS = (Subject.CASE_DECIDED,)


def subscriptions(*, clock: Clock) -> tuple[Subscription, ...]:
    """The durable consumers of the settlement service."""

    async def handle(session: AsyncSession, event: EventEnvelope) -> None:
        await on_enrollment_event(session, event, clock=clock)

    async def handle_batch(session: AsyncSession, events: Sequence[EventEnvelope]) -> None:
        await on_enrollment_events(session, events, clock=clock)

    async def handle_fraud(session: AsyncSession, event: EventEnvelope) -> None:
        await on_fraud_event(session, event, clock=clock)

    async def handle_practitioner(session: AsyncSession, event: EventEnvelope) -> None:
        await on_practitioner_event(session, event, clock=clock)

    # One consumer for all five subjects keeps them in stream order while one process applies them; with
    # replicas or two relays a death can come before the registration, and is retried (see projection).
    return (
        Subscription(
            durable=ENROLLMENT_DURABLE,
            stream=ENROLLMENT_STREAM.name,
            subjects=ENROLLMENT_SUBJECTS,
            handler=handle,
            batch_handler=handle_batch,
        ),
        Subscription(
            durable=FRAUD_DURABLE,
            stream=FRAUD_STREAM.name,
            subjects=FRAUD_SUBJECTS,
            handler=handle_fraud,
        ),
        Subscription(
            durable=PRACTITIONER_DURABLE,
            stream=FRAUD_STREAM.name,
            subjects=PRACTITIONER_SUBJECTS,
            handler=handle_practitioner,
        ),
        Subscription(
            durable=CASE_DURABLE,
            stream=FRAUD_STREAM.name,
            subjects=CASE_SUBJECTS,
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


async def on_enrollment_events(
    session: AsyncSession, events: Sequence[EventEnvelope], *, clock: Clock
) -> None:
    """A fetched batch of enrollment events, in order, with the same effect as `on_enrollment_event` on each
    in turn: each run of registrations, of coverages and of contributions is applied set-based (a bulk load
    of a city is one long run of each); deaths and families one by one. An event that fails fails the whole
    batch, which the runner then applies one event at a time."""
    uow, now = SettlementUnitOfWork.within(session), clock.now()
    for kind, run in groupby(events, key=lambda event: event.type):
        batch = list(run)
        if kind == Subject.PERSON_REGISTERED:
            await projection.apply_persons_registered(
                uow=uow, registrations=[PersonRegistered.model_validate(e.data) for e in batch], now=now
            )
        elif kind == Subject.COVERAGE_CHANGED:
            await projection.apply_coverages_changed(
                uow=uow, changes=[(CoverageChanged.model_validate(e.data), e.time) for e in batch]
            )
        elif kind == Subject.CONTRIBUTION_PAID:
            await projection.apply_contributions_paid(
                uow=uow, contributions=[ContributionPaid.model_validate(e.data) for e in batch], now=now
            )
        else:
            for event in batch:
                await on_enrollment_event(session, event, clock=clock)


async def on_fraud_event(session: AsyncSession, event: EventEnvelope, *, clock: Clock) -> None:
    """A confirmed finding becomes a deduction (once per finding), a decided case its recoveries and its penalty
    (once per case), in the consumer's transaction.

    An event that does not fit the contract, or a negative amount, raises ValueError: retried, then
    dead-lettered for ops to look at and replay.
    """
    if event.type == Subject.FINDING_CONFIRMED:
        await monthly.record_deduction(
            uow=SettlementUnitOfWork.within(session),
            finding=FindingConfirmed.model_validate(event.data),
            now=clock.now(),
        )
    elif event.type == Subject.CASE_DECIDED:
        await monthly.record_case_decision(
            uow=SettlementUnitOfWork.within(session),
            case=CaseDecided.model_validate(event.data),
            now=clock.now(),
        )


async def on_practitioner_event(session: AsyncSession, event: EventEnvelope, *, clock: Clock) -> None:
    """Keep a practitioner's suspension, or its end, in the projection the claims are checked against."""
    uow, now = SettlementUnitOfWork.within(session), clock.now()
    if event.type == Subject.PRACTITIONER_SUSPENDED:
        await practitioners.apply_suspended(
            uow=uow, data=PractitionerSuspended.model_validate(event.data), now=now
        )
    elif event.type == Subject.PRACTITIONER_REINSTATED:
        await practitioners.apply_reinstated(
            uow=uow, data=PractitionerReinstated.model_validate(event.data), now=now
        )
