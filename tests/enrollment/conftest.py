"""Enrollment's app on a migrated database and a real NATS, with helpers that speak its API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, datetime

import httpx
import pytest
from fastapi import FastAPI

from common.clock import SHANGHAI, FrozenClock
from common.config import AppEnv
from common.principal import Principal
from common.testing.apps import app_client
from common.testing.databases import Databases
from enrollment.app import create_app
from enrollment.config import Settings
from enrollment.domain.certno import check_char


def certno(birth: date, *, seq: int = 123, region: str = "420102") -> str:
    """A valid certno for a birth date; an odd seq is a man, an even one a woman."""
    first17 = f"{region}{birth:%Y%m%d}{seq:03d}"
    return first17 + check_char(first17)


def at_shanghai(year: int, month: int, day: int, hour: int = 10) -> datetime:
    """A moment given in Asia/Shanghai wall-clock time."""
    return datetime(year, month, day, hour, tzinfo=SHANGHAI)


@pytest.fixture
def enrollment_app(databases: Databases, nats_url: str, clock: FrozenClock) -> FastAPI:
    settings = Settings(database_url=databases.url("enrollment"), nats_url=nats_url, app_env=AppEnv.TEST)
    return create_app(settings, clock=clock)


@pytest.fixture
async def api(enrollment_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(enrollment_app) as client:
        yield client


async def as_client(app: FastAPI, principal: Principal) -> httpx.AsyncClient:
    from common.testing.apps import PrincipalAuth

    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://testserver",
        auth=PrincipalAuth(principal, secret=app.state.settings.internal_secret, clock=app.state.clock),
    )


async def register(
    api: httpx.AsyncClient,
    birth: date = date(1990, 3, 7),
    *,
    seq: int = 123,
    name: str = "张三",
    **extra: object,
) -> dict:  # type: ignore[type-arg]
    response = await api.post(
        "/persons", json={"certno": certno(birth, seq=seq), "psn_name": name, "admdvs": "420100", **extra}
    )
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def enroll(api: httpx.AsyncClient, psn_no: str, **body: object) -> dict:  # type: ignore[type-arg]
    response = await api.post(f"/persons/{psn_no}/coverages", json=body)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def eligible(api: httpx.AsyncClient, psn_no: str, on: str, insutype: str | None = None) -> dict:  # type: ignore[type-arg]
    params = {"psn_no": psn_no, "date": on}
    if insutype:
        params["insutype"] = insutype
    response = await api.get("/eligibility", params=params)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]
