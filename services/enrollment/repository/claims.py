"""What settlement reported (claim years and the settlements seen), for the zero-claim incentive."""

from __future__ import annotations

import sqlalchemy as sa

from common.repository import RepositoryBase
from enrollment.models import ClaimSettlement, ClaimYearRecord


class ClaimSettlementRepository(RepositoryBase[ClaimSettlement]):
    model = ClaimSettlement


class ClaimYearRepository(RepositoryBase[ClaimYearRecord]):
    model = ClaimYearRecord

    async def of_person(self, psn_no: str) -> list[ClaimYearRecord]:
        query = sa.select(ClaimYearRecord).where(ClaimYearRecord.psn_no == psn_no)
        return list((await self.session.scalars(query)).all())
