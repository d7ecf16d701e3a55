"""Settlement's app on a migrated database and a real NATS, with helpers that speak its API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from common.clock import SHANGHAI, FrozenClock
from common.config import AppEnv
from common.principal import Principal
from common.testing.apps import PrincipalAuth, app_client
from common.testing.databases import Databases
from settlement.app import create_app
from settlement.config import Settings


def at_shanghai(year: int, month: int, day: int, hour: int = 10, minute: int = 0) -> datetime:
    """A moment given in Asia/Shanghai wall-clock time."""
    return datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)


def settlement_settings(databases: Databases, nats_url: str, **overrides: Any) -> Settings:
    return Settings(
        database_url=databases.url("settlement"), nats_url=nats_url, app_env=AppEnv.TEST, **overrides
    )


@pytest.fixture
def settlement_app(databases: Databases, nats_url: str, clock: FrozenClock) -> FastAPI:
    # No review by default: tests of the review answer fraud.review themselves.
    return create_app(settlement_settings(databases, nats_url, review_enabled=False), clock=clock)


@pytest.fixture
async def api(settlement_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(settlement_app) as client:
        yield client


def as_client(app: FastAPI, principal: Principal) -> httpx.AsyncClient:
    """A client signed as another principal, on an app whose lifespan already runs."""
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://testserver",
        auth=PrincipalAuth(principal, secret=app.state.settings.internal_secret, clock=app.state.clock),
    )
