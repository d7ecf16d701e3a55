"""Coverages (参保关系) and their suspensions: a person's history, the current one, the eligibility facts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from common.errors import NotFound
from common.repository import RepositoryBase
from enrollment.models import Coverage, CoverageSuspension, Person

_CHUNK = 900  # psn_nos per IN (...): well under every driver's limit on bound parameters


@dataclass(frozen=True, slots=True)
class EligibilityFacts:
    """A person, the coverage in force on a date (if any) and whether it is suspended then."""

    psn_no: str
    death_date: date | None
    coverage: Coverage | None
    suspended: bool


@dataclass(frozen=True, slots=True)
class StatusCount:
    """How many coverages of an insutype are in a status."""

    insutype: str
    status: str
    count: int


class CoverageRepository(RepositoryBase[Coverage]):
    model = Coverage

    async def of_person(self, psn_no: str) -> list[Coverage]:
        """A person's coverages, oldest first."""
        query = (
            sa.select(Coverage)
            .where(Coverage.psn_no == psn_no)
            .order_by(Coverage.begndate, Coverage.coverage_id)
        )
        return list((await self.session.scalars(query)).all())

    async def of_persons(self, psn_nos: Sequence[str]) -> list[Coverage]:
        """The coverages of many persons (a bulk load's), each person's oldest first."""
        found: list[Coverage] = []
        for start in range(0, len(psn_nos), _CHUNK):
            query = (
                sa.select(Coverage)
                .where(Coverage.psn_no.in_(psn_nos[start : start + _CHUNK]))
                .order_by(Coverage.psn_no, Coverage.begndate, Coverage.coverage_id)
            )
            found.extend((await self.session.scalars(query)).all())
        return found

    async def must_get(self, coverage_id: int, *, for_update: bool = False) -> Coverage:
        """The coverage, or 404 COVERAGE_NOT_FOUND."""
        query = sa.select(Coverage).where(Coverage.coverage_id == coverage_id)
        if for_update:
            query = query.with_for_update()
        coverage = (await self.session.scalars(query)).one_or_none()
        if coverage is None:
            raise NotFound("No such coverage.", code="COVERAGE_NOT_FOUND", coverage_id=coverage_id)
        return coverage

    async def current(self, psn_no: str) -> Coverage | None:
        """The person's coverage that has not ended (at most one)."""
        query = sa.select(Coverage).where(Coverage.psn_no == psn_no, Coverage.status != "ended")
        return (await self.session.scalars(query)).one_or_none()

    async def add_new(self, coverage: Coverage) -> bool:
        """Insert a coverage in a savepoint; False when the person got a current one concurrently."""
        try:
            async with self.session.begin_nested():
                self.session.add(coverage)
                await self.session.flush()
        except IntegrityError:
            return False
        return True

    async def eligibility_facts(
        self, *, psn_no: str | None, certno: str | None, on: date, insutype: str | None
    ) -> EligibilityFacts | None:
        """Person, the coverage in force on `on` and whether it is suspended then — in one statement."""
        in_force = sa.and_(
            Coverage.psn_no == Person.psn_no,
            Coverage.begndate <= on,
            sa.or_(Coverage.enddate.is_(None), Coverage.enddate >= on),
            *([Coverage.insutype == insutype] if insutype else []),
        )
        suspended = (
            sa.exists()
            .where(
                CoverageSuspension.coverage_id == Coverage.coverage_id,
                CoverageSuspension.from_date <= on,
                sa.or_(CoverageSuspension.to_date.is_(None), CoverageSuspension.to_date > on),
            )
            .label("suspended")
        )
        key = Person.psn_no == psn_no if psn_no is not None else Person.certno == certno
        query = (
            sa.select(Person.psn_no, Person.death_date, Coverage, suspended)
            .select_from(Person)
            .outerjoin(Coverage, in_force)
            .where(key)
            .order_by(sa.nulls_last(Coverage.begndate.desc()), Coverage.coverage_id.desc())
            .limit(1)
        )
        row = (await self.session.execute(query)).first()
        if row is None:
            return None
        return EligibilityFacts(row[0], row[1], row[2], bool(row[3]))

    async def count_by_status(self, *, admdvs: str | None) -> list[StatusCount]:
        """Coverages by insutype and status, city-wide or of the persons of a region."""
        query = (
            sa.select(Coverage.insutype, Coverage.status, sa.func.count())
            .group_by(Coverage.insutype, Coverage.status)
            .order_by(Coverage.insutype, Coverage.status)
        )
        if admdvs:
            query = query.join(Person, Person.psn_no == Coverage.psn_no).where(Person.admdvs == admdvs)
        rows = (await self.session.execute(query)).all()
        return [StatusCount(insutype, status, int(count)) for insutype, status, count in rows]


class SuspensionRepository(RepositoryBase[CoverageSuspension]):
    model = CoverageSuspension

    async def of_coverage(self, coverage_id: int) -> list[CoverageSuspension]:
        query = (
            sa.select(CoverageSuspension)
            .where(CoverageSuspension.coverage_id == coverage_id)
            .order_by(CoverageSuspension.from_date)
        )
        return list((await self.session.scalars(query)).all())

    async def of_persons(self, psn_nos: Sequence[str]) -> list[CoverageSuspension]:
        """The suspensions of every coverage of many persons (a bulk load's), oldest first."""
        found: list[CoverageSuspension] = []
        for start in range(0, len(psn_nos), _CHUNK):
            query = (
                sa.select(CoverageSuspension)
                .join(Coverage, Coverage.coverage_id == CoverageSuspension.coverage_id)
                .where(Coverage.psn_no.in_(psn_nos[start : start + _CHUNK]))
                .order_by(CoverageSuspension.coverage_id, CoverageSuspension.from_date)
            )
            found.extend((await self.session.scalars(query)).all())
        return found

    async def open_of(self, coverage_id: int) -> CoverageSuspension | None:
        """The suspension of a coverage that has not been closed, if any."""
        query = sa.select(CoverageSuspension).where(
            CoverageSuspension.coverage_id == coverage_id, CoverageSuspension.to_date.is_(None)
        )
        return (await self.session.scalars(query)).one_or_none()
