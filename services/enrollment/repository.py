"""Queries of the enrollment service: load and flush, never commit."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from common.errors import NotFound
from enrollment.models import Contribution, Coverage, CoverageSuspension, FamilyBinding, Person


async def find_person(session: AsyncSession, psn_no: str, *, for_update: bool = False) -> Person | None:
    query = sa.select(Person).where(Person.psn_no == psn_no)
    if for_update:
        query = query.with_for_update()
    return (await session.scalars(query)).one_or_none()


async def get_person(session: AsyncSession, psn_no: str, *, for_update: bool = False) -> Person:
    person = await find_person(session, psn_no, for_update=for_update)
    if person is None:
        raise NotFound("No such person.", code="PERSON_NOT_FOUND", psn_no=psn_no)
    return person


async def person_by_certno(session: AsyncSession, certno: str) -> Person | None:
    return (await session.scalars(sa.select(Person).where(Person.certno == certno))).one_or_none()


async def psn_nos_by_certno(session: AsyncSession, certnos: Sequence[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for start in range(0, len(certnos), 900):
        chunk = certnos[start : start + 900]
        rows = await session.execute(sa.select(Person.certno, Person.psn_no).where(Person.certno.in_(chunk)))
        found.update({certno: psn_no for certno, psn_no in rows})
    return found


async def persons_by_psn_no(session: AsyncSession, psn_nos: Sequence[str]) -> dict[str, Person]:
    rows = await session.scalars(sa.select(Person).where(Person.psn_no.in_(psn_nos)))
    return {person.psn_no: person for person in rows}


async def list_persons(
    session: AsyncSession,
    *,
    certno: str | None,
    admdvs: str | None,
    limit: int,
    before: tuple[datetime, str] | None,
) -> list[Person]:
    """Newest first, keyset-paginated on (created_at, psn_no)."""
    query = sa.select(Person)
    if certno:
        query = query.where(Person.certno == certno)
    if admdvs:
        query = query.where(Person.admdvs == admdvs)
    if before is not None:
        query = query.where(sa.tuple_(Person.created_at, Person.psn_no) < sa.tuple_(*before))
    query = query.order_by(Person.created_at.desc(), Person.psn_no.desc()).limit(limit)
    return list((await session.scalars(query)).all())


async def coverages_of(session: AsyncSession, psn_no: str) -> list[Coverage]:
    query = (
        sa.select(Coverage).where(Coverage.psn_no == psn_no).order_by(Coverage.begndate, Coverage.coverage_id)
    )
    return list((await session.scalars(query)).all())


async def get_coverage(session: AsyncSession, coverage_id: int, *, for_update: bool = False) -> Coverage:
    query = sa.select(Coverage).where(Coverage.coverage_id == coverage_id)
    if for_update:
        query = query.with_for_update()
    coverage = (await session.scalars(query)).one_or_none()
    if coverage is None:
        raise NotFound("No such coverage.", code="COVERAGE_NOT_FOUND", coverage_id=coverage_id)
    return coverage


async def current_coverage(session: AsyncSession, psn_no: str) -> Coverage | None:
    query = sa.select(Coverage).where(Coverage.psn_no == psn_no, Coverage.status != "ended")
    return (await session.scalars(query)).one_or_none()


async def coverage_on(session: AsyncSession, psn_no: str, on: date, insutype: str | None) -> Coverage | None:
    """The basic coverage in force on a date (the latest begun, if history overlaps)."""
    query = sa.select(Coverage).where(
        Coverage.psn_no == psn_no,
        Coverage.begndate <= on,
        sa.or_(Coverage.enddate.is_(None), Coverage.enddate >= on),
    )
    if insutype:
        query = query.where(Coverage.insutype == insutype)
    query = query.order_by(Coverage.begndate.desc(), Coverage.coverage_id.desc()).limit(1)
    return (await session.scalars(query)).one_or_none()


async def eligibility_facts(
    session: AsyncSession, *, psn_no: str | None, certno: str | None, on: date, insutype: str | None
) -> tuple[str, date | None, Coverage | None, bool] | None:
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
    row = (await session.execute(query)).first()
    if row is None:
        return None
    return row[0], row[1], row[2], bool(row[3])


async def suspensions_of(session: AsyncSession, coverage_id: int) -> list[CoverageSuspension]:
    query = (
        sa.select(CoverageSuspension)
        .where(CoverageSuspension.coverage_id == coverage_id)
        .order_by(CoverageSuspension.from_date)
    )
    return list((await session.scalars(query)).all())


async def open_suspension(session: AsyncSession, coverage_id: int) -> CoverageSuspension | None:
    query = sa.select(CoverageSuspension).where(
        CoverageSuspension.coverage_id == coverage_id, CoverageSuspension.to_date.is_(None)
    )
    return (await session.scalars(query)).one_or_none()


async def suspended_on(session: AsyncSession, coverage_id: int, on: date) -> bool:
    query = (
        sa.select(sa.literal(1))
        .where(
            CoverageSuspension.coverage_id == coverage_id,
            CoverageSuspension.from_date <= on,
            sa.or_(CoverageSuspension.to_date.is_(None), CoverageSuspension.to_date > on),
        )
        .limit(1)
    )
    return (await session.scalar(query)) is not None


async def contributions_of(session: AsyncSession, psn_no: str) -> list[Contribution]:
    query = sa.select(Contribution).where(Contribution.psn_no == psn_no).order_by(Contribution.period)
    return list((await session.scalars(query)).all())


async def contribution(session: AsyncSession, psn_no: str, insutype: str, period: str) -> Contribution | None:
    query = sa.select(Contribution).where(
        Contribution.psn_no == psn_no, Contribution.insutype == insutype, Contribution.period == period
    )
    return (await session.scalars(query)).one_or_none()


def new_binding(member: str, holder: str, at: datetime) -> FamilyBinding:
    return FamilyBinding(member_psn_no=member, holder_psn_no=holder, bound_at=at)


async def holders_of(session: AsyncSession, members: Sequence[str]) -> dict[str, str]:
    rows = await session.execute(
        sa.select(FamilyBinding.member_psn_no, FamilyBinding.holder_psn_no).where(
            FamilyBinding.member_psn_no.in_(members)
        )
    )
    return {member: holder for member, holder in rows}


async def family_holder(session: AsyncSession, member: str) -> str | None:
    return await session.scalar(
        sa.select(FamilyBinding.holder_psn_no).where(FamilyBinding.member_psn_no == member)
    )


async def is_holder(session: AsyncSession, psn_nos: Sequence[str]) -> bool:
    if not psn_nos:
        return False
    query = sa.select(sa.literal(1)).where(FamilyBinding.holder_psn_no.in_(psn_nos)).limit(1)
    return (await session.scalar(query)) is not None


async def family_of(session: AsyncSession, holder: str) -> list[str]:
    query = (
        sa.select(FamilyBinding.member_psn_no)
        .where(FamilyBinding.holder_psn_no == holder)
        .order_by(FamilyBinding.member_psn_no)
    )
    return list((await session.scalars(query)).all())


async def stats(session: AsyncSession, admdvs: str | None) -> tuple[int, int, list[tuple[str, str, int]]]:
    persons = sa.select(sa.func.count()).select_from(Person)
    deceased = sa.select(sa.func.count()).select_from(Person).where(Person.death_date.is_not(None))
    by_status = (
        sa.select(Coverage.insutype, Coverage.status, sa.func.count())
        .group_by(Coverage.insutype, Coverage.status)
        .order_by(Coverage.insutype, Coverage.status)
    )
    if admdvs:
        persons = persons.where(Person.admdvs == admdvs)
        deceased = deceased.where(Person.admdvs == admdvs)
        by_status = by_status.join(Person, Person.psn_no == Coverage.psn_no).where(Person.admdvs == admdvs)
    rows = (await session.execute(by_status)).all()
    return (
        int(await session.scalar(persons) or 0),
        int(await session.scalar(deceased) or 0),
        [(insutype, status, int(count)) for insutype, status, count in rows],
    )
