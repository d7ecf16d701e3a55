"""Prepayments (预付): money advanced to institutions, outstanding until a confirmed month recovers it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from common.repository import Page, RepositoryBase
from settlement.models import Prepayment

_CHUNK = 1000


class PrepaymentRepository(RepositoryBase[Prepayment]):
    model = Prepayment

    async def by_idempotency_key(self, key: str) -> Prepayment | None:
        found: Prepayment | None = await self.session.scalar(
            sa.select(Prepayment).where(Prepayment.idempotency_key == key)
        )
        return found

    async def outstanding_on(self, last: date) -> list[Prepayment]:
        """Prepayments paid on or before a day that no month has recovered, by id."""
        query = (
            sa.select(Prepayment)
            .where(Prepayment.recovered_month.is_(None), Prepayment.paid_date <= last)
            .order_by(Prepayment.prepayment_id)
        )
        return list((await self.session.scalars(query)).all())

    async def take(self, prepayment_ids: Sequence[int], month: str) -> int:
        """Mark prepayments as recovered by a month, those no month recovered yet; how many it marked."""
        return await self.mark_unset("recovered_month", month, key="prepayment_id", keys=prepayment_ids)

    async def page(
        self, *, fixmedins_code: str | None, outstanding: bool | None, limit: int, cursor: str | None
    ) -> Page[Prepayment]:
        """Prepayments newest first; outstanding: not yet recovered by a confirmed month."""
        query = sa.select(Prepayment)
        if fixmedins_code is not None:
            query = query.where(Prepayment.fixmedins_code == fixmedins_code)
        if outstanding is not None:
            recovered = Prepayment.recovered_month
            query = query.where(recovered.is_(None) if outstanding else recovered.is_not(None))
        return await self.paginate(query, order_by=[Prepayment.prepayment_id], limit=limit, cursor=cursor)

    async def insert(self, row: Prepayment) -> bool:
        """Store a new prepayment; False when its Idempotency-Key was stored concurrently a moment ago."""
        try:
            async with self.session.begin_nested():
                self.session.add(row)
                await self.session.flush()
        except IntegrityError:
            return False
        return True
