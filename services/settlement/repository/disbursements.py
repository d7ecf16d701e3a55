"""Disbursement orders (拨付单): what the bureau owes each institution for a closed day."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa

from common.repository import RepositoryBase
from settlement.domain.day_close import PENDING
from settlement.models import Disbursement


class DisbursementRepository(RepositoryBase[Disbursement]):
    model = Disbursement

    async def find_for_update(self, disbursement_id: int) -> Disbursement | None:
        """The order of an id, locked until the transaction ends; None if there is none."""
        query = (
            sa.select(Disbursement).where(Disbursement.disbursement_id == disbursement_id).with_for_update()
        )
        found: Disbursement | None = await self.session.scalar(query)
        return found

    async def listed(
        self, *, day: date | None, fixmedins_code: str | None, status: str | None, limit: int
    ) -> list[Disbursement]:
        """Orders newest first, then by institution."""
        query = sa.select(Disbursement)
        if day is not None:
            query = query.where(Disbursement.business_date == day)
        if fixmedins_code is not None:
            query = query.where(Disbursement.fixmedins_code == fixmedins_code)
        if status is not None:
            query = query.where(Disbursement.status == status)
        query = query.order_by(Disbursement.business_date.desc(), Disbursement.fixmedins_code).limit(limit)
        return list((await self.session.scalars(query)).all())

    async def overdue(self, *, today: date) -> tuple[int, int]:
        """How many pending orders are past their due date, and their amount in fen."""
        query = sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(Disbursement.amount_fen), 0)).where(
            Disbursement.status == PENDING, Disbursement.due_date < today
        )
        count, amount_fen = (await self.session.execute(query)).one()
        return int(count), int(amount_fen)
