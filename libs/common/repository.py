"""Repositories: all of a service's SQL, on the unit of work's session; they query and flush, never commit.

`RepositoryBase[T]` gives every repository the same few things — `get`, `add`, `flush` — and the one keyset
pagination of the platform (`limit` + opaque `cursor`, DESIGN.md §3): `paginate(query, order_by=...)`
orders by the key columns, fetches one row more than asked to know whether a next page exists, and encodes
the last row's key as the next cursor. A cursor this API did not give out is 400 INVALID_CURSOR.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar, Generic, TypeVar

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from common.errors import BadRequest
from common.pagination import decode_cursor, encode_cursor

T = TypeVar("T")
_CHUNK = 900  # keys per IN (...): well under every driver's limit on bound parameters
Key = InstrumentedAttribute[Any] | sa.ColumnElement[Any]


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a list: its items, and the cursor of the next page (None on the last)."""

    items: list[T]
    next_cursor: str | None


def _name(key: Key) -> str:
    name = getattr(key, "key", None) or getattr(key, "name", None)
    if not isinstance(name, str):
        raise TypeError(f"a pagination key needs a name: {key!r}")
    return name


def _python_type(key: Key) -> type:
    column_type = key.type
    # A TypeDecorator (UtcDateTime) answers `object`: the type it decorates knows.
    for candidate in (column_type, getattr(column_type, "impl", None)):
        if candidate is None:
            continue
        try:
            python_type: type = candidate.python_type
        except NotImplementedError:
            continue
        if python_type is not object:
            return python_type
    return str


def _text(value: Any) -> str:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def _value(text: str, python_type: type) -> Any:
    try:
        if python_type is datetime:
            moment = datetime.fromisoformat(text)
            if moment.tzinfo is None:
                raise ValueError("a cursor's moment carries its offset")
            return moment
        if python_type is date:
            return date.fromisoformat(text)
        if python_type is int:
            number = int(text)
            if not -(2**63) <= number < 2**63:
                raise ValueError("out of range")
            return number
        if python_type is Decimal:
            return Decimal(text)
    except (ValueError, InvalidOperation) as exc:
        raise BadRequest("The cursor is not one this API gave out.", code="INVALID_CURSOR") from exc
    return text


class RepositoryBase(Generic[T]):
    """The queries of one aggregate (`model`) on a unit of work's session."""

    model: ClassVar[type[Any]]

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, key: Any, *, for_update: bool = False) -> T | None:
        """The row of a primary key, or None; `for_update` locks it (PostgreSQL) until the transaction ends."""
        found: T | None = await self.session.get(self.model, key, with_for_update=for_update or None)
        return found

    def add(self, entity: T) -> None:
        self.session.add(entity)

    async def flush(self) -> None:
        await self.session.flush()

    async def mark_unset(self, column: str, value: Any, *, key: str, keys: Sequence[Any]) -> int:
        """Set `column` to `value` on the rows of `keys` where it is still NULL; how many rows it set.

        Rows another transaction marked first are left as they are: a claim that each row is taken once.
        """
        table: sa.Table = self.model.__table__
        marked = 0
        for start in range(0, len(keys), _CHUNK):
            result = await self.session.execute(
                sa.update(table)
                .where(table.c[key].in_(list(keys[start : start + _CHUNK])))
                .where(table.c[column].is_(None))
                .values({column: value})
            )
            marked += int(result.rowcount)  # type: ignore[attr-defined]
        return marked

    async def paginate(
        self,
        query: sa.Select[Any],
        *,
        order_by: Sequence[Key],
        limit: int,
        cursor: str | None,
        descending: bool = True,
        scalars: bool = True,
    ) -> Page[Any]:
        """A page of `query` in `order_by` order (newest first by default), after the row `cursor` names.

        `order_by` must identify a row (end with a unique column). `scalars` False pages over rows of
        several columns (each key read from the row by name) instead of entities.
        """
        if cursor is not None:
            texts = decode_cursor(cursor, parts=len(order_by))
            values = [_value(text, _python_type(key)) for text, key in zip(texts, order_by, strict=True)]
            position = sa.tuple_(*order_by)
            bound = sa.tuple_(
                *(sa.literal(value, key.type) for value, key in zip(values, order_by, strict=True))
            )
            query = query.where(position < bound if descending else position > bound)
        query = query.order_by(*(key.desc() if descending else key.asc() for key in order_by)).limit(
            limit + 1
        )
        result = await self.session.execute(query)
        rows: list[Any] = list(result.scalars().all() if scalars else result.all())
        more = len(rows) > limit
        rows = rows[:limit]
        next_cursor = None
        if more and rows:
            last = rows[-1]
            next_cursor = encode_cursor(
                *(
                    _text(getattr(last, _name(key)) if scalars else last._mapping[_name(key)])
                    for key in order_by
                )
            )
        return Page(rows, next_cursor)
