"""The pricing app: 药品价格监测预警 — drugs, observed prices, reference prices, lights, alerts, the index."""

from __future__ import annotations

from fastapi import FastAPI

from common.app import create_service_app
from common.clock import Clock, SystemClock
from pricing.api import routers
from pricing.config import Settings
from pricing.events import recompute_worker, subscriptions

DESCRIPTION = (
    "药品价格监测预警 — drug reference data (挂网价, 集采中选价); prices observed from POS sales uploads "
    "(`POST /sales`, idempotent on `sale_id`) and pharmacy settlements (med_type 41); the reference price "
    "per drug and region (众数价, else the median, of each pharmacy's latest price over a rolling window); "
    "the light of every price (红黄绿灯 by the difference ratio 差值比, red above 1.5 × the procurement "
    "price); alerts; the volume-price comparison index (量价比较指数) per pharmacy and month; and the "
    "public comparison (`GET /compare`, `GET /drugs`)."
)


def create_app(settings: Settings | None = None, *, clock: Clock | None = None) -> FastAPI:
    """The pricing service as an ASGI app (uvicorn's factory)."""
    settings = settings or Settings()
    clock = clock or SystemClock()
    return create_service_app(
        settings=settings,
        title="Pricing 药品价格监测预警",
        description=DESCRIPTION,
        routers=routers(),
        subscriptions=subscriptions(clock=clock),
        workers=[recompute_worker(settings.recompute_interval_s)] if settings.recompute_schedule else [],
        clock=clock,
    )
