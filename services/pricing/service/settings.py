"""The monitoring settings ops change through the API: thresholds, the window, the index warning line."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from common.clock import Clock
from common.errors import Unprocessable
from pricing.domain.light import Thresholds
from pricing.models import MonitoringSettings
from pricing.schemas.drugs import MonitoringSettingsIn

_ROW_ID = 1


@dataclass(frozen=True, slots=True)
class Monitoring:
    thresholds: Thresholds
    window_days: int
    index_warning_line: Decimal
    updated_by: str | None = None
    updated_at: datetime | None = None


DEFAULTS = Monitoring(thresholds=Thresholds(), window_days=30, index_warning_line=Decimal("1.10"))


async def current(session: AsyncSession) -> Monitoring:
    """The settings in force: ops' row, or the defaults of DESIGN §8."""
    row = await session.get(MonitoringSettings, _ROW_ID)
    if row is None:
        return DEFAULTS
    return Monitoring(
        thresholds=Thresholds(
            yellow=Decimal(row.yellow_threshold),
            red=Decimal(row.red_threshold),
            procurement_factor=Decimal(row.procurement_factor),
        ),
        window_days=row.window_days,
        index_warning_line=Decimal(row.index_warning_line),
        updated_by=row.updated_by,
        updated_at=row.updated_at,
    )


async def replace(
    session: AsyncSession, data: MonitoringSettingsIn, *, updated_by: str, clock: Clock
) -> Monitoring:
    """Replace the settings; the red threshold must lie above the yellow one."""
    if data.red_threshold <= data.yellow_threshold:
        raise Unprocessable(
            "red_threshold must be above yellow_threshold.", code="INVALID_THRESHOLDS", field="red_threshold"
        )
    values = {
        "yellow_threshold": format(data.yellow_threshold, "f"),
        "red_threshold": format(data.red_threshold, "f"),
        "procurement_factor": format(data.procurement_factor, "f"),
        "window_days": data.window_days,
        "index_warning_line": format(data.index_warning_line, "f"),
        "updated_by": updated_by,
        "updated_at": clock.now(),
    }
    row = await session.get(MonitoringSettings, _ROW_ID, with_for_update=True)
    if row is None:
        session.add(MonitoringSettings(settings_id=_ROW_ID, **values))
    else:
        await session.execute(
            sa.update(MonitoringSettings).where(MonitoringSettings.settings_id == _ROW_ID).values(**values)
        )
    await session.flush()
    return await current(session)
