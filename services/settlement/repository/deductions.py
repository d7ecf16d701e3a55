"""Deductions (扣款): findings' recoveries (one per finding) and cases' penalties (one per case) until taken."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from common.repository import Page, RepositoryBase
from settlement.models import Deduction, Settlement
from settlement.repository.projection import insert_for

_CHUNK = 1000


@dataclass(frozen=True, slots=True)
class DeductionToPost:
    """What the journal of a deduction needs: the institution, the amount, and the insutype that paid."""

    finding_id: str
    fixmedins_code: str
    amount_fen: int
    insutype: str | None
    kind: str  # recovery | penalty


class DeductionRepository(RepositoryBase[Deduction]):
    model = Deduction

    async def insert_once(self, values: dict[str, Any]) -> bool:
        """Keep a finding's deduction; False (and nothing written) when the finding is kept already."""
        result = await self.session.execute(
            insert_for(self.session, Deduction)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["finding_id"])
        )
        return int(result.rowcount) == 1  # type: ignore[attr-defined]

    async def open_before(self, moment: datetime) -> list[Deduction]:
        """Deductions no month has taken, confirmed before a moment, oldest first."""
        query = (
            sa.select(Deduction)
            .where(Deduction.month_applied.is_(None), Deduction.confirmed_at < moment)
            .order_by(Deduction.confirmed_at, Deduction.finding_id)
        )
        return list((await self.session.scalars(query)).all())

    async def take(self, finding_ids: Sequence[str], month: str) -> int:
        """Mark deductions as a month's, those no month took yet; how many it marked."""
        return await self.mark_unset("month_applied", month, key="finding_id", keys=finding_ids)

    async def to_post(self, finding_ids: Sequence[str]) -> list[DeductionToPost]:
        """The deductions of these findings with the insutype of the settlement each concerns (if any); a year
        clearing's recoveries are left out, their journal was posted when the clearing was confirmed."""
        rows = await self.session.execute(
            sa.select(
                Deduction.finding_id,
                Deduction.fixmedins_code,
                Deduction.amount_fen,
                Settlement.insutype,
                Deduction.kind,
            )
            .outerjoin(Settlement, Settlement.setl_id == Deduction.setl_id)
            .where(Deduction.finding_id.in_(list(finding_ids)), Deduction.source == "fraud")
        )
        return [DeductionToPost(*row) for row in rows]

    async def page(
        self, *, fixmedins_code: str | None, outstanding: bool | None, limit: int, cursor: str | None
    ) -> Page[Deduction]:
        """Deductions newest first (by confirmation); outstanding: not yet taken by a confirmed month."""
        query = sa.select(Deduction)
        if fixmedins_code is not None:
            query = query.where(Deduction.fixmedins_code == fixmedins_code)
        if outstanding is not None:
            applied = Deduction.month_applied
            query = query.where(applied.is_(None) if outstanding else applied.is_not(None))
        return await self.paginate(
            query, order_by=[Deduction.confirmed_at, Deduction.finding_id], limit=limit, cursor=cursor
        )
