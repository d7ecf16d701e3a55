"""Gauges for the operators' alerts: the last closed business day and the disbursements past due."""

from __future__ import annotations

import asyncio
import logging
from datetime import date, datetime
from typing import Any

from prometheus_client import Gauge

from common.clock import SHANGHAI, Clock, business_date
from common.db import Database
from settlement.uow import SettlementUnitOfWork

log = logging.getLogger("settlement.operations")

LAST_CLOSED_DAY = Gauge(
    "settlement_last_closed_day_timestamp_seconds",
    "Start (00:00 Asia/Shanghai) of the last closed business day as a unix timestamp; 0 before the first close",
)
DISBURSEMENTS_OVERDUE = Gauge(
    "settlement_disbursements_overdue", "Pending disbursement orders past their due date"
)
DISBURSEMENTS_OVERDUE_FEN = Gauge(
    "settlement_disbursements_overdue_fen",
    "Amount of the pending disbursement orders past their due date, in fen",
)


def day_start_timestamp(day: date) -> float:
    """00:00 of a business day in Asia/Shanghai, as a unix timestamp."""
    return datetime(day.year, day.month, day.day, tzinfo=SHANGHAI).timestamp()


async def refresh_operations_gauges(*, db: Database, clock: Clock) -> None:
    """Read the last close and the overdue disbursements (two small queries) into the gauges."""
    async with SettlementUnitOfWork(db, readonly=True) as uow:
        last_closed = await uow.day_closes.last_closed()
        overdue, overdue_fen = await uow.disbursements.overdue(today=business_date(clock.now()))
    LAST_CLOSED_DAY.set(day_start_timestamp(last_closed) if last_closed is not None else 0)
    DISBURSEMENTS_OVERDUE.set(overdue)
    DISBURSEMENTS_OVERDUE_FEN.set(overdue_fen)


def gauges_worker(interval_s: float) -> Any:
    """A worker that refreshes the gauges every `interval_s` (each replica its own; the alerts take the max)."""

    async def operations_gauges(app: Any) -> None:
        while True:
            try:
                await refresh_operations_gauges(db=app.state.db, clock=app.state.clock)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the next tick tries again; a stale gauge is better than a dead worker
                log.warning("operations gauges not refreshed (%s)", type(exc).__name__)
            await asyncio.sleep(interval_s)

    return operations_gauges
