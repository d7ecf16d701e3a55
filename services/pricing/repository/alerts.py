"""Alerts (预警): the open ones by key, a new one in its savepoint, the list newest first."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from common.errors import NotFound
from common.repository import RepositoryBase
from pricing.models import PriceAlert


class AlertRepository(RepositoryBase[PriceAlert]):
    model = PriceAlert

    async def must_get(self, alert_id: int, *, for_update: bool = False) -> PriceAlert:
        """The alert, or 404 ALERT_NOT_FOUND."""
        alert = await self.get(alert_id, for_update=for_update)
        if alert is None:
            raise NotFound("No such alert.", code="ALERT_NOT_FOUND", alert_id=alert_id)
        return alert

    async def open_by_key(self, keys: Sequence[str]) -> dict[str, PriceAlert]:
        found = await self.session.scalars(sa.select(PriceAlert).where(PriceAlert.open_key.in_(keys)))
        return {alert.open_key: alert for alert in found if alert.open_key is not None}

    async def add_new(self, alert: PriceAlert) -> PriceAlert | None:
        """Insert an alert in a savepoint; None when one with its open key was raised concurrently."""
        try:
            async with self.session.begin_nested():
                self.session.add(alert)
                await self.session.flush()
        except IntegrityError:
            return None
        return alert

    async def open_of(self, key: str) -> PriceAlert:
        return (await self.session.scalars(sa.select(PriceAlert).where(PriceAlert.open_key == key))).one()

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
