"""What fraud keeps of insured persons: gender, birth date, date of death."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from common.db import table_of
from common.repository import RepositoryBase
from fraud.models import PersonFact
from fraud.repository import POSTGRESQL, dialect_of, insert_into

_PERSONS = table_of(PersonFact)
_DEATH = sa.select(_PERSONS.c.death_date).where(_PERSONS.c.psn_no == sa.bindparam("psn_no"))
_GENDER_AND_BIRTH = sa.select(_PERSONS.c.gend, _PERSONS.c.brdy).where(
    _PERSONS.c.psn_no == sa.bindparam("psn_no")
)
# A person's claims and death meet under this lock (PostgreSQL; SQLite serialises every writer): a settlement
# projected takes it shared, a death recorded exclusive, each in a statement before the ones that read the
# other, so whichever commits second sees the first and after_death is raised either way.
_KEY = sa.func.hashtextextended(sa.literal("fraud-person:") + sa.bindparam("psn_no", type_=sa.String()), 0)
_LOCK_SHARED = sa.select(sa.func.pg_advisory_xact_lock_shared(_KEY))
_LOCK_EXCLUSIVE = sa.select(sa.func.pg_advisory_xact_lock(_KEY))
_FACTS = sa.select(_PERSONS.c.gend, _PERSONS.c.brdy, _PERSONS.c.death_date).where(
    _PERSONS.c.psn_no == sa.bindparam("psn_no")
)


class PersonFactRepository(RepositoryBase[PersonFact]):
    model = PersonFact

    async def keep_registered(self, psn_no: str, *, gend: str, brdy: date, now: datetime) -> None:
        """Insert or update the person's gender and birth date (a recorded death is never touched)."""
        await self.session.execute(
            insert_into(self.session, PersonFact)
            .values(psn_no=psn_no, gend=gend, brdy=brdy, death_date=None, updated_at=now)
            .on_conflict_do_update(
                index_elements=[PersonFact.psn_no], set_={"gend": gend, "brdy": brdy, "updated_at": now}
            )
        )

    async def lock(self, psn_no: str, *, shared: bool) -> None:
        """The person's claims-and-death lock until the transaction ends (shared for a settlement projected,
        exclusive for a death recorded); nothing on SQLite."""
        if dialect_of(self.session) == POSTGRESQL:
            await self.session.execute(_LOCK_SHARED if shared else _LOCK_EXCLUSIVE, {"psn_no": psn_no})

    async def gender_and_birth(self, psn_no: str) -> Any:
        """(gend, brdy) of a person, or None if fraud never heard of them."""
        return (await self.session.execute(_GENDER_AND_BIRTH, {"psn_no": psn_no})).first()

    async def facts(self, psn_no: str) -> Any:
        """(gend, brdy, death_date) of a person, or None if fraud never heard of them."""
        return (await self.session.execute(_FACTS, {"psn_no": psn_no})).first()

    async def death_date(self, psn_no: str) -> date | None:
        death: date | None = await self.session.scalar(_DEATH, {"psn_no": psn_no})
        return death
