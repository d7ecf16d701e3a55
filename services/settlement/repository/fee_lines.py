"""Fee details (费用明细) of visits: the standing lines, a visit's every line, withdrawals, inserts."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

import sqlalchemy as sa

from common.db import DeferredWrites, table_of
from common.repository import RepositoryBase
from settlement.domain.claims import ACTIVE, WITHDRAWN
from settlement.models import FeeDetail

# Built once with bound parameters: compiled once, then only executed (the one-call settle path).
_LINE = table_of(FeeDetail)
_INSERT_LINE = sa.insert(_LINE)


class FeeLineRepository(RepositoryBase[FeeDetail]):
    model = FeeDetail

    async def active(self, mdtrt_id: str) -> list[FeeDetail]:
        """The visit's standing lines, in upload order."""
        return (await self.active_of([mdtrt_id])).get(mdtrt_id, [])

    async def active_of(self, mdtrt_ids: Collection[str]) -> dict[str, list[FeeDetail]]:
        """The standing lines of each of the visits (a visit without any is absent), in upload order."""
        found: dict[str, list[FeeDetail]] = {}
        if not mdtrt_ids:
            return found
        rows = await self.session.scalars(
            sa.select(FeeDetail)
            .where(FeeDetail.mdtrt_id.in_(sorted(set(mdtrt_ids))), FeeDetail.status == ACTIVE)
            .order_by(FeeDetail.fee_detail_id)
        )
        for row in rows:
            found.setdefault(row.mdtrt_id, []).append(row)
        return found

    async def by_sn(self, mdtrt_id: str) -> dict[str, FeeDetail]:
        """Every line of the visit, standing or withdrawn, by feedetl_sn."""
        rows = await self.session.scalars(sa.select(FeeDetail).where(FeeDetail.mdtrt_id == mdtrt_id))
        return {row.feedetl_sn: row for row in rows.all()}

    async def matching(
        self, mdtrt_id: str, *, chrg_bchno: str | None = None, feedetl_sns: Collection[str] | None = None
    ) -> list[FeeDetail]:
        """The visit's standing lines of a charge batch and/or among some numbers (all when neither)."""
        query = sa.select(FeeDetail).where(FeeDetail.mdtrt_id == mdtrt_id, FeeDetail.status == ACTIVE)
        if chrg_bchno is not None:
            query = query.where(FeeDetail.chrg_bchno == chrg_bchno)
        if feedetl_sns is not None:
            query = query.where(FeeDetail.feedetl_sn.in_(sorted(set(feedetl_sns))))
        return list((await self.session.scalars(query.order_by(FeeDetail.fee_detail_id))).all())

    async def withdraw_all(self, mdtrt_id: str) -> None:
        """Withdraw every standing line of the visit in one statement."""
        await self.session.execute(
            sa.update(FeeDetail)
            .where(FeeDetail.mdtrt_id == mdtrt_id, FeeDetail.status == ACTIVE)
            .values(status=WITHDRAWN)
            .execution_options(synchronize_session=False)
        )

    async def insert(self, rows: Sequence[dict[str, Any]], *, defer: bool = False) -> None:
        """Insert lines from their column values, without loading them (the one-call settlement's).

        `defer`: with the transaction's other deferred writes (common.db.DeferredWrites).
        """
        if defer:
            await DeferredWrites.of(self.session).insert_rows(_LINE, list(rows))
        else:
            await self.session.execute(_INSERT_LINE, list(rows))
