"""Drugs (药品基础信息): one by code, many by code, the name search, the all-or-nothing upsert."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from common.bulk import LoadResult, Row, upsert
from common.db import table_of
from common.errors import NotFound
from common.repository import Page, RepositoryBase
from pricing.models import Drug
from pricing.repository.sets import among

_CHUNK = 900  # keys per IN (...): well under every driver's limit on bound parameters
# What a load compares: a stored drug with the same values is unchanged (updated_at is not compared).
_COLUMNS = (
    "generic_name",
    "dosage_form",
    "spec",
    "manufacturer",
    "listing_price_micro",
    "procurement_price_micro",
)


def _same(old: Mapping[str, Any], new: Row) -> bool:
    return all(old[column] == new[column] for column in _COLUMNS)


class DrugRepository(RepositoryBase[Drug]):
    model = Drug

    async def must_get(self, med_list_codg: str) -> Drug:
        """The drug of a code, or 404 DRUG_NOT_FOUND."""
        drug = await self.get(med_list_codg)
        if drug is None:
            raise NotFound("No such drug.", code="DRUG_NOT_FOUND", med_list_codg=med_list_codg)
        return drug

    async def procurement_prices(self, codes: Sequence[str]) -> dict[str, int | None]:
        """The drugs of these codes that exist, each with its 集采中选价 in millionths (or None): what a sale
        line needs of the catalogue, read for a whole upload in one query (`codes` sorted)."""
        table = table_of(Drug)
        found: dict[str, int | None] = {}
        for start in range(0, len(codes), _CHUNK):
            rows = await self.session.execute(
                sa.select(table.c.med_list_codg, table.c.procurement_price_micro).where(
                    among(self.session, table.c.med_list_codg, codes[start : start + _CHUNK])
                )
            )
            found.update({code: price for code, price in rows.all()})
        return found

    async def search(self, *, q: str | None, limit: int, cursor: str | None) -> Page[Drug]:
        """Drugs in code order; q matches any part of the generic name or the start of the code."""
        query = sa.select(Drug)
        if q:
            needle = q.lower()
            query = query.where(
                sa.or_(
                    sa.func.lower(Drug.generic_name).contains(needle, autoescape=True),
                    sa.func.lower(Drug.med_list_codg).startswith(needle, autoescape=True),
                )
            )
        return await self.paginate(
            query, order_by=[Drug.med_list_codg], limit=limit, cursor=cursor, descending=False
        )

    async def upsert(self, rows: Sequence[Row], *, now: datetime) -> LoadResult:
        """Insert the new drugs and update the changed ones (locked in key order: overlapping loads queue)."""
        done = await upsert(self.session, table_of(Drug), rows, key="med_list_codg", now=now, same=_same)
        return done.result
