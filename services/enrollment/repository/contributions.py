"""Contributions (缴费): a person's by period, and the one of a period."""

from __future__ import annotations

import sqlalchemy as sa

from common.repository import RepositoryBase
from enrollment.models import Contribution


class ContributionRepository(RepositoryBase[Contribution]):
    model = Contribution

    async def of_person(self, psn_no: str) -> list[Contribution]:
        query = sa.select(Contribution).where(Contribution.psn_no == psn_no).order_by(Contribution.period)
        return list((await self.session.scalars(query)).all())

    async def of_period(self, psn_no: str, insutype: str, period: str) -> Contribution | None:
        query = sa.select(Contribution).where(
            Contribution.psn_no == psn_no, Contribution.insutype == insutype, Contribution.period == period
        )
        return (await self.session.scalars(query)).one_or_none()
