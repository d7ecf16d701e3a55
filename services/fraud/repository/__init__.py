"""Fraud's repositories, one module per aggregate: all of the service's SQL; they query and flush, never commit."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

POSTGRESQL, SQLITE = "postgresql", "sqlite"
_INSERTS = {POSTGRESQL: postgresql.insert, SQLITE: sqlite.insert}


def dialect_of(session: AsyncSession) -> str:
    """The session's database: "postgresql", or "sqlite" in dev and tests."""
    return POSTGRESQL if session.get_bind().dialect.name == POSTGRESQL else SQLITE


def insert_into(session: AsyncSession, table: sa.Table | type[Any]) -> Any:
    """The dialect's INSERT (with ON CONFLICT) for the session's database: PostgreSQL, or SQLite in dev."""
    return _INSERTS[dialect_of(session)](table)


class PerDialect:
    """A statement built once per dialect with bound parameters (compiled once, then only executed): the hot
    paths' writes that need the dialect's INSERT ... ON CONFLICT. `build` gets the dialect's insert()."""

    def __init__(self, build: Callable[[Callable[..., Any]], Any]) -> None:
        self._built = {name: build(insert) for name, insert in _INSERTS.items()}

    def of(self, session: AsyncSession) -> Any:
        return self._built[dialect_of(session)]


def bound_values(table: sa.Table, names: tuple[str, ...]) -> dict[str, sa.BindParameter[Any]]:
    """values() of `names`, each a bound parameter of its name and its column's type."""
    return {name: sa.bindparam(name, type_=table.c[name].type) for name in names}
