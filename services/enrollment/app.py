"""The enrollment app: 参保登记 — persons, coverages, contributions, waiting periods, eligibility."""

from __future__ import annotations

from fastapi import FastAPI

from common.app import create_service_app
from common.clock import Clock, SystemClock
from enrollment.api import routers
from enrollment.config import Settings
from enrollment.events import subscriptions

DESCRIPTION = (
    "参保登记 — one record per person (一人一档), coverages (310 职工 / 390 居民 with 392 大病), contributions, "
    "the 2025 resident waiting period (待遇等待期) and continuous-enrollment incentives, family mutual aid "
    "(家庭共济), death, and the eligibility look-up HIS calls first (`GET /eligibility`)."
)


def create_app(settings: Settings | None = None, *, clock: Clock | None = None) -> FastAPI:
    """The enrollment service as an ASGI app (uvicorn's factory)."""
    settings = settings or Settings()
    clock = clock or SystemClock()
    policy = settings.resident_policy()
    app = create_service_app(
        settings=settings,
        title="Enrollment 参保登记",
        description=DESCRIPTION,
        routers=routers(),
        subscriptions=subscriptions(clock=clock, policy=policy),
        clock=clock,
    )
    app.state.resident_policy = policy
    return app
