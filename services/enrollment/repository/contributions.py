"""Contributions (缴费): a person's by period, and the one of a period."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from common.repository import RepositoryBase
from enrollment.models import Contribution

_CHUNK = 900  # psn_nos per IN (...): well under every driver's limit on bound parameters


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

    async def of_persons(self, psn_nos: Sequence[str]) -> list[Contribution]:
        """The contributions of many persons (a bulk load's), in one query per chunk of them."""
        found: list[Contribution] = []
        for start in range(0, len(psn_nos), _CHUNK):
            query = sa.select(Contribution).where(Contribution.psn_no.in_(psn_nos[start : start + _CHUNK]))
            found.extend((await self.session.scalars(query)).all())
        return found
