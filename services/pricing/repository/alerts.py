"""Alerts (预警): the open ones by key, new ones in one statement, sightings counted, the list newest first."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from common.db import table_of
from common.errors import NotFound
from common.repository import RepositoryBase
from pricing.models import PriceAlert
from pricing.repository.sets import among, update_rows

_CHUNK = 900


class AlertRepository(RepositoryBase[PriceAlert]):
    model = PriceAlert

    async def must_get(self, alert_id: int, *, for_update: bool = False) -> PriceAlert:
        """The alert, or 404 ALERT_NOT_FOUND."""
        alert = await self.get(alert_id, for_update=for_update)
        if alert is None:
            raise NotFound("No such alert.", code="ALERT_NOT_FOUND", alert_id=alert_id)
        return alert

    async def open_counts(self, keys: Sequence[str]) -> dict[str, tuple[int, int]]:
        """The open alerts of these keys: open_key -> (alert_id, occurrences)."""
        table = table_of(PriceAlert)
        found: dict[str, tuple[int, int]] = {}
        for start in range(0, len(keys), _CHUNK):
            rows = await self.session.execute(
                sa.select(table.c.open_key, table.c.alert_id, table.c.occurrences).where(
                    among(self.session, table.c.open_key, keys[start : start + _CHUNK])
                )
            )
            found.update({key: (alert_id, occurrences) for key, alert_id, occurrences in rows.all()})
        return found

    async def insert_open(self, rows: Sequence[dict[str, Any]]) -> dict[str, int]:
        """Insert new open alerts in one statement: open_key -> alert_id of those inserted. A key raised by a
        concurrent upload a moment ago is skipped (ON CONFLICT DO NOTHING) and absent from the answer."""
        if not rows:
            return {}
        table = table_of(PriceAlert)
        dialect_insert = (
            postgresql.insert if self.session.get_bind().dialect.name == "postgresql" else sqlite.insert
        )
        statement = (
            dialect_insert(table)
            .on_conflict_do_nothing(index_elements=[table.c.open_key])
            .returning(table.c.open_key, table.c.alert_id)
        )
        result = await self.session.execute(statement, list(rows))
        return {key: alert_id for key, alert_id in result.all()}

    async def count_sightings(self, counted: Sequence[tuple[int, int]], *, now: datetime) -> None:
        """Set (alert_id, occurrences) on open alerts seen again, in one statement."""
        rows = [
            {"alert_id": alert_id, "occurrences": occurrences, "last_seen_at": now}
            for alert_id, occurrences in sorted(counted)
        ]
        await update_rows(self.session, table_of(PriceAlert), ("alert_id",), rows)

    async def newest(
        self,
        *,
        light: str | None,
        status: str | None,
        fixmedins_code: str | None,
        limit: int,
        before: int | None,
    ) -> list[PriceAlert]:
        """Alerts newest first, after the id `before` (the API's cursor is the bare alert id)."""
        query = sa.select(PriceAlert)
        if light:
            query = query.where(PriceAlert.light == light)
        if status:
            query = query.where(PriceAlert.status == status)
        if fixmedins_code:
            query = query.where(PriceAlert.fixmedins_code == fixmedins_code)
        if before is not None:
            query = query.where(PriceAlert.alert_id < before)
        query = query.order_by(PriceAlert.alert_id.desc()).limit(limit)
        return list((await self.session.scalars(query)).all())
