"""The settlement app: 结算 — institutions, catalogue, policy, visits, the split, accounts, the ledger."""

from __future__ import annotations

from fastapi import FastAPI

from common.app import create_service_app
from common.clock import Clock, SystemClock
from settlement.api import routers
from settlement.config import Settings
from settlement.events import subscriptions
from settlement.service.day_close import scheduler
from settlement.service.operations import gauges_worker
from settlement.service.reference import PolicyBook

DESCRIPTION = (
    "结算 — designated institutions (定点医药机构), the reimbursement catalogue (医保目录) and the versioned "
    "policy; visits, fee details, pre-settlement and settlement in the national 2201/2204/2206/2207/2208 "
    "style, or one call for a pharmacy or outpatient claim (`POST /settlements`, idempotent on "
    "`medins_setl_id`); the split of DESIGN §6.2, personal accounts and family mutual aid (家庭共济), "
    "reversal (冲正), and the double-entry fund ledger in integer fen."
)


def create_app(settings: Settings | None = None, *, clock: Clock | None = None) -> FastAPI:
    """The settlement service as an ASGI app (uvicorn's factory)."""
    settings = settings or Settings()
    clock = clock or SystemClock()
    workers = [scheduler(settings.day_close_check_interval_s)] if settings.day_close_schedule else []
    if settings.gauges_interval_s > 0:
        workers.append(gauges_worker(settings.gauges_interval_s))
    app = create_service_app(
        settings=settings,
        title="Settlement 结算",
        description=DESCRIPTION,
        routers=routers(),
        subscriptions=subscriptions(clock=clock),
        workers=workers,
        clock=clock,
    )
    app.state.policy_book = PolicyBook(ttl_s=settings.policy_cache_s, clock=clock)
    return app
