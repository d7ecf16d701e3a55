"""Day close (日结算): each business day's statements per institution and the disbursement due next day.

Every settlement and reversal is written with the day close that will count it (`day_close_date`): its
business date, or — when that day is already closed — the next open day ("late settlements fall into the
next open day"). On PostgreSQL the write takes a shared advisory lock before it reads the last closed day,
and a close takes the same lock exclusively: it waits for the writes in flight, and writes after it see
the day closed. So nothing is lost or counted twice, and the close itself is a read of an index range, not
an update of a million rows. Closes run in date order, once each (replicas and the scheduler alike). SQLite
has one writer at a time, which gives the same order.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, time, timedelta
from typing import Any

from common.clock import SHANGHAI, Clock, business_date
from common.db import Database
from common.errors import Conflict, NotFound, Unprocessable
from common.events.contracts import Subject
from common.events.envelope import new_event
from common.money import fen_to_yuan
from settlement.domain import day_close as domain
from settlement.domain.day_close import PAID, PENDING, DayTotals
from settlement.domain.ledger import BANK, Leg, payable_account
from settlement.models import DailyStatement, DayClose, Disbursement
from settlement.uow import SettlementUnitOfWork

log = logging.getLogger("settlement.day_close")
SOURCE = "settlement"
SCHEDULED_AT = time(0, 30)  # Asia/Shanghai


async def _totals(uow: SettlementUnitOfWork, day: date, *, first_close: bool) -> dict[str, DayTotals]:
    """Totals per institution of what a close of `day` counts."""
    counted = await uow.day_closes.counted(day, first_close=first_close)
    totals: dict[str, DayTotals] = defaultdict(DayTotals)
    for group in counted.settled:
        entry = totals[group.fixmedins_code]
        entry.setl_cnt += group.count
        entry.add(group.insutype, group.amounts, 1)
    for group in counted.reversed:
        entry = totals[group.fixmedins_code]
        entry.reversal_cnt += group.count
        entry.add(group.insutype, group.amounts, -1)
    return totals


@dataclass(frozen=True, slots=True)
class CloseOutcome:
    """A closed day with its statements, and whether this call closed it."""

    day_close: DayClose
    statements: list[DailyStatement]
    created: bool


async def close_day(
    *, uow: SettlementUnitOfWork, day: date, closed_by: str, clock: Clock, allow_today: bool = False
) -> CloseOutcome:
    """Close one business day; closing a closed day answers with what was closed then."""
    now = clock.now()
    today = business_date(now)
    if domain.day_not_over(day, today, allow_today=allow_today):
        raise Unprocessable(
            f"{day} is not over yet (today is {today} in Asia/Shanghai); a day closes after it ends.",
            code="DAY_NOT_OVER",
        )
    await uow.day_closes.lock_for_close()
    existing = await uow.day_closes.get(day)
    if existing is not None:
        return CloseOutcome(existing, await uow.day_closes.statements(day=day), created=False)
    previous = await uow.day_closes.last_closed()
    if previous is not None and day > previous + timedelta(days=1):
        raise Conflict(
            f"{previous + timedelta(days=1)} is not closed yet; days close in order.",
            code="PREVIOUS_DAY_OPEN",
            open_date=(previous + timedelta(days=1)).isoformat(),
        )
    if previous is not None and day < previous:
        # Before the last close and not itself closed: it never had a close of its own (its settlements
        # went into a later day when the first close ever was made).
        raise Conflict(f"{day} is before the last closed day {previous}.", code="DAY_BEFORE_LAST_CLOSE")
    totals = await _totals(uow, day, first_close=previous is None)
    ordered = sorted(totals.items())
    await uow.day_closes.add_statements(
        [
            {
                "business_date": day,
                "fixmedins_code": code,
                "setl_cnt": entry.setl_cnt,
                "reversal_cnt": entry.reversal_cnt,
                **entry.amounts,
                "fund_by_type": entry.fund_by_type(),
                "created_at": now,
            }
            for code, entry in ordered
        ],
        [
            {
                "business_date": day,
                "fixmedins_code": code,
                "amount_fen": entry.payable_fen,
                "due_date": day + timedelta(days=1),
                "status": PENDING,
                "created_at": now,
            }
            for code, entry in ordered
        ],
    )
    closed = DayClose(
        business_date=day,
        settlement_count=sum(entry.setl_cnt for entry in totals.values()),
        reversal_count=sum(entry.reversal_cnt for entry in totals.values()),
        institution_count=len(ordered),
        closed_at=now,
        closed_by=closed_by,
    )
    uow.day_closes.add(closed)
    await uow.flush()
    statements = await uow.day_closes.statements(day=day)
    await uow.publish(
        new_event(
            type=Subject.DAY_CLOSED,
            source=SOURCE,
            subject=day.isoformat(),
            data={
                "business_date": day.isoformat(),
                "settlement_count": closed.settlement_count,
                "reversal_count": closed.reversal_count,
                "institutions": [statement_json(s) for s in statements],
            },
            clock=clock,
        )
    )
    log.info(
        "closing %s: %d settlements, %d reversals, %d institutions",
        day,
        closed.settlement_count,
        closed.reversal_count,
        closed.institution_count,
    )
    return CloseOutcome(closed, statements, created=True)


def statement_json(statement: DailyStatement) -> dict[str, Any]:
    """A daily statement as the wire and the day.closed event show it (yuan strings)."""
    return {
        "business_date": statement.business_date.isoformat(),
        "fixmedins_code": statement.fixmedins_code,
        "setl_cnt": statement.setl_cnt,
        "reversal_cnt": statement.reversal_cnt,
        "medfee_sumamt": str(fen_to_yuan(statement.medfee_fen)),
        "inscp_scp_amt": str(fen_to_yuan(statement.inscp_scp_fen)),
        "hifp_pay": str(fen_to_yuan(statement.hifp_pay_fen)),
        "hifmi_pay": str(fen_to_yuan(statement.hifmi_pay_fen)),
        "hifob_pay": str(fen_to_yuan(statement.hifob_pay_fen)),
        "maf_pay": str(fen_to_yuan(statement.maf_pay_fen)),
        "fund_pay_sumamt": str(fen_to_yuan(statement.fund_pay_fen)),
        "fund_by_type": {fund: str(fen_to_yuan(amount)) for fund, amount in statement.fund_by_type.items()},
        "acct_pay": str(fen_to_yuan(statement.acct_pay_fen)),
        "acct_mulaid_pay": str(fen_to_yuan(statement.acct_mulaid_pay_fen)),
        "psn_cash_pay": str(fen_to_yuan(statement.psn_cash_pay_fen)),
    }


async def daily_statements(
    *, uow: SettlementUnitOfWork, day: date | None, fixmedins_code: str | None, limit: int
) -> list[DailyStatement]:
    """Daily statements newest first, of a day and of an institution when given."""
    return await uow.day_closes.statements(day=day, fixmedins_code=fixmedins_code, limit=limit)


async def get_day_close(*, uow: SettlementUnitOfWork, day: date) -> CloseOutcome:
    """A closed day with its statements, or 404 DAY_NOT_CLOSED."""
    closed = await uow.day_closes.get(day)
    if closed is None:
        raise NotFound(f"{day} is not closed.", code="DAY_NOT_CLOSED")
    return CloseOutcome(closed, await uow.day_closes.statements(day=day), created=False)


# --- disbursements -------------------------------------------------------------------------------------


async def list_disbursements(
    *, uow: SettlementUnitOfWork, day: date | None, fixmedins_code: str | None, status: str | None, limit: int
) -> list[Disbursement]:
    """Disbursement orders newest first, filtered by day, institution and status when given."""
    return await uow.disbursements.listed(day=day, fixmedins_code=fixmedins_code, status=status, limit=limit)


async def mark_paid(
    *, uow: SettlementUnitOfWork, disbursement_id: int, paid_by: str, payment_ref: str | None, clock: Clock
) -> Disbursement:
    """pending → paid, with the journal that moves the money from the fund's bank to the institution."""
    disbursement = await uow.disbursements.find_for_update(disbursement_id)
    if disbursement is None:
        raise NotFound(f"No disbursement {disbursement_id}.", code="DISBURSEMENT_NOT_FOUND")
    if disbursement.status == PAID:
        raise Conflict(f"Disbursement {disbursement_id} is already paid.", code="ALREADY_PAID")
    now = clock.now()
    disbursement.status = PAID
    disbursement.paid_at = now
    disbursement.paid_by = paid_by
    disbursement.payment_ref = payment_ref
    await uow.journal.post(
        kind="disbursement",
        ref=f"disbursement:{disbursement_id}",
        business_date=business_date(now),
        legs=[
            Leg(payable_account(disbursement.fixmedins_code), disbursement.amount_fen),
            Leg(BANK, -disbursement.amount_fen),
        ],
        now=now,
    )
    await uow.flush()
    return disbursement


# --- the scheduler -------------------------------------------------------------------------------------


async def close_due_days(*, db: Database, clock: Clock, max_days: int = 31) -> list[date]:
    """Close every day not yet closed up to yesterday, once it is past 00:30 in Asia/Shanghai.

    After a stop of several days it catches up in order, each day in a transaction of its own. The first
    close ever starts from the oldest settlement's day (or yesterday when there is none).
    """
    local = clock.now().astimezone(SHANGHAI)
    yesterday = local.date() - timedelta(days=1)
    if local.time() < SCHEDULED_AT:
        yesterday -= timedelta(days=1)
    async with SettlementUnitOfWork(db, readonly=True) as uow:
        previous = await uow.day_closes.last_closed()
        if previous is None:
            oldest = await uow.day_closes.oldest_counting_day()
            start = min(oldest, yesterday) if oldest is not None else yesterday
        else:
            start = previous + timedelta(days=1)
    closed: list[date] = []
    day = start
    while day <= yesterday and len(closed) < max_days:
        async with SettlementUnitOfWork(db) as uow:
            outcome = await close_day(uow=uow, day=day, closed_by="scheduler", clock=clock)
        if outcome.created:
            closed.append(day)
        day += timedelta(days=1)
    return closed


def scheduler(interval_s: float) -> Any:
    """A worker that checks every `interval_s` whether a day is due to close (safe with many replicas)."""

    async def day_close_scheduler(app: Any) -> None:
        while True:
            try:
                closed = await close_due_days(db=app.state.db, clock=app.state.clock)
                if closed:
                    log.info("scheduled day close: %s", ", ".join(d.isoformat() for d in closed))
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the next tick tries again; a close is all or nothing
                log.warning("scheduled day close failed (%s); retrying later", type(exc).__name__)
            await asyncio.sleep(interval_s)

    return day_close_scheduler
