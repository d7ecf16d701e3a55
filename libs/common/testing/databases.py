"""Test databases: one per service and backend, migrated once per run, emptied after each test."""

from __future__ import annotations

import asyncio
import os
import uuid
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import make_url

from common.db import create_engine
from common.events.tables import event_metadata
from common.migrations import upgrade

SERVICES = ("enrollment", "settlement", "pricing", "fraud", "gateway")
SCRATCH = "scratch"  # only the event tables: for tests of the backbone itself


def postgres_admin_url() -> str | None:
    """TEST_POSTGRES_URL, as an asyncpg URL (any database on the server; used to create the test ones)."""
    raw = os.environ.get("TEST_POSTGRES_URL")
    if not raw:
        return None
    url = make_url(raw)
    return url.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)


def backends() -> list[str]:
    return ["sqlite", "postgres"] if postgres_admin_url() else ["sqlite"]


class DatabaseSet:
    """The databases of one backend for the whole run."""

    def __init__(self, backend: str, root: Path) -> None:
        self.backend = backend
        self.root = root
        self.tag = uuid.uuid4().hex[:8]
        self.urls: dict[str, str] = {}

    def create(self) -> None:
        for name in (*SERVICES, SCRATCH):
            url = self._create_database(name)
            if name == SCRATCH:
                asyncio.run(_create_all(url))
            else:
                upgrade(name, url)
            self.urls[name] = url

    def _create_database(self, name: str) -> str:
        if self.backend == "sqlite":
            return f"sqlite+aiosqlite:///{self.root / f'{name}.db'}"
        admin = postgres_admin_url()
        assert admin is not None
        database = f"ybj_test_{name}_{self.tag}"
        asyncio.run(_admin_execute(admin, f'CREATE DATABASE "{database}"'))
        return make_url(admin).set(database=database).render_as_string(hide_password=False)

    def drop(self) -> None:
        if self.backend != "postgres":
            return
        admin = postgres_admin_url()
        assert admin is not None
        for url in self.urls.values():
            database = make_url(url).database
            asyncio.run(_admin_execute(admin, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))


async def _admin_execute(admin_url: str, statement: str) -> None:
    engine = create_engine(admin_url, pool_size=1, max_overflow=0)
    try:
        async with engine.connect() as connection:
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            await connection.execute(sa.text(statement))
    finally:
        await engine.dispose()


async def _create_all(url: str) -> None:
    engine = create_engine(url, pool_size=1, max_overflow=0)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(event_metadata.create_all)
    finally:
        await engine.dispose()


async def empty_database(url: str) -> None:
    """Delete every row of every table but alembic's, so the next test starts from a migrated, empty schema."""
    engine = create_engine(url, pool_size=1, max_overflow=0)
    try:
        async with engine.begin() as connection:
            # Children before parents, so foreign keys never object.
            ordered = await connection.run_sync(
                lambda sync: sa.inspect(sync).get_sorted_table_and_fkc_names()
            )
            tables = [name for name, _ in reversed(ordered) if name and name != "alembic_version"]
            if not tables:
                return
            if connection.dialect.name == "postgresql":
                quoted = ", ".join(f'"{name}"' for name in tables)
                await connection.execute(sa.text(f"TRUNCATE {quoted} RESTART IDENTITY CASCADE"))
            else:
                for name in tables:
                    await connection.execute(sa.text(f'DELETE FROM "{name}"'))  # noqa: S608 - names from the schema
    finally:
        await engine.dispose()


class Databases:
    """What a test gets: the URL of each service's database on the current backend."""

    def __init__(self, database_set: DatabaseSet) -> None:
        self._set = database_set
        self.used: set[str] = set()

    @property
    def backend(self) -> str:
        return self._set.backend

    def url(self, service: str) -> str:
        self.used.add(service)
        return self._set.urls[service]
