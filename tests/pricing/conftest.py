"""Pricing's app on a migrated database and a real NATS, with helpers that speak its API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from common.clock import SHANGHAI, FrozenClock
from common.config import AppEnv
from common.db import Database
from common.principal import Principal, Role
from common.testing.apps import PrincipalAuth, app_client
from common.testing.databases import Databases
from pricing.app import create_app
from pricing.config import Settings
from pricing.models import Pharmacy

SEEDED_AT = datetime(2026, 1, 1, tzinfo=UTC)
PUBLIC = Principal(client_id="public-test", role=Role.PUBLIC)


def at_shanghai(year: int, month: int, day: int, hour: int = 10, minute: int = 0) -> datetime:
    """A moment given in Asia/Shanghai wall-clock time."""
    return datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)


def pricing_settings(databases: Databases, nats_url: str, **overrides: Any) -> Settings:
    return Settings(
        database_url=databases.url("pricing"), nats_url=nats_url, app_env=AppEnv.TEST, **overrides
    )


@pytest.fixture
def pricing_app(databases: Databases, nats_url: str, clock: FrozenClock) -> FastAPI:
    return create_app(pricing_settings(databases, nats_url), clock=clock)


@pytest.fixture
async def api(pricing_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(pricing_app) as client:
        yield client


def as_client(app: FastAPI, principal: Principal) -> httpx.AsyncClient:
    """A client signed as another principal, on an app whose lifespan already runs."""
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://testserver",
        auth=PrincipalAuth(principal, secret=app.state.settings.internal_secret, clock=app.state.clock),
    )


def pos(code: str) -> Principal:
    return Principal(client_id=f"pos-{code}", role=Role.POS, scope=code)


async def seed_pharmacies(db: Database, *codes: str, admdvs: str = "420100") -> None:
    """Pharmacies written straight into the projection (the consumer that feeds it has its own test)."""
    async with db.transaction() as session:
        for code in codes:
            session.add(
                Pharmacy(
                    fixmedins_code=code,
                    fixmedins_name=f"药店{code}",
                    admdvs=admdvs,
                    status="active",
                    changed_at=SEEDED_AT,
                )
            )


async def put_drug(api: httpx.AsyncClient, code: str, **fields: Any) -> None:
    body = {"generic_name": f"药品{code}", "spec": "10mg*10片"} | fields
    response = await api.put(f"/drugs/{code}", json=body)
    assert response.status_code in (200, 201), response.text


def sale(
    sale_id: str, code: str, price: str, *, cnt: str = "1", at: datetime | None = None
) -> dict[str, Any]:
    return {
        "sale_id": sale_id,
        "med_list_codg": code,
        "finl_trns_pric": price,
        "cnt": cnt,
        "sel_time": (at or at_shanghai(2026, 3, 2, 9)).isoformat(),
        "drug_trac_codg": [],
    }


async def upload(api: httpx.AsyncClient, pharmacy: str, *lines: dict[str, Any]) -> dict[str, Any]:
    response = await api.post("/sales", json={"fixmedins_code": pharmacy, "sales": list(lines)})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body
