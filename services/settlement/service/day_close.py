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

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from common.clock import SHANGHAI, Clock, business_date
from common.db import Database
from common.errors import Conflict, NotFound, Unprocessable
from common.events.contracts import Subject
from common.events.envelope import new_event
from common.events.outbox import add_event
from common.money import fen_to_yuan
from settlement.domain.ledger import BANK, Leg, payable_account
from settlement.domain.split import FUND_ASSISTANCE, POOL_FUND, SUPPLEMENTARY_FUND
from settlement.models import (
    DailyStatement,
    DayClose,
    Disbursement,
    Settlement,
    SettlementReversal,
    table_of,
)
from settlement.service.ledger import post_journal

log = logging.getLogger("settlement.day_close")
SOURCE = "settlement"
# pg_advisory_xact_lock key: "日结算" for every replica of the service.
DAY_CLOSE_LOCK = 0x5E771E_DA7C105E
SCHEDULED_AT = time(0, 30)  # Asia/Shanghai
PENDING, PAID = "pending", "paid"

_AMOUNTS = (
    "medfee_fen",
    "inscp_scp_fen",
    "hifp_pay_fen",
    "hifmi_pay_fen",
    "hifob_pay_fen",
    "maf_pay_fen",
    "fund_pay_fen",
    "acct_pay_fen",
    "acct_mulaid_pay_fen",
    "psn_cash_pay_fen",
)


@dataclass
class _Totals:
    setl_cnt: int = 0
    reversal_cnt: int = 0

    def __post_init__(self) -> None:
        self.amounts: dict[str, int] = dict.fromkeys(_AMOUNTS, 0)
        self.by_fund: dict[str, int] = defaultdict(int)

    @property
    def payable_fen(self) -> int:
        """What the bureau owes for the day: the funds' part and the personal accounts' (held by the bureau)."""
        return (
            self.amounts["fund_pay_fen"] + self.amounts["acct_pay_fen"] + self.amounts["acct_mulaid_pay_fen"]
        )

    def add(self, insutype: str, row: Any, sign: int) -> None:
        for name in _AMOUNTS:
            self.amounts[name] += sign * int(getattr(row, name))
        self.by_fund[POOL_FUND.get(insutype, f"{insutype}100")] += sign * int(row.hifp_pay_fen)
        if insutype in SUPPLEMENTARY_FUND:
            self.by_fund[SUPPLEMENTARY_FUND[insutype]] += sign * int(row.hifmi_pay_fen + row.hifob_pay_fen)
        self.by_fund[FUND_ASSISTANCE] += sign * int(row.maf_pay_fen)


def _is_postgres(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "postgresql"


async def _lock(session: AsyncSession) -> None:
    """The close's side: exclusive, until the close commits."""
    if _is_postgres(session):
        await session.execute(sa.select(sa.func.pg_advisory_xact_lock(DAY_CLOSE_LOCK)))


async def last_closed(session: AsyncSession) -> date | None:
    value = await session.scalar(sa.select(sa.func.max(DayClose.business_date)))
    return value if value is None or isinstance(value, date) else date.fromisoformat(str(value))


async def counting_day(session: AsyncSession, on: date) -> date:
    """The writer's side: the day close that will count a settlement or reversal of business date `on`.

    Takes the shared lock first (a close in progress finishes before this reads), then reads the last
    closed day in a statement of its own, whose snapshot is taken after the lock is granted.
    """
    if _is_postgres(session):
        await session.execute(sa.select(sa.func.pg_advisory_xact_lock_shared(DAY_CLOSE_LOCK)))
    closed = await last_closed(session)
    if closed is not None and on <= closed:
        return closed + timedelta(days=1)
    return on


def _sum_columns(table: sa.Table, prefix: str = "") -> list[Any]:
    return [sa.func.coalesce(sa.func.sum(table.c[name]), 0).label(prefix + name) for name in _AMOUNTS]


async def _sum_day(session: AsyncSession, day: date, previous: date | None) -> dict[str, _Totals]:
    """Totals per institution of what this close counts: day_close_date = day (or up to it, at the first close)."""
    settlement, reversal = table_of(Settlement), table_of(SettlementReversal)

    def counted(column: Any) -> Any:
        return column == day if previous is not None else column <= day

    totals: dict[str, _Totals] = defaultdict(_Totals)
    settled = await session.execute(
        sa.select(
            settlement.c.fixmedins_code,
            settlement.c.insutype,
            sa.func.count().label("n"),
            *_sum_columns(settlement),
        )
        .where(counted(settlement.c.day_close_date))
        .group_by(settlement.c.fixmedins_code, settlement.c.insutype)
    )
    for row in settled:
        entry = totals[row.fixmedins_code]
        entry.setl_cnt += int(row.n)
        entry.add(row.insutype, row, 1)
    # A reversal counts on the day it was closed, negative, whenever its settlement was.
    reversed_ = await session.execute(
        sa.select(
            reversal.c.fixmedins_code,
            settlement.c.insutype,
            sa.func.count().label("n"),
            *_sum_columns(settlement),
        )
        .select_from(reversal.join(settlement, settlement.c.setl_id == reversal.c.orig_setl_id))
        .where(counted(reversal.c.day_close_date))
        .group_by(reversal.c.fixmedins_code, settlement.c.insutype)
    )
    for row in reversed_:
        entry = totals[row.fixmedins_code]
        entry.reversal_cnt += int(row.n)
        entry.add(row.insutype, row, -1)
    return totals


@dataclass(frozen=True, slots=True)
class CloseOutcome:
    day_close: DayClose
    statements: list[DailyStatement]
    created: bool


async def close_day(
    db: Database, *, day: date, closed_by: str, clock: Clock, allow_today: bool = False
) -> CloseOutcome:
    """Close one business day; closing a closed day answers with what was closed then."""
    now = clock.now()
    today = business_date(now)
    if day >= today and not (allow_today and day == today):
        raise Unprocessable(
            f"{day} is not over yet (today is {today} in Asia/Shanghai); a day closes after it ends.",
            code="DAY_NOT_OVER",
        )
    async with db.transaction() as session:
        await _lock(session)
        existing = await session.get(DayClose, day)
        if existing is not None:
            return CloseOutcome(existing, await statements_of(session, day=day), created=False)
        previous = await last_closed(session)
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
        totals = await _sum_day(session, day, previous)
        rows: list[dict[str, Any]] = [
            {
                "business_date": day,
                "fixmedins_code": code,
                "setl_cnt": entry.setl_cnt,
                "reversal_cnt": entry.reversal_cnt,
                **entry.amounts,
                "fund_by_type": {fund: amount for fund, amount in sorted(entry.by_fund.items()) if amount},
                "created_at": now,
            }
            for code, entry in sorted(totals.items())
        ]
        if rows:
            await session.execute(sa.insert(table_of(DailyStatement)), rows)
            await session.execute(
                sa.insert(table_of(Disbursement)),
                [
                    {
                        "business_date": day,
                        "fixmedins_code": row["fixmedins_code"],
                        "amount_fen": totals[row["fixmedins_code"]].payable_fen,
                        "due_date": day + timedelta(days=1),
                        "status": PENDING,
                        "created_at": now,
                    }
                    for row in rows
                ],
            )
        closed = DayClose(
            business_date=day,
            settlement_count=sum(entry.setl_cnt for entry in totals.values()),
            reversal_count=sum(entry.reversal_cnt for entry in totals.values()),
            institution_count=len(rows),
            closed_at=now,
            closed_by=closed_by,
        )
        session.add(closed)
        await session.flush()
        statements = await statements_of(session, day=day)
        await add_event(
            session,
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
            ),
        )
    log.info(
        "closed %s: %d settlements, %d reversals, %d institutions",
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


async def statements_of(
    session: AsyncSession, *, day: date | None = None, fixmedins_code: str | None = None, limit: int = 10_000
) -> list[DailyStatement]:
    query = sa.select(DailyStatement)
    if day is not None:
        query = query.where(DailyStatement.business_date == day)
    if fixmedins_code is not None:
        query = query.where(DailyStatement.fixmedins_code == fixmedins_code)
    query = query.order_by(DailyStatement.business_date.desc(), DailyStatement.fixmedins_code).limit(limit)
    return list((await session.scalars(query)).all())


async def get_day_close(session: AsyncSession, day: date) -> DayClose:
    closed = await session.get(DayClose, day)
    if closed is None:
        raise NotFound(f"{day} is not closed.", code="DAY_NOT_CLOSED")
    return closed


# --- disbursements -------------------------------------------------------------------------------------


async def list_disbursements(
    session: AsyncSession, *, day: date | None, fixmedins_code: str | None, status: str | None, limit: int
) -> list[Disbursement]:
    query = sa.select(Disbursement)
    if day is not None:
        query = query.where(Disbursement.business_date == day)
    if fixmedins_code is not None:
        query = query.where(Disbursement.fixmedins_code == fixmedins_code)
    if status is not None:
        query = query.where(Disbursement.status == status)
    query = query.order_by(Disbursement.business_date.desc(), Disbursement.fixmedins_code).limit(limit)
    return list((await session.scalars(query)).all())


async def mark_paid(
    session: AsyncSession, disbursement_id: int, *, paid_by: str, payment_ref: str | None, clock: Clock
) -> Disbursement:
    """pending → paid, with the journal that moves the money from the fund's bank to the institution."""
    disbursement = await session.scalar(
        sa.select(Disbursement).where(Disbursement.disbursement_id == disbursement_id).with_for_update()
    )
    if disbursement is None:
        raise NotFound(f"No disbursement {disbursement_id}.", code="DISBURSEMENT_NOT_FOUND")
    if disbursement.status == PAID:
        raise Conflict(f"Disbursement {disbursement_id} is already paid.", code="ALREADY_PAID")
    now = clock.now()
    disbursement.status = PAID
    disbursement.paid_at = now
    disbursement.paid_by = paid_by
    disbursement.payment_ref = payment_ref
    await post_journal(
        session,
        kind="disbursement",
        ref=f"disbursement:{disbursement_id}",
        business_date=business_date(now),
        legs=[
            Leg(payable_account(disbursement.fixmedins_code), disbursement.amount_fen),
            Leg(BANK, -disbursement.amount_fen),
        ],
        now=now,
    )
    await session.flush()
    return disbursement


# --- the scheduler -------------------------------------------------------------------------------------


async def close_due_days(db: Database, *, clock: Clock, max_days: int = 31) -> list[date]:
    """Close every day not yet closed up to yesterday, once it is past 00:30 in Asia/Shanghai.

    After a stop of several days it catches up in order. The first close ever starts from the oldest
    settlement's day (or yesterday when there is none).
    """
    local = clock.now().astimezone(SHANGHAI)
    yesterday = local.date() - timedelta(days=1)
    if local.time() < SCHEDULED_AT:
        yesterday -= timedelta(days=1)
    async with db.transaction(readonly=True) as session:
        previous = await last_closed(session)
        if previous is None:
            oldest = await session.scalar(sa.select(sa.func.min(Settlement.day_close_date)))
            start = min(oldest, yesterday) if isinstance(oldest, date) else yesterday
        else:
            start = previous + timedelta(days=1)
    closed: list[date] = []
    day = start
    while day <= yesterday and len(closed) < max_days:
        outcome = await close_day(db, day=day, closed_by="scheduler", clock=clock)
        if outcome.created:
            closed.append(day)
        day += timedelta(days=1)
    return closed


def scheduler(interval_s: float) -> Any:
    """A worker that checks every `interval_s` whether a day is due to close (safe with many replicas)."""

    async def day_close_scheduler(app: Any) -> None:
        while True:
            try:
                closed = await close_due_days(app.state.db, clock=app.state.clock)
                if closed:
                    log.info("scheduled day close: %s", ", ".join(d.isoformat() for d in closed))
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the next tick tries again; a close is all or nothing
                log.warning("scheduled day close failed (%s); retrying later", type(exc).__name__)
            await asyncio.sleep(interval_s)

    return day_close_scheduler
