"""The database layer: SQLite tuned for concurrent writers, the naming convention, one transaction per unit."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa

from common.db import Database, UtcDateTime, new_metadata


async def test_sqlite_runs_in_wal_mode_with_a_busy_timeout_and_foreign_keys(tmp_path: Path) -> None:
    db = Database.from_url(f"sqlite+aiosqlite:///{tmp_path / 'nested' / 'x.db'}", busy_timeout_ms=4321)
    try:
        async with db.transaction(readonly=True) as session:
            pragmas = [
                (await session.execute(sa.text(f"PRAGMA {name}"))).scalar_one()
                for name in ("journal_mode", "busy_timeout", "foreign_keys")
            ]
        assert pragmas == ["wal", 4321, 1]
    finally:
        await db.dispose()


async def test_concurrent_sqlite_writers_queue_instead_of_failing(tmp_path: Path) -> None:
    # Read-then-write in each transaction: with deferred BEGIN two writers deadlock on the lock upgrade and one
    # gets "database is locked"; BEGIN IMMEDIATE makes them wait their turn, so no increment is lost.
    db = Database.from_url(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    try:
        async with db.transaction() as session:
            await session.execute(sa.text("CREATE TABLE counter (n INTEGER NOT NULL)"))
            await session.execute(sa.text("INSERT INTO counter VALUES (0)"))

        async def increment() -> None:
            async with db.transaction() as session:
                current = (await session.execute(sa.text("SELECT n FROM counter"))).scalar_one()
                await asyncio.sleep(0.001)
                await session.execute(sa.text("UPDATE counter SET n = :n"), {"n": current + 1})

        await asyncio.gather(*(increment() for _ in range(40)))
        async with db.transaction(readonly=True) as session:
            assert (await session.execute(sa.text("SELECT n FROM counter"))).scalar_one() == 40
    finally:
        await db.dispose()


async def test_a_failed_unit_of_work_leaves_nothing_behind(tmp_path: Path) -> None:
    db = Database.from_url(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    try:
        async with db.transaction() as session:
            await session.execute(sa.text("CREATE TABLE item (name TEXT)"))
        with pytest.raises(ZeroDivisionError):
            async with db.transaction() as session:
                await session.execute(sa.text("INSERT INTO item VALUES ('half')"))
                _ = 1 / 0
        async with db.transaction(readonly=True) as session:
            assert (await session.execute(sa.text("SELECT count(*) FROM item"))).scalar_one() == 0
    finally:
        await db.dispose()


def test_constraint_names_follow_the_house_convention() -> None:
    metadata = new_metadata()
    parent = sa.Table("person", metadata, sa.Column("psn_no", sa.String(20), primary_key=True))
    child = sa.Table(
        "coverage",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("psn_no", sa.ForeignKey(parent.c.psn_no)),
        sa.Column("insutype", sa.String(3)),
        sa.UniqueConstraint("psn_no", "insutype"),
        sa.CheckConstraint("insutype <> ''", name="insutype_not_empty"),
        sa.Index(None, "insutype"),
    )
    from sqlalchemy.schema import CreateIndex, CreateTable

    ddl = str(CreateTable(child)) + str(CreateIndex(next(iter(child.indexes))))
    for name in (
        "pk_coverage",
        "fk_coverage_psn_no_person",
        "uq_coverage_psn_no_insutype",
        "ck_coverage_insutype_not_empty",
        "ix_coverage_insutype",
    ):
        assert name in ddl


async def test_moments_come_back_timezone_aware_in_utc(tmp_path: Path) -> None:
    metadata = new_metadata()
    table = sa.Table("moment", metadata, sa.Column("at", UtcDateTime()))
    db = Database.from_url(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    try:
        async with db.engine.begin() as connection:
            await connection.run_sync(metadata.create_all)
        shanghai_morning = datetime(2026, 3, 2, 8, 30, tzinfo=timezone(timedelta(hours=8)))
        async with db.transaction() as session:
            await session.execute(sa.insert(table).values(at=shanghai_morning))
        async with db.transaction(readonly=True) as session:
            stored = (await session.execute(sa.select(table.c.at))).scalar_one()
        assert stored == datetime(2026, 3, 2, 0, 30, tzinfo=UTC)
        assert stored.tzinfo is UTC
        with pytest.raises(sa.exc.StatementError, match="naive"):
            async with db.transaction() as session:
                await session.execute(sa.insert(table).values(at=datetime(2026, 3, 2, 8, 30)))
    finally:
        await db.dispose()
