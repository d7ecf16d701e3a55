"""Month reconciliations (月核算) and their monthly statements, and the reads of the days a month sums."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa

from common.db import table_of
from common.repository import RepositoryBase
from settlement.domain.monthly import AMOUNTS, TOTAL_KEYS, Counts, add_totals, zero_totals
from settlement.models import (
    DailyStatement,
    DayClose,
    MonthlyReconciliation,
    MonthlyStatement,
    Settlement,
    SettlementReversal,
)
from settlement.repository.day_closes import as_date

# pg_advisory_xact_lock key: "月核算" for every replica of the service.
MONTHLY_LOCK = 0x5E771E_303E7C
MAX_SETL_IDS = 100

DayTotals = dict[tuple[str, date], Counts]
"""Totals per (institution, business date)."""


@dataclass(frozen=True, slots=True)
class ClaimedIds:
    """The settlements and reversals a close claimed for one institution: the first ids, and how many in all."""

    setl_ids: list[str]
    count: int


@dataclass(frozen=True, slots=True)
class MonthState:
    """A reconciled month's name and status."""

    month: str
    status: str


def _sums(table: sa.Table) -> list[Any]:
    return [sa.func.coalesce(sa.func.sum(table.c[name]), 0).label(name) for name in AMOUNTS]


class MonthlyRepository(RepositoryBase[MonthlyReconciliation]):
    model = MonthlyReconciliation

    async def lock(self) -> None:
        """Serialise compute, confirm and lock across replicas, until the transaction ends (PostgreSQL)."""
        await self.lock_key(MONTHLY_LOCK)

    async def lock_key(self, key: int) -> None:
        """A transaction-scoped advisory lock on PostgreSQL (SQLite serialises writers already)."""
        if self.session.get_bind().dialect.name == "postgresql":
            await self.session.execute(sa.select(sa.func.pg_advisory_xact_lock(key)))

    async def first_later_month(self, month: str) -> str | None:
        query = (
            sa.select(MonthlyReconciliation.month)
            .where(MonthlyReconciliation.month > month)
            .order_by(MonthlyReconciliation.month)
            .limit(1)
        )
        later: str | None = await self.session.scalar(query)
        return later

    async def earlier_months(self, month: str) -> list[MonthState]:
        """The reconciled months before one, oldest first."""
        rows = await self.session.execute(
            sa.select(MonthlyReconciliation.month, MonthlyReconciliation.status)
            .where(MonthlyReconciliation.month < month)
            .order_by(MonthlyReconciliation.month)
        )
        return [MonthState(row.month, row.status) for row in rows]

    async def statement_dates(self, *, before: date, after: date | None) -> list[date]:
        """The business dates with a daily statement before a day (and after another, when given)."""
        query = (
            sa.select(DailyStatement.business_date).distinct().where(DailyStatement.business_date < before)
        )
        if after is not None:
            query = query.where(DailyStatement.business_date > after)
        return [as_date(day) for day in (await self.session.scalars(query)).all()]

    async def latest_closed_day(self) -> date | None:
        value = await self.session.scalar(sa.select(sa.func.max(DayClose.business_date)))
        return None if value is None else as_date(value)

    async def statement_days(self, first: date, last: date) -> DayTotals:
        """The daily statements' totals of each institution's days in a period."""
        statement = table_of(DailyStatement)
        rows = await self.session.execute(
            sa.select(
                statement.c.fixmedins_code, statement.c.business_date, *(statement.c[k] for k in TOTAL_KEYS)
            ).where(statement.c.business_date.between(first, last))
        )
        days: DayTotals = {}
        for row in rows:
            totals = days.setdefault((row.fixmedins_code, as_date(row.business_date)), zero_totals())
            add_totals(totals, {key: int(getattr(row, key)) for key in TOTAL_KEYS})
        return days

    async def settlement_days(self, first: date, last: date) -> DayTotals:
        """The totals of each institution's closed days, recomputed from settlements (+) and reversals (−)."""
        settlement, reversal = table_of(Settlement), table_of(SettlementReversal)
        days: DayTotals = {}
        settled = await self.session.execute(
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
            totals = days.setdefault((row.fixmedins_code, as_date(row.day_close_date)), zero_totals())
            totals["setl_cnt"] += int(row.n)
            for name in AMOUNTS:
                totals[name] += int(getattr(row, name))
        # A reversal counts, negative with its original's amounts, on the day whose close claimed it.
        reversed_ = await self.session.execute(
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
            totals = days.setdefault((row.fixmedins_code, as_date(row.day_close_date)), zero_totals())
            totals["reversal_cnt"] += int(row.n)
            for name in AMOUNTS:
                totals[name] -= int(getattr(row, name))
        return days

    async def claimed_ids(self, fixmedins_code: str, day: date) -> ClaimedIds:
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
            await self.session.scalars(
                sa.select(claimed.c.setl_id).order_by(claimed.c.setl_id).limit(MAX_SETL_IDS)
            )
        ).all()
        total = await self.session.scalar(sa.select(sa.func.count()).select_from(claimed))
        return ClaimedIds(list(ids), int(total or 0))

    async def statements(self, month: str, *, fixmedins_code: str | None = None) -> list[MonthlyStatement]:
        """A month's statements by institution (or only one institution's)."""
        query = sa.select(MonthlyStatement).where(MonthlyStatement.month == month)
        if fixmedins_code is not None:
            query = query.where(MonthlyStatement.fixmedins_code == fixmedins_code)
        return list((await self.session.scalars(query.order_by(MonthlyStatement.fixmedins_code))).all())

    async def replace_statements(self, month: str, rows: Sequence[dict[str, Any]], *, existing: bool) -> None:
        """A month's statements replaced by the rows of a (re)computation."""
        if existing:
            await self.session.execute(sa.delete(MonthlyStatement).where(MonthlyStatement.month == month))
        if rows:
            await self.session.execute(sa.insert(table_of(MonthlyStatement)), list(rows))
