"""Reversed pharmacy settlements (tombstones), and the lock that makes a settlement and its reversal take turns."""

from __future__ import annotations

import hashlib
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from common.repository import RepositoryBase
from pricing.models import ReversedSettlement
from pricing.repository.sets import is_postgres


def _lock_key(setl_id: str) -> int:
    digest = hashlib.blake2b(f"pricing-settlement|{setl_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


class ReversalRepository(RepositoryBase[ReversedSettlement]):
    model = ReversedSettlement

    async def lock(self, setl_id: str) -> None:
        """On PostgreSQL, serialise a settlement's recording and its reversal for the transaction.

        Without it, one process recording the settlement while another applies its reversal would each miss
        what the other has not committed yet (the tombstone, the observations), and the observations would
        stay. Each statement after the lock sees what the other committed (READ COMMITTED). SQLite has one
        writer (BEGIN IMMEDIATE) already.
        """
        if is_postgres(self.session):
            await self.session.execute(sa.select(sa.func.pg_advisory_xact_lock(_lock_key(setl_id))))

    async def record(self, setl_id: str, *, at: datetime) -> bool:
        """Keep the settlement's tombstone; False if it was kept already (a reversal seen again)."""
        insert = (
            postgresql.insert(ReversedSettlement)
            if is_postgres(self.session)
            else sqlite.insert(ReversedSettlement)
        )
        result = await self.session.execute(
            insert.values(setl_id=setl_id, reversed_at=at)
            .on_conflict_do_nothing(index_elements=[ReversedSettlement.setl_id])
            .returning(ReversedSettlement.setl_id)
        )
        return result.scalar_one_or_none() is not None

    async def includes(self, setl_id: str) -> bool:
        """Whether the settlement is known to be reversed."""
        found = await self.session.scalar(
            sa.select(ReversedSettlement.setl_id).where(ReversedSettlement.setl_id == setl_id)
        )
        return found is not None
