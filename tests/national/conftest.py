"""The national-interface conformance platform: four live services and the gateway, once per test module.

Each conformance test enrolls its own person (a certno of its own) at its own visits and msgids, so the tests
of a module share one platform instead of starting five servers each; the databases are emptied after the
module. HIS messages are built the way the published clients build them (see `his.py`).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import pytest_asyncio

from common.clock import FrozenClock
from common.config import AppEnv
from common.embedded_nats import EmbeddedNats
from common.testing.apps import LiveServer, app_client
from common.testing.databases import DatabaseSet, empty_database
from common.testing.plugin import fresh_streams
from enrollment.app import create_app as create_enrollment
from enrollment.config import Settings as EnrollmentSettings
from fraud.app import create_app as create_fraud
from fraud.config import Settings as FraudSettings
from gateway.app import create_app as create_gateway
from gateway.config import Settings as GatewaySettings
from pricing.app import create_app as create_pricing
from pricing.config import Settings as PricingSettings
from pricing.models import Pharmacy
from settlement.app import create_app as create_settlement
from settlement.config import Settings as SettlementSettings
from tests.national.his import HOSPITAL, OTHER_HOSPITAL, PHARMACY, His
from tests.settlement.seed import SEEDED_AT, seed_catalog, seed_institution

# The module's clock: 2026-03-02 10:00 Asia/Shanghai, moved only by tests that say so.
START = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def his(
    database_set: DatabaseSet, nats_server: EmbeddedNats, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[His]:
    """A HIS, a POS and the bureau's ops, each with its key, in front of the whole platform."""
    await fresh_streams(nats_server.url)
    clock = FrozenClock(START)
    var_dir: Path = tmp_path_factory.mktemp("national")
    urls = database_set.urls

    def live(create: object, settings: type, name: str, **extra: object) -> LiveServer:
        app = create(  # type: ignore[operator]
            settings(database_url=urls[name], nats_url=nats_server.url, app_env=AppEnv.TEST, **extra),
            clock=clock,
        )
        return LiveServer(app)

    enrollment = live(create_enrollment, EnrollmentSettings, "enrollment")
    settlement = live(create_settlement, SettlementSettings, "settlement", review_enabled=False)
    fraud = live(create_fraud, FraudSettings, "fraud")
    pricing = live(create_pricing, PricingSettings, "pricing")
    servers = (enrollment, settlement, fraud, pricing)
    await asyncio.gather(*(server.start() for server in servers))
    sdb = settlement.app.state.db
    for code, kind in ((HOSPITAL, "hospital"), (OTHER_HOSPITAL, "hospital"), (PHARMACY, "pharmacy")):
        await seed_institution(sdb, code, fixmedins_type=kind)
    await seed_catalog(sdb, "A01", "01")
    await seed_catalog(sdb, "B02", "02")
    await seed_catalog(sdb, "C03", "03")
    async with pricing.app.state.db.transaction() as session:
        session.add(
            Pharmacy(
                fixmedins_code=PHARMACY,
                fixmedins_name="药店",
                admdvs="420100",
                status="active",
                changed_at=SEEDED_AT,
            )
        )
    gateway = create_gateway(
        GatewaySettings(
            database_url=urls["gateway"],
            nats_url=nats_server.url,
            app_env=AppEnv.TEST,
            var_dir=var_dir,
            enrollment_url=enrollment.url,
            settlement_url=settlement.url,
            fraud_url=fraud.url,
            pricing_url=pricing.url,
            upstream_connect_timeout_s=0.5,
        ),
        clock=clock,
    )
    try:
        async with app_client(gateway, principal=None) as client:
            platform = await His.open(
                client,
                ops_key=(var_dir / "bootstrap-ops-key").read_text().strip(),
                clock=clock,
                gateway_db=gateway.state.db,
                settlement_db=sdb,
            )
            yield platform
    finally:
        await asyncio.gather(*(server.stop() for server in servers))
        await asyncio.gather(*(empty_database(url) for name, url in urls.items() if name != "scratch"))
