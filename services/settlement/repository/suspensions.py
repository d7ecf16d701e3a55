"""Suspended practitioners (from fraud's events): kept once per suspension, read per claim in one query."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import date, datetime

import sqlalchemy as sa

from common.db import table_of
from common.repository import RepositoryBase
from settlement.models import SuspendedPractitioner
from settlement.repository.projection import insert_for

_SUSPENSIONS = table_of(SuspendedPractitioner)


class SuspensionRepository(RepositoryBase[SuspendedPractitioner]):
    model = SuspendedPractitioner

    async def keep(
        self,
        *,
        suspension_id: str,
        prac_codg: str,
        fixmedins_code: str,
        level: str,
        suspended_from: date,
        suspended_until: date,
        lifted_on: date | None,
        now: datetime,
    ) -> None:
        """Insert or refresh one suspension; a lift already recorded stays (a redelivered start keeps it)."""
        values = {
            "prac_codg": prac_codg,
            "fixmedins_code": fixmedins_code,
            "level": level,
            "suspended_from": suspended_from,
            "suspended_until": suspended_until,
            "updated_at": now,
        }
        refreshed = dict(values)
        if lifted_on is not None:
            refreshed["lifted_on"] = lifted_on
        await self.session.execute(
            insert_for(self.session, SuspendedPractitioner)
            .values(suspension_id=suspension_id, lifted_on=lifted_on, **values)
            .on_conflict_do_update(index_elements=[_SUSPENSIONS.c.suspension_id], set_=refreshed)
        )

    async def covering(
        self, prac_codgs: Collection[str], *, first: date, last: date
    ) -> Sequence[SuspendedPractitioner]:
        """The suspensions of these practitioners whose period meets [first, last]: one query per claim."""
        rows = await self.session.scalars(
            sa.select(SuspendedPractitioner).where(
                SuspendedPractitioner.prac_codg.in_(sorted(prac_codgs)),
                SuspendedPractitioner.suspended_until >= first,
                SuspendedPractitioner.suspended_from <= last,
            )
        )
        return rows.all()
