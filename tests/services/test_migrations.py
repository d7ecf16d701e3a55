"""Every service's migrations apply, reverse and re-apply, and match its models exactly."""

from __future__ import annotations

import asyncio
import importlib
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from common.db import UtcDateTime, create_engine
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


def test_pricing_counted_flags_become_window_starts_and_back(database_set: DatabaseSet) -> None:
    """The flag per latest price becomes the group's window start: the same prices stay in the table."""
    url = database_set.urls["pricing"]
    downgrade("pricing", url, "a956c97f8c9d")

    async def read(query: str) -> list[tuple[object, ...]]:
        engine = create_engine(url, pool_size=1, max_overflow=0)
        try:
            async with engine.connect() as connection:
                return [tuple(row) for row in (await connection.execute(sa.text(query))).all()]
        finally:
            await engine.dispose()

    moments = {n: datetime(2026, 3, n, 8, tzinfo=UTC) for n in (1, 2, 3)}
    insert = sa.text(
        "INSERT INTO latest_price (med_list_codg, admdvs, fixmedins_code, price_micro, observed_at, counted) "
        "VALUES (:d, '420100', :p, 1000000, :at, :counted)"
    ).bindparams(sa.bindparam("at", type_=UtcDateTime()))
    rows = [
        # D1: the price of March 1 aged out, those of March 2 and 3 counted.
        {"d": "D1", "p": "P1", "at": moments[1], "counted": False},
        {"d": "D1", "p": "P2", "at": moments[2], "counted": True},
        {"d": "D1", "p": "P3", "at": moments[3], "counted": True},
        # D2: nothing counted any more.
        {"d": "D2", "p": "P1", "at": moments[2], "counted": False},
    ]

    async def fill() -> None:
        engine = create_engine(url, pool_size=1, max_overflow=0)
        try:
            async with engine.begin() as connection:
                await connection.execute(insert, rows)
        finally:
            await engine.dispose()

    asyncio.run(fill())
    upgrade("pricing", url)
    in_table = asyncio.run(
        read(
            "SELECT lp.med_list_codg, lp.fixmedins_code FROM latest_price lp JOIN price_window w "
            "ON w.med_list_codg = lp.med_list_codg AND w.admdvs = lp.admdvs "
            "WHERE lp.observed_at >= w.counted_from ORDER BY 1, 2",
        )
    )
    assert in_table == [("D1", "P2"), ("D1", "P3")]
    downgrade("pricing", url, "a956c97f8c9d")
    flags = asyncio.run(read("SELECT med_list_codg, fixmedins_code, counted FROM latest_price ORDER BY 1, 2"))
    assert [(d, p, bool(c)) for d, p, c in flags] == [
        ("D1", "P1", False),
        ("D1", "P2", True),
        ("D1", "P3", True),
        ("D2", "P1", False),
    ]
    upgrade("pricing", url)
