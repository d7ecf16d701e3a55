"""The spine every service is built on: the unit of work, the repository's keyset pages, the bulk upsert."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from pydantic import BaseModel, Field
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from common.bulk import BadRecord, LoadResult, upsert, valid_rows
from common.clock import FrozenClock
from common.db import Database, UtcDateTime, new_metadata, table_of
from common.errors import BadRequest, Unprocessable
from common.events.envelope import new_event
from common.events.tables import outbox_event
from common.repository import Page, RepositoryBase
from common.testing.databases import Databases
from common.uow import UnitOfWork


class Base(DeclarativeBase):
    metadata = new_metadata()


class Thing(Base):
    __tablename__ = "spine_thing"

    code: Mapped[str] = mapped_column(sa.String(10), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(50))
    made_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class Things(RepositoryBase[Thing]):
    model = Thing

    async def newest(self, *, limit: int, cursor: str | None) -> Page[Thing]:
        return await self.paginate(
            sa.select(Thing), order_by=[Thing.made_at, Thing.code], limit=limit, cursor=cursor
        )


class ThingsUnitOfWork(UnitOfWork):
    def bind(self, session: sa.ext.asyncio.AsyncSession) -> None:
        self.things = Things(session)


@pytest.fixture
async def db(databases: Databases) -> AsyncIterator[Database]:
    database = Database.from_url(databases.url("scratch"))
    async with database.engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    yield database
    async with database.engine.begin() as connection:
        await connection.run_sync(Base.metadata.drop_all)
    await database.dispose()


T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


async def _count(db: Database, table: sa.Table) -> int:
    async with db.transaction(readonly=True) as session:
        return int(await session.scalar(sa.select(sa.func.count()).select_from(table)) or 0)


async def test_a_unit_of_work_commits_its_rows_and_events_together_or_neither(db: Database) -> None:
    clock = FrozenClock(T0)
    async with ThingsUnitOfWork(db) as uow:
        uow.things.add(Thing(code="A", name="first", made_at=T0))
        await uow.publish(new_event(type="test.thing.made", source="test", subject="A", data={}, clock=clock))
    with pytest.raises(RuntimeError, match="boom"):
        async with ThingsUnitOfWork(db) as uow:
            uow.things.add(Thing(code="B", name="second", made_at=T0))
            await uow.publish(
                new_event(type="test.thing.made", source="test", subject="B", data={}, clock=clock)
            )
            await uow.flush()
            raise RuntimeError("boom")
    assert (await _count(db, table_of(Thing)), await _count(db, outbox_event)) == (1, 1)
    async with ThingsUnitOfWork(db, readonly=True) as uow:
        assert (await uow.things.get("A")) is not None
        with pytest.raises(RuntimeError, match="publishes nothing"):
            await uow.publish(
                new_event(type="test.thing.made", source="test", subject="A", data={}, clock=clock)
            )


async def test_pages_follow_the_key_newest_first_and_refuse_a_forged_cursor(db: Database) -> None:
    async with ThingsUnitOfWork(db) as uow:
        for n, code in enumerate("ABCDE"):
            uow.things.add(Thing(code=code, name=code, made_at=T0 + timedelta(minutes=n % 3)))
    seen: list[str] = []
    cursor = None
    async with ThingsUnitOfWork(db, readonly=True) as uow:
        while True:
            page = await uow.things.newest(limit=2, cursor=cursor)
            seen.append("".join(thing.code for thing in page.items))
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        # (minute, code) newest first: A0 B1 C2 D0 E1 -> C2, E1, B1, D0, A0
        assert seen == ["CE", "BD", "A"]
        with pytest.raises(BadRequest) as refused:
            await uow.things.newest(limit=2, cursor="bm90LWEtZGF0ZXxY")
    assert refused.value.code == "INVALID_CURSOR"


class ThingIn(BaseModel):
    code: str = Field(min_length=1, max_length=10)
    name: str = Field(min_length=1)


async def test_a_load_is_checked_whole_then_upserted_once(db: Database) -> None:
    def row(item: ThingIn) -> dict[str, object]:
        return {"code": item.code, "name": item.name, "made_at": T0}

    with pytest.raises(Unprocessable) as refused:
        valid_rows(
            [{"code": "A", "name": "a"}, {"code": "A", "name": "b"}, {"name": "c"}, BadRecord("3 cells")],
            model=ThingIn,
            key="code",
            to_row=row,
        )
    assert refused.value.code == "BULK_INVALID"
    assert refused.value.extra["errors"] == [
        {"row": 2, "field": "code", "code": "DUPLICATE_IN_REQUEST", "message": "code A is also on row 1"},
        {"row": 3, "field": "code", "code": "VALIDATION_ERROR", "message": "Field required"},
        {"row": 4, "field": None, "code": "MALFORMED_ROW", "message": "3 cells"},
    ]
    rows = valid_rows(
        [{"code": "A", "name": "a"}, {"code": "B", "name": "b"}], model=ThingIn, key="code", to_row=row
    )
    later = T0 + timedelta(hours=1)
    async with ThingsUnitOfWork(db) as uow:
        first = await upsert(uow.session, table_of(Thing), rows, key="code", now=T0)
    async with ThingsUnitOfWork(db) as uow:
        again = await upsert(
            uow.session, table_of(Thing), [rows[0], {**rows[1], "name": "B2"}], key="code", now=later
        )
    assert (first.result, again.result) == (LoadResult(2, 0, 0), LoadResult(0, 1, 1))
    assert [changed["code"] for changed in again.changed] == ["B"]
    async with ThingsUnitOfWork(db, readonly=True) as uow:
        b = await uow.things.get("B")
        assert b is not None and (b.name, b.updated_at) == ("B2", later)
