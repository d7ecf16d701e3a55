"""Visits (就诊): found and locked, inserted whole by a one-call settlement, a person's listed newest first."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa

from common.clock import SHANGHAI
from common.db import DeferredWrites, table_of
from common.repository import Page, RepositoryBase
from settlement.models import Visit

# Built once with bound parameters: compiled once, then only executed (the one-call settle path).
_VISIT = table_of(Visit)
_INSERT_VISIT = sa.insert(_VISIT)


class VisitRepository(RepositoryBase[Visit]):
    model = Visit

    async def find(self, mdtrt_id: str, *, lock: bool = False) -> Visit | None:
        """The visit, or None; `lock` holds its row (PostgreSQL) until the transaction ends."""
        query = sa.select(Visit).where(Visit.mdtrt_id == mdtrt_id)
        if lock:
            query = query.with_for_update()
        visit: Visit | None = await self.session.scalar(query)
        return visit

    async def insert(self, row: dict[str, Any], *, defer: bool = False) -> None:
        """Insert a visit from its column values, without loading it (the one-call settlement's).

        `defer`: with the transaction's other deferred writes (common.db.DeferredWrites).
        """
        if defer:
            await DeferredWrites.of(self.session).insert(_VISIT, row)
        else:
            await self.session.execute(_INSERT_VISIT, row)

    async def page_of_person(
        self,
        psn_no: str,
        *,
        fixmedins_code: str | None,
        begndate: date | None,
        enddate: date | None,
        limit: int,
        cursor: str | None,
    ) -> Page[Visit]:
        """A person's visits begun within the days given (Asia/Shanghai), newest first."""
        query = sa.select(Visit).where(Visit.psn_no == psn_no)
        if fixmedins_code is not None:
            query = query.where(Visit.fixmedins_code == fixmedins_code)
        if begndate is not None:
            query = query.where(Visit.begntime >= datetime.combine(begndate, time(), SHANGHAI))
        if enddate is not None:
            query = query.where(
                Visit.begntime < datetime.combine(enddate + timedelta(days=1), time(), SHANGHAI)
            )
        return await self.paginate(
            query, order_by=[Visit.begntime, Visit.mdtrt_id], limit=limit, cursor=cursor
        )
