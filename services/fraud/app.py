"""The fraud app: Fraud 智能监控规则库."""

from __future__ import annotations

from fastapi import FastAPI

from common.app import create_service_app
from common.clock import Clock
from fraud.config import Settings

DESCRIPTION = (
    "the rule library: real-time review, post-event rules, findings that become deductions, backtests."
)


def create_app(settings: Settings | None = None, *, clock: Clock | None = None) -> FastAPI:
    """The fraud service as an ASGI app (uvicorn's factory)."""
    return create_service_app(
        settings=settings or Settings(), title="Fraud 智能监控规则库", description=DESCRIPTION, clock=clock
    )
