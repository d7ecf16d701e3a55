"""依码结算: the switch per institution type that makes drug lines carry their traceability codes, versioned."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from common.clock import Clock
from settlement.domain.trace_codes import FIXMEDINS_TYPES
from settlement.models import TraceCodePolicy
from settlement.uow import SettlementUnitOfWork


@dataclass(frozen=True, slots=True)
class TraceCodeSwitch:
    """An institution type's switch as it stands (version 0: never set, off)."""

    fixmedins_type: str
    required: bool
    version: int
    note: str | None
    created_by: str
    created_at: datetime | None


def _switch(row: TraceCodePolicy) -> TraceCodeSwitch:
    return TraceCodeSwitch(
        row.fixmedins_type, row.required, row.version_id, row.note, row.created_by, row.created_at
    )


def _off(fixmedins_type: str) -> TraceCodeSwitch:
    return TraceCodeSwitch(fixmedins_type, False, 0, "默认关闭 off until ops turn it on", "system", None)


async def trace_code_switches(
    *, uow: SettlementUnitOfWork
) -> tuple[list[TraceCodeSwitch], list[TraceCodeSwitch]]:
    """Each institution type's switch as it stands, and every change, oldest first."""
    history = [_switch(row) for row in await uow.trace_code_policy.history()]
    current = {switch.fixmedins_type: switch for switch in history}
    return [current.get(kind) or _off(kind) for kind in FIXMEDINS_TYPES], history


async def set_trace_code_switch(
    *, uow: SettlementUnitOfWork, fixmedins_type: str, required: bool, note: str | None, by: str, clock: Clock
) -> tuple[TraceCodeSwitch, bool]:
    """Turn 依码结算 on or off for an institution type: a new version when it changes (who, when, why kept);
    the same state again changes nothing. Returns the switch as it stands and whether it changed."""
    latest = await uow.trace_code_policy.latest(fixmedins_type, lock=True)
    if (latest.required if latest is not None else False) == required:
        return (_switch(latest) if latest is not None else _off(fixmedins_type)), False
    row = TraceCodePolicy(
        fixmedins_type=fixmedins_type, required=required, note=note, created_by=by, created_at=clock.now()
    )
    uow.trace_code_policy.add(row)
    await uow.flush()
    return _switch(row), True
