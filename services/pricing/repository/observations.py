"""Observations: the sale lines recorded, looked up by sale_id, written in batches, summed for the index."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import sqlalchemy as sa

from common.db import table_of
from common.repository import RepositoryBase
from pricing.models import Observation
from pricing.repository.sets import among, insert_rows, update_rows

_CHUNK = 900


@dataclass(frozen=True, slots=True)
class MonthSums:
    """A pharmacy's sale lines of a month: how many, and their amounts at its prices and at the reference."""

    fixmedins_code: str
    lines: int
    sales_fen: int
    reference_fen: int


class StoredSale(NamedTuple):
    """What a replay of a recorded line is answered with (and its fingerprint, to tell it from a conflict)."""

    sale_id: str
    fingerprint: str
    light: str
    price_micro: int
    reference_micro: int
    diff_ratio: str
    over_procurement: bool


def _sums() -> Any:
    """The index's sums, over the sales that stand (a refunded sale was not a sale)."""
    return sa.select(
        Observation.fixmedins_code,
        sa.func.count(),
        sa.func.coalesce(sa.func.sum(Observation.amount_fen), 0),
        sa.func.coalesce(sa.func.sum(Observation.reference_amount_fen), 0),
    ).where(Observation.refund_time.is_(None))


class ObservationRepository(RepositoryBase[Observation]):
    model = Observation

    async def of_sales(
        self, fixmedins_code: str, sale_ids: Sequence[str], *, lock: bool = False
    ) -> dict[str, Observation]:
        """The lines a pharmacy recorded under these sale_ids (`sale_ids` sorted); `lock`: FOR UPDATE."""
        stored: dict[str, Observation] = {}
        for start in range(0, len(sale_ids), _CHUNK):
            query = sa.select(Observation).where(
                Observation.fixmedins_code == fixmedins_code,
                among(self.session, table_of(Observation).c.sale_id, sale_ids[start : start + _CHUNK]),
            )
            found = await self.session.scalars(query.with_for_update() if lock else query)
            stored.update({row.sale_id: row for row in found})
        return stored

    async def answers_of(self, fixmedins_code: str, sale_ids: Sequence[str]) -> dict[str, StoredSale]:
        """What the lines a pharmacy recorded under these sale_ids were answered (`sale_ids` sorted): columns
        read as plain rows, one query per 900 keys, no ORM object per line."""
        table = table_of(Observation)
        columns = [table.c[name] for name in StoredSale._fields]
        stored: dict[str, StoredSale] = {}
        for start in range(0, len(sale_ids), _CHUNK):
            rows = await self.session.execute(
                sa.select(*columns).where(
                    table.c.fixmedins_code == fixmedins_code,
                    among(self.session, table.c.sale_id, sale_ids[start : start + _CHUNK]),
                )
            )
            stored.update({row[0]: StoredSale(*row) for row in rows.all()})
        return stored

    async def insert_many(self, rows: Sequence[dict[str, object]]) -> None:
        """The lines of an upload, in one statement."""
        await insert_rows(self.session, table_of(Observation), rows)

    async def mark_refunded(self, refunds: Sequence[dict[str, object]]) -> None:
        """Mark sales refunded, in one statement: each {observation_id, refund_time, refund_note, refunded_at}."""
        await update_rows(self.session, table_of(Observation), ["observation_id"], refunds)

    async def of_settlement(self, fixmedins_code: str, *, source: str, setl_id: str) -> list[Observation]:
        """The lines observed from one settlement (their sale_id is `setl_id:feedetl_sn`)."""
        query = sa.select(Observation).where(
            Observation.fixmedins_code == fixmedins_code,
            Observation.source == source,
            Observation.sale_id.like(f"{setl_id}:%"),
        )
        return list((await self.session.scalars(query)).all())

    async def remove(self, rows: Sequence[Observation]) -> None:
        for row in rows:
            await self.session.delete(row)
        await self.session.flush()

    async def month_of(self, fixmedins_code: str, month: str) -> MonthSums | None:
        row = (
            await self.session.execute(
                _sums()
                .where(Observation.fixmedins_code == fixmedins_code, Observation.month == month)
                .group_by(Observation.fixmedins_code)
            )
        ).one_or_none()
        return MonthSums(row[0], row[1], int(row[2]), int(row[3])) if row else None

    async def month_by_pharmacy(self, month: str, *, admdvs: str | None) -> list[MonthSums]:
        query = _sums().where(Observation.month == month).group_by(Observation.fixmedins_code)
        if admdvs:
            query = query.where(Observation.admdvs == admdvs)
        rows = (await self.session.execute(query)).all()
        return [MonthSums(code, lines, int(sales), int(ref)) for code, lines, sales, ref in rows]
