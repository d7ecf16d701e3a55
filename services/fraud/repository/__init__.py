"""Fraud's repositories, one module per aggregate: all of the service's SQL; they query and flush, never commit."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession


def insert_into(session: AsyncSession, table: sa.Table | type[Any]) -> Any:
    """The dialect's INSERT (with ON CONFLICT) for the session's database: PostgreSQL, or SQLite in dev."""
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)
