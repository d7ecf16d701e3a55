"""The enrollment app: Enrollment 参保登记."""

from __future__ import annotations

from fastapi import FastAPI

from common.app import create_service_app
from common.clock import Clock
from enrollment.config import Settings

DESCRIPTION = (
    "one record per person (一人一档), coverages, contributions, waiting periods, family mutual "
    "aid, death, eligibility look-up."
)


def create_app(settings: Settings | None = None, *, clock: Clock | None = None) -> FastAPI:
    """The enrollment service as an ASGI app (uvicorn's factory)."""
    return create_service_app(
        settings=settings or Settings(), title="Enrollment 参保登记", description=DESCRIPTION, clock=clock
    )
