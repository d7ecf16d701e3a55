"""Async SQLAlchemy: engines for SQLite and PostgreSQL, one transaction per unit of work."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Hashable
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, ClassVar

import sqlalchemy as sa
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


def _json_value(value: Any) -> Any:
    """Values of rows sent as JSON (DeferredWrites.insert_rows), in the text PostgreSQL reads them from."""
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("refusing to store a naive datetime")
        return value.isoformat()
    if isinstance(value, date | Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not sent as JSON")


Build = Callable[[str, list[Any]], Any]
"""A deferred write's statement: given the prefix of its bound parameters' names and the CTEs queued before
it (so that it may select from a RETURNING one), the INSERT/UPDATE/DELETE."""


class DeferredWrites:
    """A transaction's writes that nothing reads before the commit, sent together.

    On PostgreSQL they are queued and go in one round trip, as one statement of data-modifying CTEs
    (`WITH w0 AS (INSERT ...), w1 AS (UPDATE ...) SELECT 1`): its parts run on one snapshot, none sees the
    others' rows (only what a RETURNING CTE hands on), and constraints are checked at the statement's end, so
    a child row may come with its parent. On SQLite, which has no DML in CTEs, each runs at once, in order.
    Queued writes are sent by `send()`, at the latest just before the commit (Database.transaction): a
    constraint they break raises there, inside the unit of work, as any write would. Only for writes whose
    effects the transaction does not read back before that (the settle path's last writes).

    Each write is a template (a key, and how to build it with bound parameters) and its values, so the combined
    statement of a given sequence of templates is built and compiled once and then only executed.
    """

    _KEY = "deferred_writes"
    _COMBINED: ClassVar[dict[tuple[Hashable, ...], Any]] = {}  # sequence of template keys -> statement
    _SINGLE: ClassVar[dict[Hashable, Any]] = {}  # template key -> statement, for SQLite

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.combined = session.get_bind().dialect.name == "postgresql"
        self._queued: list[tuple[Hashable, Build, dict[str, Any]]] = []

    @classmethod
    def of(cls, session: AsyncSession) -> DeferredWrites:
        """The session's deferred writes (created on first use)."""
        writes: DeferredWrites | None = session.info.get(cls._KEY)
        if writes is None:
            writes = session.info[cls._KEY] = cls(session)
        return writes

    async def add(self, key: Hashable, build: Build, params: dict[str, Any]) -> int:
        """Queue (PostgreSQL) or run now (SQLite) the write built by `build` with `params` (bound parameter
        names without the prefix); returns its position, for a later write to select from it."""
        if self.combined:
            self._queued.append((key, build, params))
            return len(self._queued) - 1
        statement = self._SINGLE.get(key)
        if statement is None:
            statement = self._SINGLE[key] = build("", [])
        await self.session.execute(statement, params)
        return -1

    async def insert(self, table: Table, row: dict[str, Any]) -> None:
        """Insert one row of `table`."""
        names = tuple(row)

        def build(prefix: str, _: list[Any]) -> Any:
            return sa.insert(table).values(
                {name: sa.bindparam(prefix + name, type_=table.c[name].type) for name in names}
            )

        await self.add(("insert", table.name, names), build, row)

    async def insert_rows(self, table: Table, rows: list[dict[str, Any]]) -> None:
        """Insert rows of `table` (each with the same keys); on SQLite one executemany.

        On PostgreSQL the rows travel as one JSON parameter that jsonb_to_recordset reads back with the
        columns' own types: one statement whatever the number of rows.
        """
        if not rows:
            return
        if not self.combined:
            await self.session.execute(sa.insert(table), rows)
            return
        names = tuple(rows[0])
        dialect = self.session.get_bind().dialect

        def build(prefix: str, _: list[Any]) -> Any:
            definitions = ", ".join(f"{name} {table.c[name].type.compile(dialect=dialect)}" for name in names)
            # Column names and types come from the table's own definition, never from the rows' values.
            select = f"SELECT {', '.join(names)} FROM jsonb_to_recordset(CAST(:{prefix}rows AS JSONB))"  # noqa: S608
            source = (
                sa.text(f"{select} AS r({definitions})")
                .bindparams(sa.bindparam(f"{prefix}rows", type_=sa.Text()))
                .columns(*(table.c[name] for name in names))
            )
            return sa.insert(table).from_select(names, source)

        await self.add(("rows", table.name, names), build, {"rows": json.dumps(rows, default=_json_value)})

    async def send(self) -> None:
        """Send what is queued, in one statement."""
        if not self._queued:
            return
        queued, self._queued = self._queued, []
        key = tuple(item[0] for item in queued)
        statement = self._COMBINED.get(key)
        if statement is None:
            ctes: list[Any] = []
            for position, (_, build, _) in enumerate(queued):
                ctes.append(build(f"w{position}_", ctes).cte(f"w{position}"))
            statement = sa.select(sa.literal(1)).add_cte(*ctes)
            if len(self._COMBINED) > 1000:  # a bound on shapes (number of lines and so on), never reached
                self._COMBINED.clear()
            self._COMBINED[key] = statement
        params = {
            f"w{position}_{name}": value
            for position, (_, _, values) in enumerate(queued)
            for name, value in values.items()
        }
        await self.session.execute(statement, params)

    @classmethod
    async def send_pending(cls, session: AsyncSession) -> None:
        writes: DeferredWrites | None = session.info.get(cls._KEY)
        if writes is not None:
            await writes.send()


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
        """One transaction: commits when the block ends normally, rolls back when it raises.

        Writes deferred on the session (DeferredWrites) are sent just before the commit.
        """
        maker = self._readonly_sessions if readonly else self._sessions
        async with maker() as session, session.begin():
            yield session
            await DeferredWrites.send_pending(session)
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
