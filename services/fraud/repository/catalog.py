"""The catalogue's restrictions of items (gender, age, quantity per visit), as settlement announced them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from common.db import table_of
from common.repository import RepositoryBase
from fraud.models import CatalogLimit
from fraud.repository import POSTGRESQL, dialect_of, insert_into

_LIMITS = table_of(CatalogLimit)
# What the rules read of an item (the review reads it on its budget).
_LIMIT_COLUMNS = (
    _LIMITS.c.med_list_codg,
    _LIMITS.c.gend_lmt,
    _LIMITS.c.age_min,
    _LIMITS.c.age_max,
    _LIMITS.c.max_cnt_per_visit,
)
_ITEM_LIMITS = sa.select(*_LIMIT_COLUMNS).where(
    _LIMITS.c.med_list_codg.in_(sa.bindparam("items", expanding=True))
)
# On PostgreSQL `= ANY(array)`: one SQL text whatever the number of items.
_ITEM_LIMITS_PG = sa.select(*_LIMIT_COLUMNS).where(
    _LIMITS.c.med_list_codg == sa.any_(sa.bindparam("items", type_=postgresql.ARRAY(sa.String())))
)


class CatalogLimitRepository(RepositoryBase[CatalogLimit]):
    model = CatalogLimit

    async def keep(self, med_list_codg: str, state: dict[str, Any]) -> None:
        """Insert or replace an item's limits."""
        await self.session.execute(
            insert_into(self.session, CatalogLimit)
            .values(med_list_codg=med_list_codg, **state)
            .on_conflict_do_update(index_elements=[CatalogLimit.med_list_codg], set_=state)
        )

    async def limits_of(self, items: list[str]) -> Sequence[Any]:
        """(med_list_codg, gend_lmt, age_min, age_max, max_cnt_per_visit) of these items, those the catalogue
        announced."""
        query = _ITEM_LIMITS_PG if dialect_of(self.session) == POSTGRESQL else _ITEM_LIMITS
        return (await self.session.execute(query, {"items": items})).all()
