"""Consumers of the enrollment service: settlement's facts feed the zero-claim incentive."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict
from sqlalchemy.ext.asyncio import AsyncSession

from common.clock import Clock, business_date
from common.events.consumer import Subscription
from common.events.contracts import SETTLEMENT_STREAM, Subject
from common.events.envelope import EventEnvelope
from common.money import Yuan, yuan_to_fen
from enrollment.domain.waiting import ResidentPolicy
from enrollment.service.claims import apply_reversal, apply_settlement
from enrollment.uow import EnrollmentUnitOfWork


class SettledFacts(BaseModel):
    """What enrollment reads of settlement.settled (the rest of setlinfo is ignored)."""

    model_config = ConfigDict(extra="ignore")

    setl_id: str
    psn_no: str
    insutype: str
    setl_time: datetime
    fund_pay_sumamt: Yuan
    # Settlement sets it when the critical-illness payment went past the base cap into the incentive raise.
    incentive_raise_used: bool = False


class ReversedFacts(BaseModel):
    """What enrollment reads of settlement.reversed: the original's id and insutype (that of the original)."""

    model_config = ConfigDict(extra="ignore")

    orig_setl_id: str
    insutype: str


# Only settlements of residents (城乡居民基本医保, and its critical-illness insurance) count for the incentive.
RESIDENT_INSUTYPES = ("390", "392")


def is_resident(event: EventEnvelope) -> bool:
    """Only residents' settlements and reversals count; the consumer acks the others unread."""
    return event.data.get("insutype") in RESIDENT_INSUTYPES


def subscriptions(*, clock: Clock, policy: ResidentPolicy) -> tuple[Subscription, ...]:
    """The durable consumers of the enrollment service."""

    async def handle(session: AsyncSession, event: EventEnvelope) -> None:
        await on_settlement_event(session, event, clock=clock, policy=policy)

    return (
        Subscription(
            durable="enrollment-settlements",
            stream=SETTLEMENT_STREAM.name,
            subjects=(Subject.SETTLED, Subject.REVERSED),
            handler=handle,
            wants=is_resident,
        ),
    )


async def on_settlement_event(
    session: AsyncSession, event: EventEnvelope, *, clock: Clock, policy: ResidentPolicy
) -> None:
    """Count resident settlements into the person's year; reversals take them back out.

    A reversal of another insutype is ignored as its settlement was; a resident one that arrives before its
    settlement raises SettlementNotYetCounted, so the consumer retries it after the backoff.
    The use cases run on a unit of work inside the runner's transaction (the inbox row commits with them).
    """
    uow = EnrollmentUnitOfWork.within(session)
    if event.type == Subject.SETTLED:
        facts = SettledFacts.model_validate(event.data)
        if facts.insutype not in RESIDENT_INSUTYPES:
            return
        await apply_settlement(
            uow=uow,
            setl_id=facts.setl_id,
            psn_no=facts.psn_no,
            year=business_date(facts.setl_time).year,
            fund_pay_fen=yuan_to_fen(facts.fund_pay_sumamt),
            raise_used=facts.incentive_raise_used,
            clock=clock,
            policy=policy,
        )
    elif event.type == Subject.REVERSED:
        reversed_facts = ReversedFacts.model_validate(event.data)
        if reversed_facts.insutype not in RESIDENT_INSUTYPES:
            return
        await apply_reversal(uow=uow, setl_id=reversed_facts.orig_setl_id, clock=clock, policy=policy)
