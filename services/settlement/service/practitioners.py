"""Suspended practitioners: fraud's suspensions kept from its events (the claims check them: service.context).

Settlement never asks fraud: fraud.practitioner.suspended and .reinstated feed a projection, and a claim's
lines are checked by their fee dates against the periods, so a line is refused within a period whether or
not fraud's reinstatement sweep has run, and paid after it.
"""

from __future__ import annotations

from datetime import datetime

from common.events.fraud import PractitionerReinstated, PractitionerSuspended
from settlement.uow import SettlementUnitOfWork


async def apply_suspended(*, uow: SettlementUnitOfWork, data: PractitionerSuspended, now: datetime) -> None:
    """Keep a suspension (again: the same row, refreshed)."""
    await uow.suspensions.keep(
        suspension_id=data.suspension_id,
        prac_codg=data.prac_codg,
        fixmedins_code=data.fixmedins_code,
        level=data.level,
        suspended_from=data.suspended_from,
        suspended_until=data.suspended_until,
        lifted_on=None,
        now=now,
    )


async def apply_reinstated(*, uow: SettlementUnitOfWork, data: PractitionerReinstated, now: datetime) -> None:
    """A suspension's period ended: lines from `reinstated_on` are paid (earlier ones within it stay refused)."""
    await uow.suspensions.keep(
        suspension_id=data.suspension_id,
        prac_codg=data.prac_codg,
        fixmedins_code=data.fixmedins_code,
        level=data.level,
        suspended_from=data.suspended_from,
        suspended_until=data.suspended_until,
        lifted_on=data.reinstated_on,
        now=now,
    )
