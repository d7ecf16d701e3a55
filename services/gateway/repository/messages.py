"""National-interface messages answered successfully, kept to replay by (client, msgid)."""

from __future__ import annotations

import sqlalchemy as sa

from common.repository import RepositoryBase
from gateway.models import NationalMessage


class NationalMessageRepository(RepositoryBase[NationalMessage]):
    model = NationalMessage

    async def of(self, client_id: str, msgid: str) -> NationalMessage | None:
        """The stored message of this API client with this msgid."""
        found: NationalMessage | None = await self.session.scalar(
            sa.select(NationalMessage).where(
                NationalMessage.client_id == client_id, NationalMessage.msgid == msgid
            )
        )
        return found
