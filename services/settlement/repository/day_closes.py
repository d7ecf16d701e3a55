"""Day closes (日结算) and their daily statements: the close's lock, what a close counts, the statements."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa

from common.db import table_of
from common.repository import RepositoryBase
from settlement.domain.day_close import AMOUNTS
from settlement.models import DailyStatement, DayClose, Disbursement, Settlement, SettlementReversal

# pg_advisory_xact_lock key: "日结算" for every replica of the service.
DAY_CLOSE_LOCK = 0x5E771E_DA7C105E


@dataclass(frozen=True, slots=True)
class CountedGroup:
    """Settlements (or reversals) of one institution and insutype that a close counts, summed."""

    fixmedins_code: str
    insutype: str
    count: int
    amounts: dict[str, int]


@dataclass(frozen=True, slots=True)
class Counted:
    """What a close counts: its settlements and its reversals, by institution and insutype."""

    settled: list[CountedGroup]
    reversed: list[CountedGroup]


def as_date(value: Any) -> date:
    """A date as the driver gives it back (SQLite may answer text)."""
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _sum_columns(table: sa.Table) -> list[Any]:
    return [sa.func.coalesce(sa.func.sum(table.c[name]), 0).label(name) for name in AMOUNTS]


class DayCloseRepository(RepositoryBase[DayClose]):
    model = DayClose

    def _is_postgres(self) -> bool:
        return self.session.get_bind().dialect.name == "postgresql"

    async def lock_for_close(self) -> None:
        """The close's side of the lock: exclusive, until the transaction ends (PostgreSQL; SQLite has one writer)."""
        if self._is_postgres():
            await self.session.execute(sa.select(sa.func.pg_advisory_xact_lock(DAY_CLOSE_LOCK)))

    async def lock_for_write(self) -> None:
        """A writer's side: shared, so a close in progress finishes before the writer reads the last close."""
        if self._is_postgres():
            await self.session.execute(sa.select(sa.func.pg_advisory_xact_lock_shared(DAY_CLOSE_LOCK)))

    async def last_closed(self) -> date | None:
        """The latest closed business date, read in a statement of its own (after any lock was granted)."""
        value = await self.session.scalar(sa.select(sa.func.max(DayClose.business_date)))
        return None if value is None else as_date(value)

    async def oldest_counting_day(self) -> date | None:
        """The earliest day a settlement is counted on, or None when there is no settlement."""
        value = await self.session.scalar(sa.select(sa.func.min(Settlement.day_close_date)))
        return value if isinstance(value, date) else None

    async def counted(self, day: date, *, first_close: bool) -> Counted:
        """What a close of `day` counts (day_close_date = day; up to it at the first close ever), grouped by
        institution and insutype: the settlements, and the reversals with their originals' amounts."""
        settlement, reversal = table_of(Settlement), table_of(SettlementReversal)

        def on_day(column: Any) -> Any:
            return column <= day if first_close else column == day

        settled = await self.session.execute(
            sa.select(
                settlement.c.fixmedins_code,
                settlement.c.insutype,
                sa.func.count().label("n"),
                *_sum_columns(settlement),
            )
            .where(on_day(settlement.c.day_close_date))
            .group_by(settlement.c.fixmedins_code, settlement.c.insutype)
        )
        settled_groups = [_group(row) for row in settled]
        # A reversal counts on the day it was closed, negative, whenever its settlement was.
        reversed_ = await self.session.execute(
            sa.select(
                reversal.c.fixmedins_code,
                settlement.c.insutype,
                sa.func.count().label("n"),
                *_sum_columns(settlement),
            )
            .select_from(reversal.join(settlement, settlement.c.setl_id == reversal.c.orig_setl_id))
            .where(on_day(reversal.c.day_close_date))
            .group_by(reversal.c.fixmedins_code, settlement.c.insutype)
        )
        return Counted(settled_groups, [_group(row) for row in reversed_])

    async def add_statements(
        self, statements: Sequence[dict[str, Any]], disbursements: Sequence[dict[str, Any]]
    ) -> None:
        """Insert a close's daily statements and disbursement orders."""
        if statements:
            await self.session.execute(sa.insert(table_of(DailyStatement)), list(statements))
        if disbursements:
            await self.session.execute(sa.insert(table_of(Disbursement)), list(disbursements))

    async def statements(
        self, *, day: date | None = None, fixmedins_code: str | None = None, limit: int = 10_000
    ) -> list[DailyStatement]:
        """Daily statements newest first, then by institution."""
        query = sa.select(DailyStatement)
        if day is not None:
            query = query.where(DailyStatement.business_date == day)
        if fixmedins_code is not None:
            query = query.where(DailyStatement.fixmedins_code == fixmedins_code)
        query = query.order_by(DailyStatement.business_date.desc(), DailyStatement.fixmedins_code).limit(
            limit
        )
        return list((await self.session.scalars(query)).all())


def _group(row: Any) -> CountedGroup:
    return CountedGroup(
        fixmedins_code=row.fixmedins_code,
        insutype=row.insutype,
        count=int(row.n),
        amounts={name: int(getattr(row, name)) for name in AMOUNTS},
    )
