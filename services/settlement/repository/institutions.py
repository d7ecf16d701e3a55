"""Designated institutions (定点医药机构): look-ups, the list in code order, the all-or-nothing upsert."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa

from common.bulk import Row, Upserted, upsert
from common.db import table_of
from common.repository import Page, RepositoryBase
from settlement.models import Institution


class InstitutionRepository(RepositoryBase[Institution]):
    model = Institution

    async def find(self, fixmedins_code: str) -> Institution | None:
        """The institution of a code, or None."""
        query = sa.select(Institution).where(Institution.fixmedins_code == fixmedins_code)
        return (await self.session.scalars(query)).one_or_none()

    async def page(
        self,
        *,
        admdvs: str | None,
        fixmedins_type: str | None,
        status: str | None,
        limit: int,
        cursor: str | None,
    ) -> Page[Institution]:
        """Institutions in code order, after the cursor's."""
        query = sa.select(Institution)
        if admdvs:
            query = query.where(Institution.admdvs == admdvs)
        if fixmedins_type:
            query = query.where(Institution.fixmedins_type == fixmedins_type)
        if status:
            query = query.where(Institution.status == status)
        return await self.paginate(
            query, order_by=[Institution.fixmedins_code], limit=limit, cursor=cursor, descending=False
        )

    async def upsert(self, rows: Sequence[Row], *, now: datetime) -> Upserted:
        """Insert the new institutions and update the changed ones."""
        return await upsert(self.session, table_of(Institution), rows, key="fixmedins_code", now=now)
