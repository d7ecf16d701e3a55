"""Refunds of POS sales (退货): the sale no longer counts as a price, and its traceability codes are free.

What a refund does to the price monitoring: the sale's observation stays (a retry of the sale is still
answered as the replay it is), marked refunded with its time and note. A refunded sale counts in no index
sum, and is no longer the pharmacy's latest price of the drug: that is again its newest standing sale (or
none), and the region's price table and reference are recounted, as after a reversed pharmacy settlement.
Its light, as given at the sale, stays in the history, and an alert it raised stays open until ops resolve
it (the price was asked). pricing.sale.refunded tells fraud, whose trace-code projection frees the codes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from common.clock import Clock
from common.events.contracts import Subject
from common.events.envelope import new_event
from pricing.domain.observations import FUTURE_TOLERANCE
from pricing.models import Observation
from pricing.service import settings as monitoring
from pricing.service.alerts import SOURCE
from pricing.service.observations import POS
from pricing.uow import PricingUnitOfWork


@dataclass(frozen=True, slots=True)
class Refund:
    """One refund asked for: the sale, when it was refunded, why."""

    sale_id: str
    refund_time: datetime
    note: str | None = None


@dataclass(frozen=True, slots=True)
class RefundOutcome:
    sale_id: str
    refunded: bool
    refund_time: datetime | None = None
    replay: bool = False
    reason: str | None = None
    message: str | None = None


def _rejected(sale_id: str, reason: str, message: str) -> RefundOutcome:
    return RefundOutcome(sale_id, refunded=False, reason=reason, message=message)


def _judge(
    refund: Refund, row: Observation | None, earlier: Refund | None, *, now: datetime
) -> RefundOutcome | None:
    """A refund's answer when it needs no writing (a replay, or a rejection); None when it is to be recorded."""
    if row is None:
        return _rejected(refund.sale_id, "SALE_NOT_FOUND", f"No sale {refund.sale_id} of this pharmacy.")
    if row.source != POS:
        return _rejected(
            refund.sale_id,
            "SALE_NOT_REFUNDABLE",
            "This line came from a pharmacy settlement: it is taken back by reversing the settlement.",
        )
    done = row.refund_time if row.refund_time is not None else earlier.refund_time if earlier else None
    if done is not None:
        if done == refund.refund_time:
            return RefundOutcome(refund.sale_id, refunded=True, refund_time=done.astimezone(UTC), replay=True)
        return _rejected(
            refund.sale_id, "REFUND_CONFLICT", f"This sale was already refunded at {done.isoformat()}."
        )
    if refund.refund_time < row.sel_time:
        return _rejected(refund.sale_id, "REFUND_BEFORE_SALE", "refund_time lies before the sale's sel_time.")
    if refund.refund_time > now + FUTURE_TOLERANCE:
        return _rejected(refund.sale_id, "REFUND_TIME_IN_FUTURE", "refund_time lies in the future.")
    return None


async def refund_sales(
    *, uow: PricingUnitOfWork, fixmedins_code: str, refunds: Sequence[Refund], clock: Clock
) -> list[RefundOutcome]:
    """Refund a pharmacy's POS sales: each refunded once (idempotent per sale_id), or rejected with a reason."""
    now = clock.now()
    # Locked: two requests refunding the same sale take turns, and the second finds it refunded.
    rows = await uow.observations.of_sales(
        fixmedins_code, sorted({refund.sale_id for refund in refunds}), lock=True
    )
    outcomes: list[RefundOutcome] = []
    fresh: dict[str, Refund] = {}
    for refund in refunds:
        row = rows.get(refund.sale_id)
        outcome = _judge(refund, row, fresh.get(refund.sale_id), now=now)
        if outcome is None:
            fresh[refund.sale_id] = refund
            outcome = RefundOutcome(
                refund.sale_id, refunded=True, refund_time=refund.refund_time.astimezone(UTC)
            )
        outcomes.append(outcome)
    if not fresh:
        return outcomes
    refunded = [(rows[sale_id], refund) for sale_id, refund in fresh.items()]
    groups = sorted({(row.admdvs, row.med_list_codg) for row, _ in refunded})
    for admdvs in sorted({admdvs for admdvs, _ in groups}):
        await uow.references.lock_groups(admdvs, [drug for region, drug in groups if region == admdvs])
    await uow.observations.mark_refunded(
        [
            {
                "observation_id": row.observation_id,
                "refund_time": refund.refund_time,
                "refund_note": refund.note,
                "refunded_at": now,
            }
            for row, refund in refunded
        ]
    )
    settings = await monitoring.current(uow=uow)
    cutoff = now - timedelta(days=settings.window_days)
    for admdvs, drug in groups:
        await uow.references.restore_latest(
            fixmedins_code=fixmedins_code, admdvs=admdvs, med_list_codg=drug, cutoff=cutoff, now=now
        )
    data = {
        "fixmedins_code": fixmedins_code,
        "refunds": [
            {
                "sale_id": row.sale_id,
                "med_list_codg": row.med_list_codg,
                "cnt": row.cnt,
                "sel_time": row.sel_time.isoformat(),
                "drug_trac_codg": list(row.drug_trac_codg),
                "refund_time": refund.refund_time.isoformat(),
            }
            for row, refund in refunded
        ],
    }
    await uow.publish(
        new_event(type=Subject.SALE_REFUNDED, source=SOURCE, subject=fixmedins_code, data=data, clock=clock)
    )
    return outcomes
