"""The pricing app: Pricing 药品价格监测预警."""

from __future__ import annotations

from fastapi import FastAPI

from common.app import create_service_app
from common.clock import Clock
from pricing.config import Settings

DESCRIPTION = (
    "pharmacy sales prices, reference prices, red/yellow/green lights, the volume-price index, "
    "public price comparison."
)


def create_app(settings: Settings | None = None, *, clock: Clock | None = None) -> FastAPI:
    """The pricing service as an ASGI app (uvicorn's factory)."""
    return create_service_app(
        settings=settings or Settings(),
        title="Pricing 药品价格监测预警",
        description=DESCRIPTION,
        clock=clock,
    )
