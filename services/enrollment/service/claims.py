"""What settlement tells enrollment: each resident settlement's fund pay counted into the person's year."""

from __future__ import annotations

from common.clock import Clock
from enrollment.domain.waiting import ResidentPolicy
from enrollment.models import ClaimSettlement, ClaimYearRecord
from enrollment.service.coverages import restate_incentive
from enrollment.uow import EnrollmentUnitOfWork


async def apply_settlement(
    *,
    uow: EnrollmentUnitOfWork,
    setl_id: str,
    psn_no: str,
    year: int,
    fund_pay_fen: int,
    raise_used: bool,
    clock: Clock,
    policy: ResidentPolicy,
) -> None:
    """Count a settlement's fund pay into the person's year (the zero-claim incentive needs it)."""
    if await uow.claim_settlements.get(setl_id) is not None:
        return
    uow.claim_settlements.add(
        ClaimSettlement(setl_id=setl_id, psn_no=psn_no, year=year, fund_pay_fen=fund_pay_fen, reversed=False)
    )
    record = await uow.claim_years.get((psn_no, year), for_update=True)
    if record is None:
        record = ClaimYearRecord(psn_no=psn_no, year=year, fund_pay_fen=0, zero_claim_raise_used=False)
        uow.claim_years.add(record)
    record.fund_pay_fen += fund_pay_fen
    record.zero_claim_raise_used = record.zero_claim_raise_used or raise_used
    await uow.flush()
    await restate_incentive(uow, psn_no, clock=clock, policy=policy)


class SettlementNotYetCounted(Exception):
    """A resident settlement's reversal arrived before the settlement: with several consumer processes
    (replicas) sharing one durable consumer, or two relays publishing side by side, the stream's order is
    not the order applied. Raised, the event is redelivered after the consumer's backoff, by when the
    settlement is counted; one that never comes is dead-lettered after the last delivery, for ops to look at.
    """


async def apply_reversal(
    *, uow: EnrollmentUnitOfWork, setl_id: str, clock: Clock, policy: ResidentPolicy
) -> None:
    """Take a reversed resident settlement's fund pay back out of its year; nothing if already taken out.

    Only resident settlements are counted, so the caller passes only their reversals: one whose settlement
    is not counted yet raises SettlementNotYetCounted (see there) instead of being lost.
    """
    original = await uow.claim_settlements.get(setl_id, for_update=True)
    if original is None:
        raise SettlementNotYetCounted(f"settlement {setl_id} is reversed but not counted yet")
    if original.reversed:
        return
    original.reversed = True
    record = await uow.claim_years.get((original.psn_no, original.year), for_update=True)
    if record is not None:
        record.fund_pay_fen -= original.fund_pay_fen
    await uow.flush()
    await restate_incentive(uow, original.psn_no, clock=clock, policy=policy)
