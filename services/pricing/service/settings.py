"""The monitoring settings ops change through the API: thresholds, the window, the index warning line."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from common.clock import Clock
from common.errors import Unprocessable
from pricing.domain.light import Thresholds
from pricing.schemas.drugs import MonitoringSettingsIn
from pricing.uow import PricingUnitOfWork


@dataclass(frozen=True, slots=True)
class Monitoring:
    thresholds: Thresholds
    window_days: int
    index_warning_line: Decimal
    updated_by: str | None = None
    updated_at: datetime | None = None


DEFAULTS = Monitoring(thresholds=Thresholds(), window_days=30, index_warning_line=Decimal("1.10"))


async def current(*, uow: PricingUnitOfWork) -> Monitoring:
    """The settings in force: ops' row, or the defaults of DESIGN §8."""
    row = await uow.settings.row()
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
    *, uow: PricingUnitOfWork, data: MonitoringSettingsIn, updated_by: str, clock: Clock
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
    existing = await uow.settings.row(for_update=True)
    await uow.settings.write(values, exists=existing is not None)
    return await current(uow=uow)
