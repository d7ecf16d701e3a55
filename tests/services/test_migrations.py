"""Every service's migrations apply, reverse and re-apply, and match its models exactly."""

from __future__ import annotations

import asyncio
import importlib

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from common.db import create_engine
from common.events.tables import event_metadata
from common.migrations import downgrade, upgrade
from common.serve import SERVICES
from common.testing.databases import DatabaseSet


def _tables(url: str) -> set[str]:
    async def read() -> set[str]:
        engine = create_engine(url, pool_size=1, max_overflow=0)
        try:
            async with engine.connect() as connection:
                names = await connection.run_sync(lambda sync: sa.inspect(sync).get_table_names())
                return set(names)
        finally:
            await engine.dispose()

    return asyncio.run(read())


def _drift(service: str, url: str) -> list[object]:
    metadata = importlib.import_module(f"{service}.models").Base.metadata

    async def compare() -> list[object]:
        engine = create_engine(url, pool_size=1, max_overflow=0)
        try:
            async with engine.connect() as connection:
                return await connection.run_sync(
                    lambda sync: compare_metadata(
                        MigrationContext.configure(sync), [metadata, event_metadata]
                    )
                )
        finally:
            await engine.dispose()

    return asyncio.run(compare())


@pytest.mark.parametrize("service", SERVICES)
def test_migrations_go_down_and_up_again_and_match_the_models(
    service: str, database_set: DatabaseSet
) -> None:
    url = database_set.urls[service]
    assert {"outbox_event", "inbox_event", "alembic_version"} <= _tables(url)
    assert _drift(service, url) == []
    downgrade(service, url, "base")
    assert _tables(url) <= {"alembic_version"}
    upgrade(service, url)
    assert {"outbox_event", "inbox_event"} <= _tables(url)
    assert _drift(service, url) == []
