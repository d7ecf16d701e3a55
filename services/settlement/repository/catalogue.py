"""The reimbursement catalogue (医保目录): look-ups, the search, the entries a split reads, the upsert."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from common.bulk import Row, Upserted, upsert
from common.db import table_of
from common.repository import Page, RepositoryBase
from settlement.domain.split import CatalogEntry
from settlement.models import CatalogItem

# Stored as decimal text: "0.1" and "0.10" are the same value, not a change.
_DECIMAL_COLUMNS = frozenset({"selfpay_prop", "pric_uplmt_amt", "max_cnt_per_visit"})


def _decimal(text: str | None) -> Decimal | None:
    return Decimal(text) if text is not None else None


def _same(old: Mapping[str, Any], new: Row) -> bool:
    for column, value in new.items():
        before = old[column]
        if column in _DECIMAL_COLUMNS and before is not None and value is not None:
            if Decimal(before) != Decimal(value):
                return False
        elif before != value:
            return False
    return True


class CatalogueRepository(RepositoryBase[CatalogItem]):
    model = CatalogItem

    async def find(self, med_list_codg: str) -> CatalogItem | None:
        """The catalogue item of a code, or None."""
        query = sa.select(CatalogItem).where(CatalogItem.med_list_codg == med_list_codg)
        return (await self.session.scalars(query)).one_or_none()

    async def page(
        self, *, q: str | None, chrgitm_lv: str | None, limit: int, cursor: str | None
    ) -> Page[CatalogItem]:
        """Items in code order; q matches the start of the code or any part of the name."""
        query = sa.select(CatalogItem)
        if q:
            needle = q.lower()
            query = query.where(
                sa.or_(
                    sa.func.lower(CatalogItem.med_list_codg).startswith(needle, autoescape=True),
                    sa.func.lower(CatalogItem.name).contains(needle, autoescape=True),
                )
            )
        if chrgitm_lv:
            query = query.where(CatalogItem.chrgitm_lv == chrgitm_lv)
        return await self.paginate(
            query, order_by=[CatalogItem.med_list_codg], limit=limit, cursor=cursor, descending=False
        )

    async def entries(self, codes: Collection[str]) -> dict[str, CatalogEntry]:
        """The catalogue entries of the given codes (codes not in the catalogue are simply absent)."""
        wanted = set(codes)
        if not wanted:
            return {}
        table = table_of(CatalogItem)
        rows = await self.session.execute(sa.select(table).where(table.c.med_list_codg.in_(wanted)))
        return {
            row.med_list_codg: CatalogEntry(
                med_list_codg=row.med_list_codg,
                chrgitm_lv=row.chrgitm_lv,
                selfpay_prop=_decimal(row.selfpay_prop),
                pric_uplmt_amt=_decimal(row.pric_uplmt_amt),
                gend_lmt=row.gend_lmt,
                age_min=row.age_min,
                age_max=row.age_max,
                max_cnt_per_visit=_decimal(row.max_cnt_per_visit),
                trac_codg_required=row.trac_codg_required,
            )
            for row in rows
        }

    async def upsert(self, rows: Sequence[Row], *, now: datetime) -> Upserted:
        """Insert the new items and update the changed ones (a decimal spelt otherwise is not a change)."""
        return await upsert(
            self.session, table_of(CatalogItem), rows, key="med_list_codg", now=now, same=_same
        )
