"""Every service serves its own /docs and /redoc from the installed package: no URL leaves the server."""

from __future__ import annotations

import re

from common.clock import FrozenClock
from common.testing.apps import app_client
from common.testing.databases import Databases
from tests.common.conftest import scratch_app

DEAD_NATS = "nats://127.0.0.1:9"


async def test_a_services_docs_pages_load_every_asset_from_the_service_itself(
    databases: Databases, clock: FrozenClock
) -> None:
    app = scratch_app(database_url=databases.url("scratch"), nats_url=DEAD_NATS, clock=clock)
    async with app_client(app, principal=None) as client:
        for page in ("/docs", "/redoc"):
            response = await client.get(page)
            assert response.status_code == 200, page
            urls = re.findall(r"""(?:src|href|url)\s*[=:]\s*['"]([^'"]+)['"]""", response.text)
            assert urls, page
            assert [url for url in urls if url.startswith(("http:", "https:", "//"))] == [], page
            for url in urls:
                asset = await client.get(url)
                assert asset.status_code == 200, (page, url)
