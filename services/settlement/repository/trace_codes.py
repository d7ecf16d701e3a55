"""The 依码结算 policy per institution type: its versions, the latest of each type in force."""

from __future__ import annotations

import sqlalchemy as sa

from common.repository import RepositoryBase
from settlement.models import TraceCodePolicy


class TraceCodePolicyRepository(RepositoryBase[TraceCodePolicy]):
    model = TraceCodePolicy

    async def history(self) -> list[TraceCodePolicy]:
        """Every version, oldest first."""
        rows = await self.session.scalars(sa.select(TraceCodePolicy).order_by(TraceCodePolicy.version_id))
        return list(rows.all())

    async def latest(self, fixmedins_type: str, *, lock: bool = False) -> TraceCodePolicy | None:
        """The version in force for an institution type, or None (never set: off)."""
        query = (
            sa.select(TraceCodePolicy)
            .where(TraceCodePolicy.fixmedins_type == fixmedins_type)
            .order_by(TraceCodePolicy.version_id.desc())
            .limit(1)
        )
        return (await self.session.scalars(query.with_for_update() if lock else query)).one_or_none()

    async def required_types(self) -> frozenset[str]:
        """The institution types whose latest version requires codes."""
        latest = (
            sa.select(TraceCodePolicy.fixmedins_type, sa.func.max(TraceCodePolicy.version_id).label("v"))
            .group_by(TraceCodePolicy.fixmedins_type)
            .subquery()
        )
        rows = await self.session.scalars(
            sa.select(TraceCodePolicy.fixmedins_type)
            .join(latest, TraceCodePolicy.version_id == latest.c.v)
            .where(TraceCodePolicy.required.is_(True))
        )
        return frozenset(rows)
