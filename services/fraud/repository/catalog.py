"""The catalogue's restrictions of items (gender, age, quantity per visit), as settlement announced them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from common.db import table_of
from common.repository import RepositoryBase
from fraud.models import CatalogLimit
from fraud.repository import insert_into

_LIMITS = table_of(CatalogLimit)
_ITEM_LIMITS = sa.select(_LIMITS).where(_LIMITS.c.med_list_codg.in_(sa.bindparam("items", expanding=True)))


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
        return (await self.session.execute(_ITEM_LIMITS, {"items": items})).all()
