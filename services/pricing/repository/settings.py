"""The monitoring settings row ops change (one row)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from common.repository import RepositoryBase
from pricing.models import MonitoringSettings

ROW_ID = 1


class SettingsRepository(RepositoryBase[MonitoringSettings]):
    model = MonitoringSettings

    async def row(self, *, for_update: bool = False) -> MonitoringSettings | None:
        return await self.get(ROW_ID, for_update=for_update)

    async def write(self, values: dict[str, Any], *, exists: bool) -> None:
        if exists:
            await self.session.execute(
                sa.update(MonitoringSettings).where(MonitoringSettings.settings_id == ROW_ID).values(**values)
            )
        else:
            self.add(MonitoringSettings(settings_id=ROW_ID, **values))
        await self.flush()
