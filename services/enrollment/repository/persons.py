"""Persons (一人一档): look-ups by psn_no and certno, the register's pages, inserts, counts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from common.errors import NotFound
from common.repository import Page, RepositoryBase
from enrollment.models import Person

_CHUNK = 900  # certnos per IN (...): well under every driver's limit on bound parameters
_WRITE_BATCH = 2000


class PersonRepository(RepositoryBase[Person]):
    model = Person

    async def find(self, psn_no: str, *, for_update: bool = False) -> Person | None:
        query = sa.select(Person).where(Person.psn_no == psn_no)
        if for_update:
            query = query.with_for_update()
        return (await self.session.scalars(query)).one_or_none()

    async def must_get(self, psn_no: str, *, for_update: bool = False) -> Person:
        """The person, or 404 PERSON_NOT_FOUND."""
        person = await self.find(psn_no, for_update=for_update)
        if person is None:
            raise NotFound("No such person.", code="PERSON_NOT_FOUND", psn_no=psn_no)
        return person

    async def lock_many(self, psn_nos: Sequence[str]) -> dict[str, Person]:
        """Many persons (a bulk load's; `psn_nos` sorted), locked FOR UPDATE in psn_no order as one call
        locks its person, so two loads sharing persons queue instead of deadlocking. Unknown ones are absent."""
        found: dict[str, Person] = {}
        for start in range(0, len(psn_nos), _CHUNK):
            query = (
                sa.select(Person)
                .where(Person.psn_no.in_(psn_nos[start : start + _CHUNK]))
                .order_by(Person.psn_no)
                .with_for_update()
            )
            found.update({person.psn_no: person for person in await self.session.scalars(query)})
        return found

    async def by_certno(self, certno: str) -> Person | None:
        return (await self.session.scalars(sa.select(Person).where(Person.certno == certno))).one_or_none()

    async def psn_nos_by_certno(self, certnos: Sequence[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        for start in range(0, len(certnos), _CHUNK):
            chunk = certnos[start : start + _CHUNK]
            rows = await self.session.execute(
                sa.select(Person.certno, Person.psn_no).where(Person.certno.in_(chunk))
            )
            found.update({certno: psn_no for certno, psn_no in rows})
        return found

    async def by_psn_nos(self, psn_nos: Sequence[str]) -> dict[str, Person]:
        rows = await self.session.scalars(sa.select(Person).where(Person.psn_no.in_(psn_nos)))
        return {person.psn_no: person for person in rows}

    async def page(
        self, *, certno: str | None, admdvs: str | None, limit: int, cursor: str | None
    ) -> Page[Person]:
        """Newest first, keyset-paginated on (created_at, psn_no)."""
        query = sa.select(Person)
        if certno:
            query = query.where(Person.certno == certno)
        if admdvs:
            query = query.where(Person.admdvs == admdvs)
        return await self.paginate(
            query, order_by=[Person.created_at, Person.psn_no], limit=limit, cursor=cursor
        )

    async def insert_new(self, row: dict[str, Any]) -> bool:
        """Insert a person in a savepoint; False when its certno was registered concurrently."""
        try:
            async with self.session.begin_nested():
                await self.session.execute(sa.insert(Person).values(**row))
        except IntegrityError:
            return False
        return True

    async def insert_many(self, rows: Sequence[dict[str, Any]]) -> None:
        for start in range(0, len(rows), _WRITE_BATCH):
            await self.session.execute(sa.insert(Person), rows[start : start + _WRITE_BATCH])

    async def count(self, *, admdvs: str | None, deceased: bool = False) -> int:
        """Persons registered (or, with `deceased`, those whose death is recorded), city-wide or in a region."""
        query = sa.select(sa.func.count()).select_from(Person)
        if deceased:
            query = query.where(Person.death_date.is_not(None))
        if admdvs:
            query = query.where(Person.admdvs == admdvs)
        return int(await self.session.scalar(query) or 0)
