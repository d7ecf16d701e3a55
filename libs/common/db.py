"""Async SQLAlchemy: engines for SQLite and PostgreSQL, one transaction per unit of work."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import DateTime, MetaData, Table, event, make_url
from sqlalchemy.engine import URL, Dialect
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
_READONLY = "ybj_readonly"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def new_metadata() -> MetaData:
    """A MetaData with the house naming convention, so constraint names are stable across databases."""
    return MetaData(naming_convention=NAMING_CONVENTION)


def table_of(model: type[Any]) -> Table:
    """A mapped class's Core table, for statements built once with bound parameters (the hot paths)."""
    table = model.__table__
    assert isinstance(table, Table)
    return table


class UtcDateTime(TypeDecorator[datetime]):
    """A moment stored in UTC and always read back timezone-aware, on SQLite as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("refusing to store a naive datetime")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def is_sqlite(url: str | URL) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def create_engine(
    url: str, *, pool_size: int = 10, max_overflow: int = 10, busy_timeout_ms: int = 5000, echo: bool = False
) -> AsyncEngine:
    """An async engine; on SQLite: WAL, busy timeout, foreign keys, and BEGIN IMMEDIATE for writes."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_async_engine(
            parsed,
            pool_size=pool_size,
            max_overflow=max_overflow,
            pool_recycle=1800,
            pool_timeout=10,
            echo=echo,
        )
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(parsed, echo=echo, connect_args={"timeout": busy_timeout_ms / 1000})

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from the driver so that "begin" below decides how to begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        # A write transaction takes the write lock at once, so two writers never deadlock upgrading a
        # read lock (SQLITE_BUSY mid-transaction); read-only transactions stay deferred and concurrent.
        if conn.get_execution_options().get(_READONLY):
            conn.exec_driver_sql("BEGIN")
        else:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


class Database:
    """A service's database: the engine, its sessions, and the signal that wakes the outbox relay."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.is_sqlite = engine.dialect.name == "sqlite"
        self._sessions = async_sessionmaker(engine, expire_on_commit=False, autoflush=False)
        # A read-only unit of work on PostgreSQL runs its statements in autocommit: under READ COMMITTED each
        # statement of a transaction takes its own snapshot anyway, so BEGIN and COMMIT would only add two
        # round trips to every read (the settle path makes one read-only unit of work per call).
        readonly_options: dict[str, Any] = {_READONLY: True}
        if not self.is_sqlite:
            readonly_options["isolation_level"] = "AUTOCOMMIT"
        self._readonly_sessions = async_sessionmaker(
            engine.execution_options(**readonly_options), expire_on_commit=False, autoflush=False
        )
        self.outbox_signal = asyncio.Event()

    @classmethod
    def from_url(cls, url: str, **options: Any) -> Database:
        return cls(create_engine(url, **options))

    @asynccontextmanager
    async def transaction(self, *, readonly: bool = False) -> AsyncIterator[AsyncSession]:
        """One transaction: commits when the block ends normally, rolls back when it raises."""
        maker = self._readonly_sessions if readonly else self._sessions
        async with maker() as session, session.begin():
            yield session
        if session.info.pop("outbox_pending", False):
            self.outbox_signal.set()

    async def dispose(self) -> None:
        await self.engine.dispose()


async def _request_session(request: Request) -> AsyncIterator[AsyncSession]:
    db: Database = request.app.state.db
    async with db.transaction(readonly=request.method in _SAFE_METHODS) as session:
        yield session


# scope="function" closes the transaction before the response is sent, so a failed commit becomes an
# error response instead of a success the database never kept.
DbSession = Annotated[AsyncSession, Depends(_request_session, scope="function")]
"""The request's session: one transaction, committed on success and rolled back on error."""
