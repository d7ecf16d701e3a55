"""Insured persons as the claims path reads them: the person with every coverage and the family holder."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa

from common.repository import RepositoryBase
from settlement.domain.claims import PersonFacts
from settlement.domain.coverage import CoverageFacts
from settlement.models import CoverageProjection, FamilyBinding, InsuredPerson


def _coverage_facts(row: CoverageProjection) -> CoverageFacts:
    return CoverageFacts(
        coverage_id=row.coverage_id,
        insutype=row.insutype,
        attached_insutypes=tuple(row.attached_insutypes),
        status=row.status,
        begndate=row.begndate,
        enddate=row.enddate,
        psn_type=row.psn_type,
        assistance=row.assistance,
        benefit_start_date=row.benefit_start_date,
        incentive_raise_fen=row.incentive_raise_fen,
        suspensions=tuple(
            (date.fromisoformat(str(start)), date.fromisoformat(end) if end else None)
            for start, end in row.suspensions
        ),
    )


class PersonRepository(RepositoryBase[InsuredPerson]):
    model = InsuredPerson

    async def facts(self, psn_no: str) -> PersonFacts | None:
        """The person, every coverage and the family holder, in one round trip (the settle path's budget)."""
        rows = (
            await self.session.execute(
                sa.select(InsuredPerson, CoverageProjection, FamilyBinding.holder_psn_no)
                .outerjoin(CoverageProjection, CoverageProjection.psn_no == InsuredPerson.psn_no)
                .outerjoin(FamilyBinding, FamilyBinding.member_psn_no == InsuredPerson.psn_no)
                .where(InsuredPerson.psn_no == psn_no)
            )
        ).all()
        if not rows:
            return None
        person, _, holder = rows[0]
        return PersonFacts(
            psn_no=person.psn_no,
            gend=person.gend,
            brdy=person.brdy,
            admdvs=person.admdvs,
            death_date=person.death_date,
            coverages=tuple(_coverage_facts(row[1]) for row in rows if row[1] is not None),
            family_holder=holder if holder != psn_no else None,
        )

    async def family_holder(self, psn_no: str) -> str | None:
        """The holder whose account a bound relative pays from (家庭共济), if any."""
        holder: str | None = await self.session.scalar(
            sa.select(FamilyBinding.holder_psn_no).where(FamilyBinding.member_psn_no == psn_no)
        )
        return holder
