"""Policy versions as stored (the built-in default, version 0, is not a row)."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from common.repository import RepositoryBase
from settlement.models import PolicyVersion


class PolicyVersionRepository(RepositoryBase[PolicyVersion]):
    model = PolicyVersion

    async def in_effective_order(self) -> list[PolicyVersion]:
        """Every stored version, the earliest effective first."""
        rows = await self.session.scalars(sa.select(PolicyVersion).order_by(PolicyVersion.effective_from))
        return list(rows.all())

    async def version_from(self, effective_from: date) -> int | None:
        """The version that takes effect on a date, or None."""
        query = sa.select(PolicyVersion.version_id).where(PolicyVersion.effective_from == effective_from)
        version: int | None = await self.session.scalar(query)
        return version

    async def insert(self, row: PolicyVersion) -> bool:
        """Store a new version; False when one of its date was stored concurrently a moment ago."""
        try:
            async with self.session.begin_nested():
                self.session.add(row)
                await self.session.flush()
        except IntegrityError:
            return False
        return True
