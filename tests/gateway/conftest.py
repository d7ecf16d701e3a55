"""The gateway's test platforms, registered once for every gateway test module: the gateway in front of
enrollment and fraud (`platform`), and in front of enrollment and settlement with each role's client
(`scoped_platform`, `clients`)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from common.clock import FrozenClock
from common.config import AppEnv
from common.testing.apps import LiveServer, app_client
from common.testing.databases import Databases
from enrollment.app import create_app as create_enrollment
from enrollment.config import Settings as EnrollmentSettings
from fraud.app import create_app as create_fraud
from fraud.config import Settings as FraudSettings
from gateway.app import create_app as create_gateway
from gateway.config import Settings as GatewaySettings
from settlement.app import create_app as create_settlement
from settlement.config import Settings as SettlementSettings
from tests.settlement.seed import credit_account, seed_catalog, seed_institution, seed_person


@dataclass
class Platform:
    gateway: FastAPI
    enrollment: LiveServer
    fraud: LiveServer
    var_dir: Path


def gateway_settings(
    databases: Databases, nats_url: str, var_dir: Path, **overrides: object
) -> GatewaySettings:
    # Nothing listens on port 9: a service not given by the test is "down".
    values: dict[str, object] = {
        "database_url": databases.url("gateway"),
        "nats_url": nats_url,
        "app_env": AppEnv.TEST,
        "var_dir": var_dir,
        "enrollment_url": "http://127.0.0.1:9",
        "settlement_url": "http://127.0.0.1:9",
        "pricing_url": "http://127.0.0.1:9",
        "fraud_url": "http://127.0.0.1:9",
        "upstream_connect_timeout_s": 0.5,
    }
    return GatewaySettings(**{**values, **overrides})


@pytest.fixture
async def platform(
    databases: Databases, nats_url: str, clock: FrozenClock, tmp_path: Path
) -> AsyncIterator[Platform]:
    enrollment = LiveServer(
        create_enrollment(
            EnrollmentSettings(
                database_url=databases.url("enrollment"), nats_url=nats_url, app_env=AppEnv.TEST
            ),
            clock=clock,
        )
    )
    fraud = LiveServer(
        create_fraud(
            FraudSettings(database_url=databases.url("fraud"), nats_url=nats_url, app_env=AppEnv.TEST),
            clock=clock,
        )
    )
    await enrollment.start()
    await fraud.start()
    gateway = create_gateway(
        gateway_settings(databases, nats_url, tmp_path, enrollment_url=enrollment.url, fraud_url=fraud.url),
        clock=clock,
    )
    try:
        yield Platform(gateway, enrollment, fraud, tmp_path)
    finally:
        await enrollment.stop()
        await fraud.stop()


@contextlib.asynccontextmanager
async def gateway_client(app: FastAPI, var_dir: Path) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    """A client of the running gateway, and the bootstrap ops key it created on its first start."""
    async with app_client(app, principal=None) as client:
        yield client, (var_dir / "bootstrap-ops-key").read_text().strip()


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


HOSPITAL_A, HOSPITAL_B, PHARMACY = "H42010000001", "H42010000002", "P42010000001"


@dataclass
class Clients:
    client: httpx.AsyncClient
    keys: dict[str, str]


@pytest.fixture
async def scoped_platform(
    databases: Databases, nats_url: str, clock: FrozenClock, tmp_path: Path
) -> AsyncIterator[tuple[FastAPI, Path]]:
    enrollment = LiveServer(
        create_enrollment(
            EnrollmentSettings(
                database_url=databases.url("enrollment"), nats_url=nats_url, app_env=AppEnv.TEST
            ),
            clock=clock,
        )
    )
    settlement = LiveServer(
        create_settlement(
            SettlementSettings(
                database_url=databases.url("settlement"),
                nats_url=nats_url,
                app_env=AppEnv.TEST,
                review_enabled=False,
            ),
            clock=clock,
        )
    )
    await enrollment.start()
    await settlement.start()
    db = settlement.app.state.db
    for code, kind in ((HOSPITAL_A, "hospital"), (HOSPITAL_B, "hospital"), (PHARMACY, "pharmacy")):
        await seed_institution(db, code, fixmedins_type=kind)
    await seed_catalog(db, "A01", "01")
    await seed_person(db, "P1")
    await credit_account(db, "P1", 10_000)
    gateway = create_gateway(
        gateway_settings(
            databases, nats_url, tmp_path, enrollment_url=enrollment.url, settlement_url=settlement.url
        ),
        clock=clock,
    )
    try:
        yield gateway, tmp_path
    finally:
        await enrollment.stop()
        await settlement.stop()


@pytest.fixture
async def clients(scoped_platform: tuple[FastAPI, Path]) -> AsyncIterator[Clients]:
    gateway, var_dir = scoped_platform
    async with gateway_client(gateway, var_dir) as (client, ops_key):
        keys = {"ops": ops_key}
        for name, role, scope in (
            ("his-a", "his", HOSPITAL_A),
            ("his-b", "his", HOSPITAL_B),
            ("pos", "pos", PHARMACY),
            ("public", "public", None),
        ):
            issued = await client.post(
                "/admin/clients",
                headers=bearer(ops_key),
                json={"name": name, "role": role, **({"scope": scope} if scope else {})},
            )
            assert issued.status_code == 201, issued.text
            keys[name] = issued.json()["api_key"]
        yield Clients(client, keys)


def claim(code: str, medins_setl_id: str, med_type: str = "11") -> dict[str, Any]:
    return {
        "fixmedins_code": code,
        "medins_setl_id": medins_setl_id,
        "psn_no": "P1",
        "insutype": "310",
        "med_type": med_type,
        "begntime": "2026-03-02T09:30:00+08:00",
        "acct_used_flag": 1,
        "feedetail": [
            {
                "feedetl_sn": "1",
                "med_list_codg": "A01",
                "cnt": "1",
                "pric": "20",
                "det_item_fee_sumamt": "20.00",
                "fee_ocur_time": "2026-03-02T09:40:00+08:00",
            }
        ],
    }
