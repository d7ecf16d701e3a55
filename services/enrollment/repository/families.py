"""Family bindings (家庭共济): who is bound to whose personal account."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa

from common.repository import RepositoryBase
from enrollment.models import FamilyBinding


class FamilyRepository(RepositoryBase[FamilyBinding]):
    model = FamilyBinding

    def bind(self, member: str, holder: str, at: datetime) -> None:
        self.add(FamilyBinding(member_psn_no=member, holder_psn_no=holder, bound_at=at))

    async def holders_of(self, members: Sequence[str]) -> dict[str, str]:
        """Each bound member's holder."""
        rows = await self.session.execute(
            sa.select(FamilyBinding.member_psn_no, FamilyBinding.holder_psn_no).where(
                FamilyBinding.member_psn_no.in_(members)
            )
        )
        return {member: holder for member, holder in rows}

    async def holder_of(self, member: str) -> str | None:
        return await self.session.scalar(
            sa.select(FamilyBinding.holder_psn_no).where(FamilyBinding.member_psn_no == member)
        )

    async def any_holder(self, psn_nos: Sequence[str]) -> bool:
        """Whether any of these persons shares their own account with others."""
        if not psn_nos:
            return False
        query = sa.select(sa.literal(1)).where(FamilyBinding.holder_psn_no.in_(psn_nos)).limit(1)
        return (await self.session.scalar(query)) is not None

    async def members_of(self, holder: str) -> list[str]:
        query = (
            sa.select(FamilyBinding.member_psn_no)
            .where(FamilyBinding.holder_psn_no == holder)
            .order_by(FamilyBinding.member_psn_no)
        )
        return list((await self.session.scalars(query)).all())
