"""Month reconciliation (月核算), prepayments (预付) and deductions (扣款) from confirmed fraud findings.

A month is reconciled per institution: the sum of its daily statements (日结算单) against the same totals
recomputed from the settlements and reversals those closes claimed (`day_close_date` in the month). A day
where the two differ is a mismatch, listed with its settlements and never absorbed: a month with one cannot
be confirmed. Deductions (confirmed fraud findings not yet applied, confirmed on or before the month's last
day) and outstanding prepayments (paid on or before it) are taken off: net adjustment = −(deductions +
prepayments), negative meaning the institution owes the bureau (withheld from its next disbursements).

Status: draft (recomputable) → confirmed (deductions and prepayments marked as taken, the event sent) →
locked (never changes). Anything that arrives after a month was confirmed is still unapplied, so the next
month picks it up. Months are reconciled in order: a month is computed only when every earlier month is
locked or never had a daily statement, and never once a later month has a reconciliation. On PostgreSQL a
transaction-scoped advisory lock serialises compute, confirm and lock across replicas.
"""

from __future__ import annotations

import calendar
import hashlib
import logging
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from common.clock import SHANGHAI, Clock, business_date
from common.db import Database
from common.errors import BadRequest, Conflict, NotFound, Unprocessable
from common.events.contracts import Subject
from common.events.envelope import new_event
from common.events.fraud import FindingConfirmed
from common.events.outbox import add_event
from common.money import fen_to_yuan, yuan_to_fen
from common.pagination import decode_cursor, encode_cursor
from settlement.domain.ledger import BANK, Leg, fund_account, payable_account
from settlement.domain.split import POOL_FUND
from settlement.models import (
    DailyStatement,
    DayClose,
    Deduction,
    MonthlyReconciliation,
    MonthlyStatement,
    Prepayment,
    Settlement,
    SettlementReversal,
    table_of,
)
from settlement.schemas.monthly import (
    DeductionOut,
    DeductionPage,
    MismatchOut,
    MonthlyReconciliationOut,
    MonthlyStatementOut,
    PrepaymentIn,
    PrepaymentOut,
    PrepaymentPage,
    ReconciliationStatus,
    Totals,
)
from settlement.service.ledger import post_journal
from settlement.service.reference import find_institution

log = logging.getLogger("settlement.monthly")
SOURCE = "settlement"
# pg_advisory_xact_lock key: "月核算" for every replica of the service.
MONTHLY_LOCK = 0x5E771E_303E7C
DRAFT, CONFIRMED, LOCKED = "draft", "confirmed", "locked"
MAX_SETL_IDS = 100
_CHUNK = 1000

# Amount columns shared by Settlement and DailyStatement (integer fen), and their names on the wire.
AMOUNTS = {
    "medfee_fen": "medfee_sumamt",
    "inscp_scp_fen": "inscp_scp_amt",
    "hifp_pay_fen": "hifp_pay",
    "hifmi_pay_fen": "hifmi_pay",
    "hifob_pay_fen": "hifob_pay",
    "maf_pay_fen": "maf_pay",
    "fund_pay_fen": "fund_pay_sumamt",
    "acct_pay_fen": "acct_pay",
    "acct_mulaid_pay_fen": "acct_mulaid_pay",
    "psn_cash_pay_fen": "psn_cash_pay",
}
COUNTS = ("setl_cnt", "reversal_cnt")
TOTAL_KEYS = (*COUNTS, *AMOUNTS)
WIRE_NAMES = {**{name: name for name in COUNTS}, **AMOUNTS}

Counts = dict[str, int]
"""Totals of a period: the two counts and every amount in fen, keyed as in TOTAL_KEYS (how they are stored)."""


# --- months --------------------------------------------------------------------------------------------


def month_bounds(month: str) -> tuple[date, date]:
    """The first and last day of a month given as YYYY-MM (already checked by the schema)."""
    year, number = int(month[:4]), int(month[5:7])
    return date(year, number, 1), date(year, number, calendar.monthrange(year, number)[1])


def month_of(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def _utc_now(clock: Clock) -> datetime:
    """Now in UTC, as the database gives it back: an answer reads the same before and after a reload."""
    return clock.now().astimezone(UTC)


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


# --- the arithmetic (pure) -----------------------------------------------------------------------------


def zero_totals() -> Counts:
    return dict.fromkeys(TOTAL_KEYS, 0)


def add_totals(into: Counts, other: Mapping[str, int]) -> None:
    for key in TOTAL_KEYS:
        into[key] += int(other.get(key, 0))


def differing_fields(statements: Mapping[str, int], settlements: Mapping[str, int]) -> list[str]:
    """The wire names of the totals that differ between a daily statement and its settlements."""
    return [
        WIRE_NAMES[key] for key in TOTAL_KEYS if int(statements.get(key, 0)) != int(settlements.get(key, 0))
    ]


@dataclass
class InstitutionMonth:
    """One institution's month as computed: both sides of the reconciliation, the mismatched days."""

    statements: Counts = field(default_factory=zero_totals)
    settlements: Counts = field(default_factory=zero_totals)
    mismatches: list[dict[str, Any]] = field(default_factory=list)
    deduction_ids: list[str] = field(default_factory=list)
    deductions_fen: int = 0
    prepayment_ids: list[int] = field(default_factory=list)
    prepayments_fen: int = 0

    @property
    def net_adjustment_fen(self) -> int:
        """Negative: what the institution owes the bureau (withheld from its next disbursements)."""
        return -(self.deductions_fen + self.prepayments_fen)


def reconcile_days(
    statements: Mapping[tuple[str, date], Counts], settlements: Mapping[tuple[str, date], Counts]
) -> dict[str, InstitutionMonth]:
    """Sum each institution's days on both sides and list every day where they differ (setl_ids added later)."""
    months: dict[str, InstitutionMonth] = defaultdict(InstitutionMonth)
    for code, day in sorted(set(statements) | set(settlements)):
        stated = statements.get((code, day), zero_totals())
        recomputed = settlements.get((code, day), zero_totals())
        entry = months[code]
        add_totals(entry.statements, stated)
        add_totals(entry.settlements, recomputed)
        fields = differing_fields(stated, recomputed)
        if fields:
            entry.mismatches.append(
                {
                    "business_date": day.isoformat(),
                    "fields": fields,
                    "statements": {key: int(stated.get(key, 0)) for key in TOTAL_KEYS},
                    "settlements": {key: int(recomputed.get(key, 0)) for key in TOTAL_KEYS},
                    "setl_ids": [],
                    "setl_id_count": 0,
                }
            )
    return dict(months)


# --- reading the month --------------------------------------------------------------------------------


async def _lock(session: AsyncSession) -> None:
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(sa.select(sa.func.pg_advisory_xact_lock(MONTHLY_LOCK)))


def _sums(table: sa.Table) -> list[Any]:
    return [sa.func.coalesce(sa.func.sum(table.c[name]), 0).label(name) for name in AMOUNTS]


async def _statement_days(session: AsyncSession, first: date, last: date) -> dict[tuple[str, date], Counts]:
    statement = table_of(DailyStatement)
    rows = await session.execute(
        sa.select(
            statement.c.fixmedins_code, statement.c.business_date, *(statement.c[k] for k in TOTAL_KEYS)
        ).where(statement.c.business_date.between(first, last))
    )
    days: dict[tuple[str, date], Counts] = {}
    for row in rows:
        totals = days.setdefault((row.fixmedins_code, _as_date(row.business_date)), zero_totals())
        add_totals(totals, {key: int(getattr(row, key)) for key in TOTAL_KEYS})
    return days


async def _settlement_days(session: AsyncSession, first: date, last: date) -> dict[tuple[str, date], Counts]:
    """The totals of each institution's closed days, recomputed from settlements (+) and reversals (−)."""
    settlement, reversal = table_of(Settlement), table_of(SettlementReversal)
    days: dict[tuple[str, date], Counts] = {}
    settled = await session.execute(
        sa.select(
            settlement.c.fixmedins_code,
            settlement.c.day_close_date,
            sa.func.count().label("n"),
            *_sums(settlement),
        )
        .where(settlement.c.day_close_date.between(first, last))
        .group_by(settlement.c.fixmedins_code, settlement.c.day_close_date)
    )
    for row in settled:
        totals = days.setdefault((row.fixmedins_code, _as_date(row.day_close_date)), zero_totals())
        totals["setl_cnt"] += int(row.n)
        for name in AMOUNTS:
            totals[name] += int(getattr(row, name))
    # A reversal counts, negative with its original's amounts, on the day whose close claimed it.
    reversed_ = await session.execute(
        sa.select(
            reversal.c.fixmedins_code,
            reversal.c.day_close_date,
            sa.func.count().label("n"),
            *_sums(settlement),
        )
        .select_from(reversal.join(settlement, settlement.c.setl_id == reversal.c.orig_setl_id))
        .where(reversal.c.day_close_date.between(first, last))
        .group_by(reversal.c.fixmedins_code, reversal.c.day_close_date)
    )
    for row in reversed_:
        totals = days.setdefault((row.fixmedins_code, _as_date(row.day_close_date)), zero_totals())
        totals["reversal_cnt"] += int(row.n)
        for name in AMOUNTS:
            totals[name] -= int(getattr(row, name))
    return days


async def _setl_ids_of_day(session: AsyncSession, fixmedins_code: str, day: date) -> tuple[list[str], int]:
    """The settlements and reversals a close claimed for one institution (the first 100 by id), and how many."""
    settlement, reversal = table_of(Settlement), table_of(SettlementReversal)
    claimed = sa.union_all(
        sa.select(settlement.c.setl_id.label("setl_id")).where(
            settlement.c.fixmedins_code == fixmedins_code, settlement.c.day_close_date == day
        ),
        sa.select(reversal.c.setl_id.label("setl_id")).where(
            reversal.c.fixmedins_code == fixmedins_code, reversal.c.day_close_date == day
        ),
    ).subquery()
    ids = (
        await session.scalars(sa.select(claimed.c.setl_id).order_by(claimed.c.setl_id).limit(MAX_SETL_IDS))
    ).all()
    total = await session.scalar(sa.select(sa.func.count()).select_from(claimed))
    return list(ids), int(total or 0)


def _next_day_start(day: date) -> datetime:
    """The first moment after a business date ends, in Asia/Shanghai."""
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=SHANGHAI)


async def _open_deductions(session: AsyncSession, last: date) -> list[Deduction]:
    query = (
        sa.select(Deduction)
        .where(Deduction.month_applied.is_(None), Deduction.confirmed_at < _next_day_start(last))
        .order_by(Deduction.confirmed_at, Deduction.finding_id)
    )
    return list((await session.scalars(query)).all())


async def _outstanding_prepayments(session: AsyncSession, last: date) -> list[Prepayment]:
    query = (
        sa.select(Prepayment)
        .where(Prepayment.recovered_month.is_(None), Prepayment.paid_date <= last)
        .order_by(Prepayment.prepayment_id)
    )
    return list((await session.scalars(query)).all())


async def gather_month(session: AsyncSession, month: str) -> dict[str, InstitutionMonth]:
    """Every institution of the month with both sides, its mismatches (with setl_ids) and what it owes."""
    first, last = month_bounds(month)
    months = reconcile_days(
        await _statement_days(session, first, last), await _settlement_days(session, first, last)
    )
    for code, entry in months.items():
        for mismatch in entry.mismatches:
            ids, total = await _setl_ids_of_day(session, code, date.fromisoformat(mismatch["business_date"]))
            mismatch["setl_ids"], mismatch["setl_id_count"] = ids, total
    for deduction in await _open_deductions(session, last):
        entry = months.setdefault(deduction.fixmedins_code, InstitutionMonth())
        entry.deduction_ids.append(deduction.finding_id)
        entry.deductions_fen += deduction.amount_fen
    for prepayment in await _outstanding_prepayments(session, last):
        entry = months.setdefault(prepayment.fixmedins_code, InstitutionMonth())
        entry.prepayment_ids.append(prepayment.prepayment_id)
        entry.prepayments_fen += prepayment.amount_fen
    return dict(sorted(months.items()))


# --- the preconditions --------------------------------------------------------------------------------


async def _ensure_in_order(session: AsyncSession, month: str) -> None:
    """409 unless every earlier month is locked or never had a daily statement, and no later month exists."""
    later = await session.scalar(
        sa.select(MonthlyReconciliation.month)
        .where(MonthlyReconciliation.month > month)
        .order_by(MonthlyReconciliation.month)
        .limit(1)
    )
    if later is not None:
        raise Conflict(
            f"{later} is already reconciled; months are reconciled in order, and what belongs to {month} "
            f"now lands in the next open month.",
            code="LATER_MONTH_RECONCILED",
            later_month=later,
        )
    earlier = (
        await session.execute(
            sa.select(MonthlyReconciliation.month, MonthlyReconciliation.status)
            .where(MonthlyReconciliation.month < month)
            .order_by(MonthlyReconciliation.month)
        )
    ).all()
    not_locked = [row.month for row in earlier if row.status != LOCKED]
    if not_locked:
        raise Conflict(
            f"Earlier months are not locked yet: {', '.join(not_locked)}.",
            code="PREVIOUS_MONTH_OPEN",
            open_months=not_locked,
        )
    # Months before the last reconciled one were checked when it was computed.
    since = month_bounds(earlier[-1].month)[1] if earlier else None
    query = (
        sa.select(DailyStatement.business_date)
        .distinct()
        .where(DailyStatement.business_date < month_bounds(month)[0])
    )
    if since is not None:
        query = query.where(DailyStatement.business_date > since)
    never = sorted({month_of(_as_date(day)) for day in (await session.scalars(query)).all()})
    if never:
        raise Conflict(
            f"Earlier months had daily statements and were never reconciled: {', '.join(never)}.",
            code="PREVIOUS_MONTH_OPEN",
            open_months=never,
        )


async def _ensure_closed(session: AsyncSession, month: str) -> None:
    """422 unless every day of the month is closed.

    Closes run in date order and each claims everything not yet closed up to its date, so a day on or
    before the latest close is closed, even one before the very first close (its settlements went there).
    """
    first, last = month_bounds(month)
    latest = await session.scalar(sa.select(sa.func.max(DayClose.business_date)))
    latest_day = None if latest is None else _as_date(latest)
    if latest_day is not None and latest_day >= last:
        return
    start = first if latest_day is None else max(first, latest_day + timedelta(days=1))
    open_dates = [(start + timedelta(days=n)).isoformat() for n in range((last - start).days + 1)]
    raise Unprocessable(
        f"{month} has days not closed yet ({open_dates[0]} to {open_dates[-1]}); close them first (日结算).",
        code="MONTH_NOT_CLOSED",
        open_dates=open_dates,
    )


async def _reconciliation(session: AsyncSession, month: str) -> MonthlyReconciliation:
    found = await session.get(MonthlyReconciliation, month)
    if found is None:
        raise NotFound(f"{month} has not been reconciled.", code="MONTH_NOT_FOUND", month=month)
    return found


async def _statement_rows(
    session: AsyncSession, month: str, *, fixmedins_code: str | None = None
) -> list[MonthlyStatement]:
    query = sa.select(MonthlyStatement).where(MonthlyStatement.month == month)
    if fixmedins_code is not None:
        query = query.where(MonthlyStatement.fixmedins_code == fixmedins_code)
    return list((await session.scalars(query.order_by(MonthlyStatement.fixmedins_code))).all())


# --- use cases: compute, confirm, lock -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MonthOutcome:
    reconciliation: MonthlyReconciliationOut
    created: bool


async def compute_month(db: Database, *, month: str, computed_by: str, clock: Clock) -> MonthOutcome:
    """月核算: compute a month (or recompute its draft) from its closed days, deductions and prepayments."""
    async with db.transaction() as session:
        await _lock(session)
        existing = await session.get(MonthlyReconciliation, month)
        if existing is not None and existing.status != DRAFT:
            raise Conflict(
                f"{month} is {existing.status}; only a draft can be recomputed "
                f"(later corrections land in the next month).",
                code="MONTH_NOT_DRAFT",
                month_status=existing.status,
            )
        await _ensure_in_order(session, month)
        await _ensure_closed(session, month)
        now = _utc_now(clock)
        computed = await gather_month(session, month)
        created = existing is None
        if existing is None:
            existing = MonthlyReconciliation(
                month=month, status=DRAFT, computed_at=now, computed_by=computed_by
            )
            session.add(existing)
            await session.flush()
        else:
            existing.computed_at, existing.computed_by = now, computed_by
            await session.execute(sa.delete(MonthlyStatement).where(MonthlyStatement.month == month))
        if computed:
            await session.execute(
                sa.insert(table_of(MonthlyStatement)),
                [
                    {
                        "month": month,
                        "fixmedins_code": code,
                        "statements": entry.statements,
                        "settlements": entry.settlements,
                        "mismatches": entry.mismatches,
                        "deductions_fen": entry.deductions_fen,
                        "deduction_ids": entry.deduction_ids,
                        "prepayments_fen": entry.prepayments_fen,
                        "prepayment_ids": entry.prepayment_ids,
                        "net_adjustment_fen": entry.net_adjustment_fen,
                        "computed_at": now,
                    }
                    for code, entry in computed.items()
                ],
            )
        view = reconciliation_out(existing, await _statement_rows(session, month))
    unbalanced = sum(1 for entry in computed.values() if entry.mismatches)
    log.info("computed %s: %d institutions, %d unbalanced", month, len(computed), unbalanced)
    return MonthOutcome(view, created)


async def confirm_month(db: Database, *, month: str, confirmed_by: str, clock: Clock) -> MonthOutcome:
    """draft → confirmed: takes the draft's deductions and prepayments and sends settlement.month.reconciled.

    Refused while any day mismatches, and when the closed days no longer add up to what the draft shows;
    confirming a confirmed month again answers with it unchanged.
    """
    async with db.transaction() as session:
        await _lock(session)
        reconciliation = await _reconciliation(session, month)
        if reconciliation.status == CONFIRMED:
            return MonthOutcome(
                reconciliation_out(reconciliation, await _statement_rows(session, month)), False
            )
        if reconciliation.status != DRAFT:
            raise Conflict(
                f"{month} is {reconciliation.status}; it cannot be confirmed again.",
                code="MONTH_NOT_DRAFT",
                month_status=reconciliation.status,
            )
        rows = await _statement_rows(session, month)
        unbalanced = [row.fixmedins_code for row in rows if row.mismatches]
        if unbalanced:
            raise Conflict(
                f"{month} does not balance for {len(unbalanced)} institution(s): their daily statements differ "
                f"from their settlements. A mismatch is never absorbed; correct it and recompute.",
                code="MONTH_UNBALANCED",
                institutions=unbalanced,
            )
        await _ensure_still_current(session, month, rows)
        await _take(
            session,
            Deduction,
            Deduction.finding_id,
            Deduction.month_applied,
            [i for row in rows for i in row.deduction_ids],
            month,
            what="deductions",
        )
        await _take(
            session,
            Prepayment,
            Prepayment.prepayment_id,
            Prepayment.recovered_month,
            [i for row in rows for i in row.prepayment_ids],
            month,
            what="prepayments",
        )
        now = _utc_now(clock)
        await _post_deductions(session, [i for row in rows for i in row.deduction_ids], month=month, now=now)
        reconciliation.status = CONFIRMED
        reconciliation.confirmed_at, reconciliation.confirmed_by = now, confirmed_by
        await session.flush()
        view = reconciliation_out(reconciliation, rows)
        await add_event(
            session,
            new_event(
                type=Subject.MONTH_RECONCILED,
                source=SOURCE,
                subject=month,
                data={
                    "month": month,
                    "confirmed_at": now.isoformat(),
                    "confirmed_by": confirmed_by,
                    "institutions": [statement.model_dump(mode="json") for statement in view.statements],
                },
                clock=clock,
            ),
        )
    log.info("confirmed %s: %d institutions", month, len(rows))
    return MonthOutcome(view, True)


async def _post_deductions(
    session: AsyncSession, finding_ids: Sequence[str], *, month: str, now: datetime
) -> None:
    """扣款 journals: the fund that paid recovers the amount, the institution is owed that much less."""
    if not finding_ids:
        return
    on = month_bounds(month)[1]
    rows = (
        await session.execute(
            sa.select(
                Deduction.finding_id, Deduction.fixmedins_code, Deduction.amount_fen, Settlement.insutype
            )
            .outerjoin(Settlement, Settlement.setl_id == Deduction.setl_id)
            .where(Deduction.finding_id.in_(list(finding_ids)))
        )
    ).all()
    for finding_id, fixmedins_code, amount_fen, insutype in rows:
        fund = fund_account(POOL_FUND.get(insutype or "", "recovered"))
        await post_journal(
            session,
            kind="deduction",
            ref=f"deduction:{finding_id}",
            business_date=on,
            legs=[Leg(payable_account(fixmedins_code), amount_fen), Leg(fund, -amount_fen)],
            now=now,
        )


async def _ensure_still_current(session: AsyncSession, month: str, rows: Sequence[MonthlyStatement]) -> None:
    """409 when the closed days no longer add up to what the draft shows (a statement or settlement changed)."""
    first, last = month_bounds(month)
    now = reconcile_days(
        await _statement_days(session, first, last), await _settlement_days(session, first, last)
    )
    stored = {row.fixmedins_code: row for row in rows}
    for code in sorted(set(now) | set(stored)):
        current = now.get(code, InstitutionMonth())
        row = stored.get(code)
        drafted = (row.statements, row.settlements) if row is not None else (zero_totals(), zero_totals())
        if (
            differing_fields(drafted[0], current.statements)
            or differing_fields(drafted[1], current.settlements)
            or current.mismatches
        ):
            raise Conflict(
                f"{month}'s closed days no longer add up to its draft (institution {code}); recompute it.",
                code="RECONCILIATION_STALE",
                fixmedins_code=code,
            )


async def _take(
    session: AsyncSession,
    model: type[Deduction] | type[Prepayment],
    key: Any,
    column: Any,
    ids: Sequence[Any],
    month: str,
    *,
    what: str,
) -> None:
    """Mark the draft's deductions or prepayments as this month's; 409 if another month took one meanwhile."""
    taken = 0
    for start in range(0, len(ids), _CHUNK):
        chunk = list(ids[start : start + _CHUNK])
        result = await session.execute(
            sa.update(model).where(key.in_(chunk), column.is_(None)).values({column: month})
        )
        taken += int(result.rowcount)  # type: ignore[attr-defined]
    if taken != len(ids):
        raise Conflict(
            f"{len(ids) - taken} of the draft's {what} were taken by another month meanwhile; recompute {month}.",
            code="RECONCILIATION_STALE",
        )


async def lock_month(db: Database, *, month: str, locked_by: str, clock: Clock) -> MonthOutcome:
    """confirmed → locked: the month never changes again; locking a locked month answers with it unchanged."""
    async with db.transaction() as session:
        await _lock(session)
        reconciliation = await _reconciliation(session, month)
        if reconciliation.status == DRAFT:
            raise Conflict(
                f"{month} is a draft; confirm it before locking it.",
                code="MONTH_NOT_CONFIRMED",
                month_status=DRAFT,
            )
        changed = reconciliation.status == CONFIRMED
        if changed:
            reconciliation.status = LOCKED
            reconciliation.locked_at, reconciliation.locked_by = _utc_now(clock), locked_by
            await session.flush()
        view = reconciliation_out(reconciliation, await _statement_rows(session, month))
    return MonthOutcome(view, changed)


# --- reading -------------------------------------------------------------------------------------------


async def get_month(
    session: AsyncSession, month: str, *, only_fixmedins_code: str | None = None
) -> MonthlyReconciliationOut:
    """A month as reconciled, with every institution's statement or only the one asked for."""
    reconciliation = await _reconciliation(session, month)
    return reconciliation_out(
        reconciliation, await _statement_rows(session, month, fixmedins_code=only_fixmedins_code)
    )


async def get_statement(session: AsyncSession, month: str, fixmedins_code: str) -> MonthlyStatementOut:
    await _reconciliation(session, month)
    rows = await _statement_rows(session, month, fixmedins_code=fixmedins_code)
    if not rows:
        raise NotFound(
            f"{month} has no statement for institution {fixmedins_code}.",
            code="STATEMENT_NOT_FOUND",
            month=month,
            fixmedins_code=fixmedins_code,
        )
    return statement_out(rows[0])


def totals_out(totals: Mapping[str, int]) -> Totals:
    return Totals.model_validate(
        {
            **{name: int(totals.get(name, 0)) for name in COUNTS},
            **{wire: fen_to_yuan(int(totals.get(name, 0))) for name, wire in AMOUNTS.items()},
        }
    )


def statement_out(row: MonthlyStatement) -> MonthlyStatementOut:
    return MonthlyStatementOut(
        month=row.month,
        fixmedins_code=row.fixmedins_code,
        statements=totals_out(row.statements),
        settlements=totals_out(row.settlements),
        balanced=not row.mismatches,
        mismatches=[
            MismatchOut(
                business_date=date.fromisoformat(m["business_date"]),
                fields=list(m["fields"]),
                statements=totals_out(m["statements"]),
                settlements=totals_out(m["settlements"]),
                setl_ids=list(m["setl_ids"]),
                setl_id_count=int(m["setl_id_count"]),
            )
            for m in row.mismatches
        ],
        deductions=fen_to_yuan(row.deductions_fen),
        deduction_ids=list(row.deduction_ids),
        prepayments=fen_to_yuan(row.prepayments_fen),
        prepayment_ids=[int(i) for i in row.prepayment_ids],
        net_adjustment=fen_to_yuan(row.net_adjustment_fen),
        computed_at=row.computed_at,
    )


def reconciliation_out(
    reconciliation: MonthlyReconciliation, rows: Iterable[MonthlyStatement]
) -> MonthlyReconciliationOut:
    statements = [statement_out(row) for row in rows]
    return MonthlyReconciliationOut(
        month=reconciliation.month,
        status=ReconciliationStatus(reconciliation.status),
        balanced=all(statement.balanced for statement in statements),
        computed_at=reconciliation.computed_at,
        computed_by=reconciliation.computed_by,
        confirmed_at=reconciliation.confirmed_at,
        confirmed_by=reconciliation.confirmed_by,
        locked_at=reconciliation.locked_at,
        locked_by=reconciliation.locked_by,
        statements=statements,
    )


# --- deductions (扣款) from fraud.finding.confirmed --------------------------------------------------------

# Column widths of the deduction row: a longer value is a broken event, dead-lettered rather than cut.
_DEDUCTION_WIDTHS = {"finding_id": 64, "fixmedins_code": 30, "setl_id": 32, "psn_no": 20, "family": 40}
_NOTE_WIDTH = 500


async def record_deduction(session: AsyncSession, finding: FindingConfirmed, *, now: datetime) -> bool:
    """Keep a confirmed finding's amount to recover, once per finding; True if it was new.

    A finding published again (under a new event id) changes nothing. A negative amount or an id that does
    not fit raises ValueError, so the consumer retries and then dead-letters the event for ops.
    """
    amount_fen = yuan_to_fen(finding.amount_to_recover)
    if amount_fen < 0:
        raise ValueError(f"finding {finding.finding_id}: amount_to_recover is negative ({amount_fen} fen)")
    for name, width in _DEDUCTION_WIDTHS.items():
        value = getattr(finding, name)
        if value is not None and not 0 < len(value) <= width:
            raise ValueError(f"finding {finding.finding_id[:64]}: {name} must have 1 to {width} characters")
    values = {
        "finding_id": finding.finding_id,
        "fixmedins_code": finding.fixmedins_code,
        "setl_id": finding.setl_id,
        "psn_no": finding.psn_no,
        "family": finding.family,
        "amount_fen": amount_fen,
        "confirmed_at": finding.confirmed_at,
        # The reviewer's note is for people: a long one is shortened rather than refused.
        "note": finding.note[:_NOTE_WIDTH] if finding.note else None,
        "month_applied": None,
        "received_at": now.astimezone(UTC),
    }
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    result = await session.execute(
        dialect.insert(table_of(Deduction))
        .values(**values)
        .on_conflict_do_nothing(index_elements=["finding_id"])
    )
    if int(result.rowcount) == 1:  # type: ignore[attr-defined]
        return True
    kept = await session.get(Deduction, finding.finding_id)
    if kept is not None and kept.amount_fen != amount_fen:
        log.warning(
            "finding %s published again with %d fen; keeping the first amount, %d fen",
            finding.finding_id,
            amount_fen,
            kept.amount_fen,
        )
    return False


def deduction_out(row: Deduction) -> DeductionOut:
    return DeductionOut(
        finding_id=row.finding_id,
        fixmedins_code=row.fixmedins_code,
        setl_id=row.setl_id,
        psn_no=row.psn_no,
        family=row.family,
        amount=fen_to_yuan(row.amount_fen),
        confirmed_at=row.confirmed_at,
        note=row.note,
        month_applied=row.month_applied,
        received_at=row.received_at,
    )


async def list_deductions(
    session: AsyncSession,
    *,
    fixmedins_code: str | None,
    outstanding: bool | None,
    limit: int,
    cursor: str | None,
) -> DeductionPage:
    """Deductions newest first (by confirmation); outstanding: not yet taken by a confirmed month."""
    query = sa.select(Deduction)
    if fixmedins_code is not None:
        query = query.where(Deduction.fixmedins_code == fixmedins_code)
    if outstanding is not None:
        applied = Deduction.month_applied
        query = query.where(applied.is_(None) if outstanding else applied.is_not(None))
    if cursor:
        moment, last_id = _decode_cursor(cursor)
        query = query.where(
            sa.or_(
                Deduction.confirmed_at < datetime.fromisoformat(moment),
                sa.and_(
                    Deduction.confirmed_at == datetime.fromisoformat(moment), Deduction.finding_id < last_id
                ),
            )
        )
    rows = list(
        (
            await session.scalars(
                query.order_by(Deduction.confirmed_at.desc(), Deduction.finding_id.desc()).limit(limit + 1)
            )
        ).all()
    )
    more, rows = len(rows) > limit, rows[:limit]
    next_cursor = (
        _encode_cursor(rows[-1].confirmed_at.isoformat(), rows[-1].finding_id) if more and rows else None
    )
    return DeductionPage(items=[deduction_out(row) for row in rows], next_cursor=next_cursor)


# --- prepayments (预付) ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class PrepaymentRecorded:
    row: Prepayment
    created: bool


async def record_prepayment(
    session: AsyncSession,
    data: PrepaymentIn,
    *,
    created_by: str,
    clock: Clock,
    idempotency_key: str | None = None,
) -> PrepaymentRecorded:
    """预付 with an optional Idempotency-Key: a retry with the same key and body returns the original.

    Without a key every call records a new prepayment (two prepayments of the same amount on one day are
    legitimate); a client that may retry sends a key.
    """
    if idempotency_key is None:
        return PrepaymentRecorded(
            await _new_prepayment(session, data, created_by=created_by, clock=clock), True
        )
    digest = hashlib.sha256(data.model_dump_json().encode()).hexdigest()
    for _ in range(2):
        existing = await session.scalar(
            sa.select(Prepayment).where(Prepayment.idempotency_key == idempotency_key)
        )
        if existing is not None:
            if existing.request_hash != digest:
                raise Conflict(
                    "This Idempotency-Key was used for a different prepayment; a new prepayment needs a new key.",
                    code="IDEMPOTENCY_KEY_CONFLICT",
                    prepayment_id=existing.prepayment_id,
                )
            return PrepaymentRecorded(existing, False)
        try:
            async with session.begin_nested():
                row = await _new_prepayment(
                    session, data, created_by=created_by, clock=clock, key=(idempotency_key, digest)
                )
            return PrepaymentRecorded(row, True)
        except IntegrityError:  # the same key recorded concurrently a moment ago: answer as its retry
            continue
    raise Conflict("The Idempotency-Key is being used concurrently; retry.", code="IDEMPOTENCY_KEY_CONFLICT")


async def _new_prepayment(
    session: AsyncSession,
    data: PrepaymentIn,
    *,
    created_by: str,
    clock: Clock,
    key: tuple[str, str] | None = None,
) -> Prepayment:
    """预付: money advanced to a known institution, outstanding until a confirmed month recovers it."""
    if await find_institution(session, data.fixmedins_code) is None:
        raise NotFound(
            "No such designated institution.",
            code="INSTITUTION_NOT_FOUND",
            fixmedins_code=data.fixmedins_code,
        )
    now = _utc_now(clock)
    today = business_date(now)
    if data.paid_date > today:
        raise Unprocessable(
            f"paid_date {data.paid_date} is in the future (today is {today} in Asia/Shanghai).",
            code="PAID_DATE_IN_FUTURE",
        )
    row = Prepayment(
        fixmedins_code=data.fixmedins_code,
        amount_fen=yuan_to_fen(data.amount),
        paid_date=data.paid_date,
        note=data.note or None,
        created_by=created_by,
        created_at=now,
        recovered_month=None,
        idempotency_key=key[0] if key else None,
        request_hash=key[1] if key else None,
    )
    session.add(row)
    await session.flush()
    # The money leaves the fund's bank now; the institution's payable turns toward a receivable until a
    # month recovers it.
    await post_journal(
        session,
        kind="prepayment",
        ref=f"prepayment:{row.prepayment_id}",
        business_date=data.paid_date,
        legs=[Leg(payable_account(row.fixmedins_code), row.amount_fen), Leg(BANK, -row.amount_fen)],
        now=now,
    )
    return row


def prepayment_out(row: Prepayment) -> PrepaymentOut:
    return PrepaymentOut(
        prepayment_id=row.prepayment_id,
        fixmedins_code=row.fixmedins_code,
        amount=fen_to_yuan(row.amount_fen),
        paid_date=row.paid_date,
        note=row.note,
        created_by=row.created_by,
        created_at=row.created_at,
        recovered_month=row.recovered_month,
    )


async def list_prepayments(
    session: AsyncSession,
    *,
    fixmedins_code: str | None,
    outstanding: bool | None,
    limit: int,
    cursor: str | None,
) -> PrepaymentPage:
    """Prepayments newest first; outstanding: not yet recovered by a confirmed month."""
    query = sa.select(Prepayment)
    if fixmedins_code is not None:
        query = query.where(Prepayment.fixmedins_code == fixmedins_code)
    if outstanding is not None:
        recovered = Prepayment.recovered_month
        query = query.where(recovered.is_(None) if outstanding else recovered.is_not(None))
    if cursor:
        _, last_id = _decode_cursor(cursor)
        if not last_id.isdigit():
            raise BadRequest("The cursor is not one this API gave out.", code="INVALID_CURSOR")
        query = query.where(Prepayment.prepayment_id < int(last_id))
    rows = list(
        (await session.scalars(query.order_by(Prepayment.prepayment_id.desc()).limit(limit + 1))).all()
    )
    more, rows = len(rows) > limit, rows[:limit]
    next_cursor = _encode_cursor("", str(rows[-1].prepayment_id)) if more and rows else None
    return PrepaymentPage(items=[prepayment_out(row) for row in rows], next_cursor=next_cursor)


def _encode_cursor(moment: str, key: str) -> str:
    return encode_cursor(moment, key)


def _decode_cursor(cursor: str) -> tuple[str, str]:
    moment, key = decode_cursor(cursor, parts=2)
    try:
        if moment:
            datetime.fromisoformat(moment)
    except ValueError as exc:
        raise BadRequest("The cursor is not one this API gave out.", code="INVALID_CURSOR") from exc
    return moment, key
