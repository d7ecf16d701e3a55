"""Settlements and their reversals (冲正): stored answers for retries, the standing one, the list newest first."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa

from common.db import DeferredWrites, table_of
from common.repository import Page, RepositoryBase
from settlement.domain.claims import SETTLED
from settlement.models import Settlement, SettlementReversal

# Built once with bound parameters: compiled once, then only executed (every settlement inserts one).
_SETTLEMENT = table_of(Settlement)
_INSERT_SETTLEMENT = sa.insert(_SETTLEMENT)


@dataclass(frozen=True, slots=True)
class StoredAnswer:
    """What a settlement of an institution's medins_setl_id was asked (its fingerprint) and answered."""

    request_hash: str
    response: dict[str, Any]


class SettlementRepository(RepositoryBase[Settlement]):
    model = Settlement

    async def answer_of(self, fixmedins_code: str, medins_setl_id: str) -> StoredAnswer | None:
        """The stored request fingerprint and answer of an institution's settlement id, if it settled."""
        row = (
            await self.session.execute(
                sa.select(Settlement.request_hash, Settlement.response).where(
                    Settlement.fixmedins_code == fixmedins_code, Settlement.medins_setl_id == medins_setl_id
                )
            )
        ).first()
        return None if row is None else StoredAnswer(row.request_hash, dict(row.response))

    async def standing(self, mdtrt_id: str) -> str | None:
        """The setl_id of the visit's settlement that stands (not reversed), if any."""
        setl_id: str | None = await self.session.scalar(
            sa.select(Settlement.setl_id).where(Settlement.mdtrt_id == mdtrt_id, Settlement.status == SETTLED)
        )
        return setl_id

    async def insert(self, row: dict[str, Any], *, defer: bool = False) -> None:
        """Insert a settlement from its column values, without loading it (the settle path's).

        `defer`: with the transaction's other deferred writes (common.db.DeferredWrites).
        """
        if defer:
            await DeferredWrites.of(self.session).insert(_SETTLEMENT, row)
        else:
            await self.session.execute(_INSERT_SETTLEMENT, row)

    async def find_for_update(self, setl_id: str) -> Settlement | None:
        """The settlement, its row locked (PostgreSQL) until the transaction ends."""
        settlement: Settlement | None = await self.session.scalar(
            sa.select(Settlement).where(Settlement.setl_id == setl_id).with_for_update()
        )
        return settlement

    async def reversal_of(self, setl_id: str) -> str | None:
        """The setl_id of the reversal of a settlement, if reversed."""
        reversal: str | None = await self.session.scalar(
            sa.select(SettlementReversal.setl_id).where(SettlementReversal.orig_setl_id == setl_id)
        )
        return reversal

    def add_reversal(self, reversal: SettlementReversal) -> None:
        self.session.add(reversal)

    async def page(
        self,
        *,
        fixmedins_code: str | None,
        on: date | None,
        psn_no: str | None,
        mdtrt_id: str | None,
        medins_setl_id: str | None,
        limit: int,
        cursor: str | None,
    ) -> Page[Settlement]:
        """Settlements newest first (reversed ones included), filtered by whichever of the fields is given."""
        query = sa.select(Settlement)
        if fixmedins_code is not None:
            query = query.where(Settlement.fixmedins_code == fixmedins_code)
        if on is not None:
            query = query.where(Settlement.business_date == on)
        if psn_no is not None:
            query = query.where(Settlement.psn_no == psn_no)
        if mdtrt_id is not None:
            query = query.where(Settlement.mdtrt_id == mdtrt_id)
        if medins_setl_id is not None:
            query = query.where(Settlement.medins_setl_id == medins_setl_id)
        return await self.paginate(
            query, order_by=[Settlement.setl_time, Settlement.setl_id], limit=limit, cursor=cursor
        )
