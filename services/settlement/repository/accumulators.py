"""A person's year under a scheme (累计): read, locked for a settlement, added to and taken back."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from common.db import DeferredWrites, table_of
from common.repository import RepositoryBase
from settlement.domain.split import YearToDate
from settlement.models import YearAccumulator
from settlement.repository.day_closes import DAY_CLOSE_LOCK, DayCloseRepository

_YEAR = table_of(YearAccumulator)
_AMOUNTS = ("outpatient_dedc_fen", "outpatient_pool_fen", "pool_fen", "pool_self_fen", "supp_fen", "maf_fen")


def _lock_year_statement(dialect: str) -> Any:
    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(_YEAR)
    # One statement: create the row if new, and lock it either way (ON CONFLICT DO UPDATE takes the row lock
    # on PostgreSQL and waits for a concurrent holder; the no-op update changes nothing).
    return insert.on_conflict_do_update(
        index_elements=[_YEAR.c.psn_no, _YEAR.c.insutype, _YEAR.c.year],
        set_={"settlement_count": _YEAR.c.settlement_count},
    ).returning(*(_YEAR.c[name] for name in _AMOUNTS))


# Built once with bound parameters: compiled once, then only executed (the settle path's hot statements).
_LOCK_YEAR = {dialect: _lock_year_statement(dialect) for dialect in ("postgresql", "sqlite")}
# PostgreSQL: the same, taking the day close's shared lock in its RETURNING, i.e. once the year's row is
# locked (the order the two statements took them in), in the same round trip.
_LOCK_YEAR_AND_DAY = _LOCK_YEAR["postgresql"].returning(sa.func.pg_advisory_xact_lock_shared(DAY_CLOSE_LOCK))
_NEW_YEAR = {**dict.fromkeys(_AMOUNTS, 0), "settlement_count": 0}


def _add_to_year(prefix: str, _: list[Any]) -> sa.Update:
    return (
        sa.update(_YEAR)
        .where(
            _YEAR.c.psn_no == sa.bindparam(f"{prefix}k_psn_no"),
            _YEAR.c.insutype == sa.bindparam(f"{prefix}k_insutype"),
            _YEAR.c.year == sa.bindparam(f"{prefix}k_year"),
        )
        .values(
            {
                name: _YEAR.c[name] + sa.bindparam(f"{prefix}d_{name}", type_=sa.BigInteger())
                for name in (*_AMOUNTS, "settlement_count")
            }
        )
    )


_ADD_TO_YEAR = _add_to_year("", [])


class AccumulatorRepository(RepositoryBase[YearAccumulator]):
    model = YearAccumulator

    async def lock_year(
        self, *, psn_no: str, insutype: str, year: int, day_close_lock: bool = False
    ) -> YearToDate:
        """The person's year under a scheme, locked until the transaction ends (created at zero if new).

        `day_close_lock`: then also take the day close's shared lock (DayCloseRepository.lock_for_write), on
        PostgreSQL in the same statement.
        """
        dialect = self.session.get_bind().dialect.name
        both = day_close_lock and dialect == "postgresql"
        row = (
            await self.session.execute(
                _LOCK_YEAR_AND_DAY if both else _LOCK_YEAR[dialect],
                {"psn_no": psn_no, "insutype": insutype, "year": year, **_NEW_YEAR},
            )
        ).one()
        if day_close_lock and not both:
            await DayCloseRepository(self.session).lock_for_write()
        return YearToDate(*row[: len(_AMOUNTS)])

    async def read_year(self, *, psn_no: str, insutype: str, year: int) -> YearToDate:
        """The person's year as it stands, unlocked (zero if there is none yet)."""
        row = await self.session.get(YearAccumulator, (psn_no, insutype, year))
        if row is None:
            return YearToDate()
        return YearToDate(*(getattr(row, name) for name in _AMOUNTS))

    async def add_to_year(
        self,
        *,
        psn_no: str,
        insutype: str,
        year: int,
        delta: YearToDate,
        sign: int,
        count: int,
        defer: bool = False,
    ) -> None:
        """Add a settlement's amounts to the year (sign 1, count 1) or take them back (sign -1, count -1).

        `defer`: with the transaction's other deferred writes (common.db.DeferredWrites).
        """
        deltas = {name: sign * getattr(delta, name) for name in _AMOUNTS} | {"settlement_count": count}
        params = {
            "k_psn_no": psn_no,
            "k_insutype": insutype,
            "k_year": year,
            **{f"d_{name}": value for name, value in deltas.items()},
        }
        if defer:
            await DeferredWrites.of(self.session).add("add_to_year", _add_to_year, params)
        else:
            await self.session.execute(_ADD_TO_YEAR, params)

    async def of_year(self, psn_no: str, year: int) -> list[YearAccumulator]:
        """The person's totals of a year, one per basic insutype, in insutype order."""
        rows = await self.session.scalars(
            sa.select(YearAccumulator)
            .where(YearAccumulator.psn_no == psn_no, YearAccumulator.year == year)
            .order_by(YearAccumulator.insutype)
        )
        return list(rows.all())
