"""The settlement app: Settlement 结算."""

from __future__ import annotations

from fastapi import FastAPI

from common.app import create_service_app
from common.clock import Clock
from settlement.config import Settings

DESCRIPTION = (
    "visits, fee details, the reimbursement split, personal accounts, the fund ledger, day "
    "close (日结算), month reconciliation (月核算), reconciliation with institutions, fund KPIs."
)


def create_app(settings: Settings | None = None, *, clock: Clock | None = None) -> FastAPI:
    """The settlement service as an ASGI app (uvicorn's factory)."""
    return create_service_app(
        settings=settings or Settings(), title="Settlement 结算", description=DESCRIPTION, clock=clock
    )
