"""Reversal (冲正/撤销, 2208/2305) of a settlement that stands, in the request's unit of work."""

from __future__ import annotations

from common.clock import Clock, business_date
from common.errors import Conflict, NotFound
from common.events.contracts import Subject
from common.events.envelope import new_event
from common.principal import Principal, ensure_scope
from settlement.domain.claims import OPEN, REVERSED
from settlement.domain.ledger import reversal_legs
from settlement.domain.monthly import CONFIRMED, LOCKED
from settlement.domain.points import INPATIENT_MED_TYPE
from settlement.mappers import reversal_out, reversed_event_data, year_delta
from settlement.models import SettlementReversal
from settlement.schemas.claims import ReversalOut
from settlement.service.context import counting_day, new_id
from settlement.service.settle import SETTLEMENTS, SOURCE
from settlement.uow import SettlementUnitOfWork


async def reverse_settlement(
    *, uow: SettlementUnitOfWork, setl_id: str, reason: str, principal: Principal, clock: Clock
) -> ReversalOut:
    """冲正: take back what the settlement added to the year and drew from the accounts, with opposite legs."""
    settlement = await uow.settlements.find_for_update(setl_id)
    if settlement is None:
        raise NotFound(f"No settlement {setl_id}.", code="SETTLEMENT_NOT_FOUND")
    ensure_scope(principal, settlement.fixmedins_code)
    if settlement.status == REVERSED:
        raise Conflict(f"Settlement {setl_id} is already reversed.", code="ALREADY_REVERSED")
    if settlement.med_type == INPATIENT_MED_TYPE:
        # A case the year clearing paid on stays: a correction after it is a deduction (扣款), not a reversal.
        status = (await uow.points.clearing_statuses(settlement.year)).get(settlement.insutype)
        institution = await uow.institutions.find(settlement.fixmedins_code)
        if status in (CONFIRMED, LOCKED) and institution is not None and institution.points_payment:
            raise Conflict(
                f"Settlement {setl_id} was paid on by the confirmed {settlement.year} clearing of "
                f"{settlement.insutype}; it can no longer be reversed (recover it as a deduction).",
                code="YEAR_CONFIRMED",
            )
    now = clock.now()
    on = business_date(now)
    psn_no, holder = settlement.psn_no, settlement.mulaid_holder_psn_no
    await uow.accumulators.lock_year(psn_no=psn_no, insutype=settlement.insutype, year=settlement.year)
    balances = await uow.accounts.balances([psn_no, *([holder] if holder else [])], lock=True)
    await uow.accumulators.add_to_year(
        psn_no=psn_no,
        insutype=settlement.insutype,
        year=settlement.year,
        delta=year_delta(settlement),
        sign=-1,
        count=-1,
    )
    await uow.accounts.move(psn_no, settlement.acct_pay_fen, now=now)
    if holder and settlement.acct_mulaid_pay_fen:
        await uow.accounts.move(holder, settlement.acct_mulaid_pay_fen, now=now)
    reversal_id = new_id("R")
    legs = reversal_legs(await uow.journal.legs(kind="settlement", ref=setl_id))
    await uow.journal.post(kind="reversal", ref=reversal_id, business_date=on, legs=legs, now=now)
    settlement.status = REVERSED
    visit = await uow.visits.get(settlement.mdtrt_id)
    if visit is not None:
        visit.status = OPEN
    balc_fen = balances.get(psn_no, 0) + settlement.acct_pay_fen
    answer = reversal_out(
        settlement, reversal_id=reversal_id, reason=reason, setl_time=now, balc_fen=balc_fen
    )
    counted_on = await counting_day(uow=uow, on=on)
    uow.settlements.add_reversal(
        SettlementReversal(
            setl_id=reversal_id,
            orig_setl_id=setl_id,
            fixmedins_code=settlement.fixmedins_code,
            psn_no=psn_no,
            reason=reason,
            setl_time=now,
            business_date=on,
            response=answer.model_dump(mode="json"),
            created_by=principal.client_id,
            day_close_date=counted_on,
        )
    )
    await uow.flush()
    data = reversed_event_data(settlement, answer, on=on)
    await uow.publish(
        new_event(type=Subject.REVERSED, source=SOURCE, subject=reversal_id, data=data, clock=clock)
    )
    SETTLEMENTS.labels(settlement.med_type, "reversed").inc()
    return answer
