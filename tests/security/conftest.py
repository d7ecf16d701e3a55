"""The whole platform on real ports for the hostile-input and security tests: four services behind the
gateway on one NATS, every role's API key, and a snapshot of every table of every service's database.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
import sqlalchemy as sa

from common.clock import FrozenClock
from common.config import AppEnv
from common.db import create_engine
from common.embedded_nats import EmbeddedNats
from common.testing.apps import LiveServer, wait_for
from common.testing.databases import Databases, DatabaseSet, empty_database
from common.testing.plugin import fresh_streams
from enrollment.app import create_app as create_enrollment
from enrollment.config import Settings as EnrollmentSettings
from fraud.app import create_app as create_fraud
from fraud.config import Settings as FraudSettings
from gateway.app import create_app as create_gateway
from gateway.config import Settings as GatewaySettings
from pricing.app import create_app as create_pricing
from pricing.config import Settings as PricingSettings
from settlement.app import create_app as create_settlement
from settlement.config import Settings as SettlementSettings
from tests.pricing.conftest import seed_pharmacies
from tests.settlement.seed import credit_account, seed_catalog, seed_institution, seed_person

SERVICES = ("enrollment", "settlement", "pricing", "fraud")
HOSPITAL, OTHER_HOSPITAL, PHARMACY = "H42010000001", "H42010000002", "P42010000001"
# name -> (role, scope) of the API keys the tests call with; "ops" is the gateway's bootstrap key.
CLIENTS = {
    "his": ("his", HOSPITAL),
    "pos": ("pos", PHARMACY),
    "public": ("public", None),
}


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@dataclass
class Platform:
    """The gateway's URL and client, each role's key, and the services behind it (on real ports)."""

    gateway: LiveServer
    services: dict[str, LiveServer]
    client: httpx.AsyncClient
    keys: dict[str, str]
    database_urls: dict[str, str]
    client_ids: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.gateway.url

    def service(self, name: str) -> LiveServer:
        return self.gateway if name == "gateway" else self.services[name]


@contextlib.asynccontextmanager
async def _running_platform(
    urls: dict[str, str], nats_url: str, clock: FrozenClock, var_dir: Path
) -> AsyncIterator[Platform]:
    """Enrollment, settlement, pricing and fraud behind the gateway, seeded with two hospitals, a pharmacy,
    a catalogue item, a drug and a person with money in the account."""

    def settings_of(module: Any, name: str, **extra: Any) -> Any:
        return module(database_url=urls[name], nats_url=nats_url, app_env=AppEnv.TEST, **extra)

    services = {
        "enrollment": LiveServer(
            create_enrollment(settings_of(EnrollmentSettings, "enrollment"), clock=clock)
        ),
        "settlement": LiveServer(
            create_settlement(
                settings_of(SettlementSettings, "settlement", review_enabled=False), clock=clock
            )
        ),
        "pricing": LiveServer(create_pricing(settings_of(PricingSettings, "pricing"), clock=clock)),
        "fraud": LiveServer(create_fraud(settings_of(FraudSettings, "fraud"), clock=clock)),
    }
    gateway = LiveServer(
        create_gateway(
            GatewaySettings(
                database_url=urls["gateway"],
                nats_url=nats_url,
                app_env=AppEnv.TEST,
                var_dir=var_dir,
                upstream_connect_timeout_s=0.5,
                # A bulk call of the documented maximum (10,000 items) may take over the default 15 s on a
                # busy 2-core test machine; a 504 here would be the machine's, not the input's.
                upstream_timeout_s=60.0,
                **{f"{name}_url": server.url for name, server in services.items()},
            ),
            clock=clock,
        )
    )
    started: list[LiveServer] = []
    try:
        for server in services.values():
            started.append(server)
        await asyncio.gather(*(server.start() for server in services.values()))
        started.append(gateway)
        await gateway.start()
        settlement_db = services["settlement"].app.state.db
        for code, kind in ((HOSPITAL, "hospital"), (OTHER_HOSPITAL, "hospital"), (PHARMACY, "pharmacy")):
            await seed_institution(settlement_db, code, fixmedins_type=kind)
        await seed_catalog(settlement_db, "A01", "01")
        await seed_person(settlement_db, "P1")
        await credit_account(settlement_db, "P1", 10_000)
        await seed_pharmacies(services["pricing"].app.state.db, PHARMACY)
        ops_key = (var_dir / "bootstrap-ops-key").read_text().strip()
        async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as client:
            keys, client_ids = {"ops": ops_key}, {}
            for name, (role, scope) in CLIENTS.items():
                issued = await client.post(
                    "/admin/clients",
                    headers=bearer(ops_key),
                    json={"name": name, "role": role, **({"scope": scope} if scope else {})},
                )
                assert issued.status_code == 201, issued.text
                keys[name], client_ids[name] = issued.json()["api_key"], issued.json()["client_id"]
            drug = await client.put(
                "/pricing/drugs/XA01",
                headers=bearer(ops_key),
                json={"generic_name": "阿莫西林胶囊", "spec": "0.25g*24粒"},
            )
            assert drug.status_code in (200, 201), drug.text
            for server in services.values():
                await wait_for(lambda s=server: s.app.state.nats.connected, what="the services on NATS")
            yield Platform(
                gateway=gateway,
                services=services,
                client=client,
                keys=keys,
                database_urls={name: urls[name] for name in (*SERVICES, "gateway")},
                client_ids=client_ids,
            )
    finally:
        await asyncio.gather(*(server.stop() for server in started))


@pytest.fixture
async def platform(
    databases: Databases, nats_url: str, clock: FrozenClock, tmp_path: Path
) -> AsyncIterator[Platform]:
    """The platform of one test."""
    urls = {name: databases.url(name) for name in (*SERVICES, "gateway")}
    async with _running_platform(urls, nats_url, clock, tmp_path) as running:
        yield running


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def module_platform(
    database_set: DatabaseSet, nats_server: EmbeddedNats, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Platform]:
    """One platform for a whole module whose tests each prove they change nothing (test modules that use it
    run in the module's event loop: `pytestmark = pytest.mark.asyncio(loop_scope="module")`)."""
    await fresh_streams(nats_server.url)
    urls = {name: database_set.urls[name] for name in (*SERVICES, "gateway")}
    clock = FrozenClock(datetime(2026, 3, 2, 2, 0, tzinfo=UTC))
    try:
        async with _running_platform(
            urls, nats_server.url, clock, tmp_path_factory.mktemp("platform")
        ) as running:
            yield running
    finally:
        await asyncio.gather(*(empty_database(url) for url in urls.values()))


async def snapshot(url: str) -> dict[str, tuple[int, str]]:
    """Every table of a database (outbox and inbox included): its row count and a digest of its rows."""
    engine = create_engine(url, pool_size=1, max_overflow=0)
    try:
        async with engine.connect() as connection:
            names = await connection.run_sync(lambda sync: sa.inspect(sync).get_table_names())
            tables: dict[str, tuple[int, str]] = {}
            for name in sorted(names):
                rows = (await connection.execute(sa.text(f'SELECT * FROM "{name}"'))).all()
                digest = hashlib.sha256("\n".join(sorted(repr(tuple(row)) for row in rows)).encode())
                tables[name] = (len(rows), digest.hexdigest())
            return tables
    finally:
        await engine.dispose()


async def snapshot_all(platform: Platform) -> dict[str, dict[str, tuple[int, str]]]:
    return {name: await snapshot(url) for name, url in platform.database_urls.items()}
