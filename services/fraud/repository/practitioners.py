"""The practitioners' queries: the registry, their points entries by year, their suspensions and the sweep."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import sqlalchemy as sa

from common.repository import Page, RepositoryBase
from fraud.models import Practitioner, PractitionerPoints, PractitionerSuspension


class PractitionerRepository(RepositoryBase[Practitioner]):
    model = Practitioner

    async def page(
        self,
        *,
        fixmedins_code: str | None,
        status: str | None,
        prac_type: str | None,
        limit: int,
        cursor: str | None,
    ) -> Page[Practitioner]:
        """Practitioners by code (descending), those of every filter given."""
        query = sa.select(Practitioner)
        for column, value in (
            (Practitioner.fixmedins_code, fixmedins_code),
            (Practitioner.status, status),
            (Practitioner.prac_type, prac_type),
        ):
            if value is not None:
                query = query.where(column == value)
        return await self.paginate(query, order_by=[Practitioner.prac_codg], limit=limit, cursor=cursor)

    async def year_points(self, prac_codg: str, year: int) -> int:
        """The sum of a practitioner's points in a calendar year."""
        total = await self.session.scalar(
            sa.select(sa.func.coalesce(sa.func.sum(PractitionerPoints.points), 0)).where(
                PractitionerPoints.prac_codg == prac_codg, PractitionerPoints.year == year
            )
        )
        return int(total or 0)

    async def entry_of_source(self, prac_codg: str, source: str, source_id: str) -> PractitionerPoints | None:
        """The entry a finding or case already gave this practitioner, if any."""
        found: PractitionerPoints | None = await self.session.scalar(
            sa.select(PractitionerPoints).where(
                PractitionerPoints.prac_codg == prac_codg,
                PractitionerPoints.source == source,
                PractitionerPoints.source_id == source_id,
            )
        )
        return found

    async def add_entry(self, entry: PractitionerPoints) -> None:
        self.session.add(entry)
        await self.session.flush()

    async def add_suspension(self, suspension: PractitionerSuspension) -> None:
        self.session.add(suspension)
        await self.session.flush()

    async def entries(self, prac_codg: str) -> Sequence[PractitionerPoints]:
        """Every points entry of a practitioner, newest first."""
        rows = await self.session.scalars(
            sa.select(PractitionerPoints)
            .where(PractitionerPoints.prac_codg == prac_codg)
            .order_by(PractitionerPoints.on_date.desc(), PractitionerPoints.entry_id.desc())
        )
        return rows.all()

    async def suspensions(self, prac_codg: str) -> Sequence[PractitionerSuspension]:
        """Every suspension of a practitioner, newest first."""
        rows = await self.session.scalars(
            sa.select(PractitionerSuspension)
            .where(PractitionerSuspension.prac_codg == prac_codg)
            .order_by(PractitionerSuspension.suspension_id.desc())
        )
        return rows.all()

    async def suspension_of_entry(self, entry_id: int) -> PractitionerSuspension | None:
        found: PractitionerSuspension | None = await self.session.scalar(
            sa.select(PractitionerSuspension).where(PractitionerSuspension.entry_id == entry_id)
        )
        return found

    async def running(self, prac_codgs: Sequence[str]) -> Sequence[PractitionerSuspension]:
        """The suspensions of these practitioners the sweep has not ended."""
        if not prac_codgs:
            return []
        rows = await self.session.scalars(
            sa.select(PractitionerSuspension).where(
                PractitionerSuspension.prac_codg.in_(list(prac_codgs)),
                PractitionerSuspension.reinstated_on.is_(None),
            )
        )
        return rows.all()

    async def over_before(self, as_of: date) -> Sequence[PractitionerSuspension]:
        """Suspensions whose last day is before `as_of` and not ended yet, oldest first, locked."""
        rows = await self.session.scalars(
            sa.select(PractitionerSuspension)
            .where(
                PractitionerSuspension.reinstated_on.is_(None),
                PractitionerSuspension.suspended_until < as_of,
            )
            .order_by(PractitionerSuspension.suspension_id)
            .with_for_update()
        )
        return rows.all()
