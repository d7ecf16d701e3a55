"""Settlements as stored: one with its status and reversal, and the list newest first."""

from __future__ import annotations

from datetime import date

from common.errors import NotFound
from common.principal import Principal, Role, ensure_scope
from settlement.mappers import settlement_summary
from settlement.schemas.claims import SettlementPage, SettlementRecord
from settlement.uow import SettlementUnitOfWork


async def get_settlement(
    *, uow: SettlementUnitOfWork, setl_id: str, principal: Principal
) -> SettlementRecord:
    """The very body the settlement answered, with its status and the reversal's id."""
    settlement = await uow.settlements.get(setl_id)
    if settlement is None:
        raise NotFound(f"No settlement {setl_id}.", code="SETTLEMENT_NOT_FOUND")
    ensure_scope(principal, settlement.fixmedins_code)
    reversal = await uow.settlements.reversal_of(setl_id)
    return SettlementRecord.model_validate(
        {**settlement.response, "status": settlement.status, "reversal_setl_id": reversal}
    )


async def list_settlements(
    *,
    uow: SettlementUnitOfWork,
    principal: Principal,
    fixmedins_code: str | None,
    on: date | None,
    psn_no: str | None,
    mdtrt_id: str | None,
    medins_setl_id: str | None,
    limit: int,
    cursor: str | None,
) -> SettlementPage:
    """Settlements newest first; an institution's client sees only its own."""
    if principal.role is not Role.OPS:
        fixmedins_code = fixmedins_code or principal.scope
    if fixmedins_code is not None:
        ensure_scope(principal, fixmedins_code)
    page = await uow.settlements.page(
        fixmedins_code=fixmedins_code,
        on=on,
        psn_no=psn_no,
        mdtrt_id=mdtrt_id,
        medins_setl_id=medins_setl_id,
        limit=limit,
        cursor=cursor,
    )
    return SettlementPage(items=[settlement_summary(row) for row in page.items], next_cursor=page.next_cursor)
