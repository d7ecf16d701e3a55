"""What settlement reported (claim years and the settlements seen), for the zero-claim incentive."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from common.repository import RepositoryBase
from enrollment.models import ClaimSettlement, ClaimYearRecord

_CHUNK = 900  # psn_nos per IN (...): well under every driver's limit on bound parameters


class ClaimSettlementRepository(RepositoryBase[ClaimSettlement]):
    model = ClaimSettlement


class ClaimYearRepository(RepositoryBase[ClaimYearRecord]):
    model = ClaimYearRecord

    async def of_person(self, psn_no: str) -> list[ClaimYearRecord]:
        query = sa.select(ClaimYearRecord).where(ClaimYearRecord.psn_no == psn_no)
        return list((await self.session.scalars(query)).all())

    async def of_persons(self, psn_nos: Sequence[str]) -> list[ClaimYearRecord]:
        """The claim years of many persons (a bulk load's), in one query per chunk of them."""
        found: list[ClaimYearRecord] = []
        for start in range(0, len(psn_nos), _CHUNK):
            query = sa.select(ClaimYearRecord).where(
                ClaimYearRecord.psn_no.in_(psn_nos[start : start + _CHUNK])
            )
            found.extend((await self.session.scalars(query)).all())
        return found
