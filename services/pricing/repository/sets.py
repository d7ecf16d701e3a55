"""Set-based statements: many rows of a table inserted, updated or deleted by one statement, and look-ups
of many keys at once.

On PostgreSQL the rows travel as one JSON document that the statement reads back as rows of the table's
own type (`json_populate_recordset`): one execution and one bound parameter whatever the number of rows,
and one statement text for every batch size, so it is prepared once per connection. (asyncpg's executemany
runs the statement once per row on the server; a multi-row VALUES list, or an IN list of bound values, is a
new statement to parse and plan for every row count; arrays, one per column, cost a check per element in
the driver.) A key list is one array parameter (`among`) for the same reason. SQLite runs in the
process, where executemany costs no round trip, and keeps it.

Table and column names come from the models, never from input; the values are always bound parameters.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession


def is_postgres(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def among(
    session: AsyncSession, column: sa.ColumnElement[Any], values: Sequence[Any]
) -> sa.ColumnElement[bool]:
    """`column IN values`: on PostgreSQL one array parameter, so the statement text never changes.

    Written `IN (SELECT unnest(:array))`, a semi-join: once PostgreSQL uses the statement's generic plan, an
    `= ANY(:array)` would compare every row with every element (only a constant array is hashed).
    """
    if is_postgres(session):
        array = sa.bindparam(None, list(values), type_=postgresql.ARRAY(column.type))
        return column.in_(sa.select(sa.func.unnest(array)).scalar_subquery())
    return column.in_(values)


def _moment(value: object) -> str:
    """A moment as ISO 8601 with its offset, which PostgreSQL reads exactly (json's hook for what it cannot
    encode itself: only datetimes are sent)."""
    if not isinstance(value, datetime):
        raise TypeError(f"{type(value).__name__} is not sent as JSON")
    if value.utcoffset() is None:
        raise ValueError("refusing to store a naive datetime")
    return value.isoformat()


def _document(rows: Sequence[Mapping[str, Any]]) -> str:
    """The rows as one JSON array of objects (JSON columns nested as they are), encoded by the C encoder.

    The moments of a batch mostly repeat (every row's `now`, an upload's sale times), so each is written once.
    """
    written: dict[object, str] = {}

    def moment(value: object) -> str:
        text = written.get(value)
        if text is None:
            text = written[value] = _moment(value)
        return text

    return json.dumps(list(rows), ensure_ascii=False, separators=(",", ":"), default=moment)


def _rows_of(table: sa.Table) -> str:
    return f"json_populate_recordset(NULL::{table.name}, CAST(:rows AS JSON))"


async def insert_rows(session: AsyncSession, table: sa.Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert the rows (all with the same keys) in one statement."""
    if not rows:
        return
    if not is_postgres(session):
        await session.execute(sa.insert(table), list(rows))
        return
    names = ", ".join(rows[0])
    sql = f"INSERT INTO {table.name} ({names}) SELECT {names} FROM {_rows_of(table)}"  # noqa: S608
    await session.execute(sa.text(sql), {"rows": _document(rows)})


async def upsert_rows(
    session: AsyncSession, table: sa.Table, keys: Sequence[str], rows: Sequence[Mapping[str, Any]]
) -> None:
    """Insert the rows, or update the row of the same `keys` (a unique key) where there is one: one statement."""
    if not rows:
        return
    names = list(rows[0])
    changed = [name for name in names if name not in keys]
    if not is_postgres(session):
        statement = sqlite.insert(table)
        await session.execute(
            statement.on_conflict_do_update(
                index_elements=list(keys), set_={name: statement.excluded[name] for name in changed}
            ),
            list(rows),
        )
        return
    columns = ", ".join(names)
    sets = ", ".join(f"{name} = EXCLUDED.{name}" for name in changed)
    sql = (
        f"INSERT INTO {table.name} ({columns}) SELECT {columns} FROM {_rows_of(table)} "  # noqa: S608
        f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {sets}"
    )
    await session.execute(sa.text(sql), {"rows": _document(rows)})


async def update_rows(
    session: AsyncSession, table: sa.Table, keys: Sequence[str], rows: Sequence[Mapping[str, Any]]
) -> None:
    """Update rows found by their `keys` columns (all rows with the same keys) in one statement."""
    if not rows:
        return
    changed = [name for name in rows[0] if name not in keys]
    if not is_postgres(session):
        statement = (
            sa.update(table)
            .where(*(table.c[key] == sa.bindparam(f"k_{key}") for key in keys))
            .values({name: sa.bindparam(f"v_{name}") for name in changed})
        )
        await session.execute(
            statement,
            [
                {**{f"k_{key}": row[key] for key in keys}, **{f"v_{name}": row[name] for name in changed}}
                for row in rows
            ],
        )
        return
    sets = ", ".join(f"{name} = v.{name}" for name in changed)
    match = " AND ".join(f"t.{key} = v.{key}" for key in keys)
    sql = f"UPDATE {table.name} AS t SET {sets} FROM {_rows_of(table)} AS v WHERE {match}"  # noqa: S608
    await session.execute(sa.text(sql), {"rows": _document(rows)})


async def delete_rows(
    session: AsyncSession, table: sa.Table, keys: Sequence[str], rows: Sequence[Mapping[str, Any]]
) -> None:
    """Delete the rows found by their `keys` columns in one statement."""
    if not rows:
        return
    if not is_postgres(session):
        statement = sa.delete(table).where(*(table.c[key] == sa.bindparam(f"k_{key}") for key in keys))
        await session.execute(statement, [{f"k_{key}": row[key] for key in keys} for row in rows])
        return
    match = " AND ".join(f"t.{key} = v.{key}" for key in keys)
    sql = f"DELETE FROM {table.name} AS t USING {_rows_of(table)} AS v WHERE {match}"  # noqa: S608
    await session.execute(
        sa.text(sql), {"rows": _document([{key: row[key] for key in keys} for row in rows])}
    )
