"""9001 sign-ins (签到) of institutions' operators and their 9002 sign-outs."""

from __future__ import annotations

import sqlalchemy as sa

from common.repository import RepositoryBase
from gateway.models import NationalSignIn


class SignInRepository(RepositoryBase[NationalSignIn]):
    model = NationalSignIn

    async def of_client(
        self, sign_no: str, client_id: str, *, for_update: bool = False
    ) -> NationalSignIn | None:
        """The sign-in `sign_no` if this API client made it (locked until the transaction ends if asked)."""
        query = sa.select(NationalSignIn).where(
            NationalSignIn.sign_no == sign_no, NationalSignIn.client_id == client_id
        )
        found: NationalSignIn | None = await self.session.scalar(
            query.with_for_update() if for_update else query
        )
        return found
