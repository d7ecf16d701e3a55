"""PostgreSQL for `make run-pg`: one database per service on a server you name, created when missing.

The URL given is an admin connection (any database on the server, a role allowed to CREATE DATABASE);
each service gets `<prefix><service>` on the same server, e.g. `ybj_settlement`.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import sqlalchemy as sa
from sqlalchemy import make_url
from sqlalchemy.engine import URL
from sqlalchemy.exc import ArgumentError, DBAPIError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine
from sqlalchemy.pool import NullPool

from common.serve import SERVICES

DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_PREFIX = "ybj_"
CONNECT_TIMEOUT_S = 5.0
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")
_MAX_IDENTIFIER = 63  # PostgreSQL's NAMEDATALEN - 1
_DUPLICATE_DATABASE = "42P04"
T = TypeVar("T")


class PostgresError(RuntimeError):
    """Why the databases could not be prepared, in one line fit for the terminal."""


@dataclass(frozen=True)
class DevDatabases:
    """The database of each service on one server."""

    server: str  # the admin URL without its database and password, for display
    urls: dict[str, str]  # service -> postgresql+asyncpg URL (with the password)
    names: dict[str, str]  # service -> database name
    created: tuple[str, ...]  # the names created by this call


def admin_url(raw: str) -> URL:
    """The admin URL with the asyncpg driver; refuses anything that is not a PostgreSQL URL."""
    try:
        url = make_url(raw)
    except (ArgumentError, ValueError):
        raise PostgresError(
            "not a database URL; expected postgresql://user[:password]@host:port/db"
        ) from None
    if url.get_backend_name() not in ("postgresql", "postgres"):
        raise PostgresError(f"not a PostgreSQL URL ({url.get_backend_name()}); expected postgresql://...")
    return url.set(drivername="postgresql+asyncpg")


def database_names(prefix: str = DEFAULT_PREFIX) -> dict[str, str]:
    """`<prefix><service>` for each service; the prefix is checked so the names need no quoting rules."""
    names = {service: f"{prefix}{service}" for service in SERVICES}
    for name in names.values():
        if not _IDENTIFIER.match(name) or len(name) > _MAX_IDENTIFIER:
            raise PostgresError(
                f"database name {name!r} is not valid: use a prefix of lower-case letters, digits and _ "
                f"(at most {_MAX_IDENTIFIER} characters in all)"
            )
    return names


def display(url: URL) -> str:
    """The server part of a URL as people read it: no driver, no password, no database."""
    server = URL.create("postgresql", username=url.username, host=url.host, port=url.port)
    text = server.render_as_string(hide_password=True)
    return text if url.host else f"{text} (default host)"


def ensure_databases(raw_admin_url: str, prefix: str = DEFAULT_PREFIX) -> DevDatabases:
    """Create the missing `<prefix><service>` databases (idempotent, safe against a concurrent creator)."""
    admin = admin_url(raw_admin_url)
    names = database_names(prefix)
    created = _on_server(admin, lambda connection: _create_missing(connection, list(names.values())))
    urls = {
        service: admin.set(database=name).render_as_string(hide_password=False)
        for service, name in names.items()
    }
    return DevDatabases(server=display(admin), urls=urls, names=names, created=tuple(created))


def drop_databases(raw_admin_url: str, prefix: str) -> None:
    """Drop the `<prefix><service>` databases, closing any connection to them first (for tests)."""
    admin = admin_url(raw_admin_url)
    names = list(database_names(prefix).values())
    _on_server(admin, lambda connection: _drop(connection, names))


def _on_server(admin: URL, work: Callable[[AsyncConnection], Awaitable[T]]) -> T:
    """Run `work` on an AUTOCOMMIT admin connection; any failure to reach or use the server as one line."""

    async def run() -> T:
        engine = create_async_engine(admin, poolclass=NullPool, connect_args={"timeout": CONNECT_TIMEOUT_S})
        try:
            async with engine.connect() as connection:
                await connection.execution_options(isolation_level="AUTOCOMMIT")
                return await work(connection)
        finally:
            await engine.dispose()

    try:
        return asyncio.run(run())
    except (OSError, TimeoutError, SQLAlchemyError) as exc:
        raise PostgresError(f"PostgreSQL at {display(admin)}: {_reason(exc)}") from None


async def _create_missing(connection: AsyncConnection, names: list[str]) -> list[str]:
    existing = set(
        await connection.scalars(
            sa.text("SELECT datname FROM pg_database WHERE datname = ANY(:names)"), {"names": names}
        )
    )
    created = []
    for name in names:
        if name in existing:
            continue
        try:
            # The name is checked against _IDENTIFIER, so quoting it is enough.
            await connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
        except DBAPIError as exc:
            if getattr(exc.orig, "sqlstate", None) != _DUPLICATE_DATABASE:
                raise
            continue  # another process created it between the look-up and here
        created.append(name)
    return created


async def _drop(connection: AsyncConnection, names: list[str]) -> None:
    for name in names:
        await connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _reason(exc: BaseException) -> str:
    """The first line of what the driver said, without SQLAlchemy's wrapping."""
    if isinstance(exc, DBAPIError) and exc.orig is not None:
        exc = exc.orig
    if isinstance(exc, TimeoutError):
        return f"no answer within {CONNECT_TIMEOUT_S:.0f}s; is the host right?"
    lines = str(exc).strip().splitlines()
    text = re.sub(r"^(\(\S+\) )?(<class '[^']+'>: )?", "", lines[0]) if lines else ""
    if isinstance(exc, OSError):
        return f"cannot connect ({text or type(exc).__name__}); is it running?"
    return text or type(exc).__name__
