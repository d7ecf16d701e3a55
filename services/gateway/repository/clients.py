"""API clients (接入方) and their key hashes."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from common.repository import RepositoryBase
from gateway.models import ApiClient


class ApiClientRepository(RepositoryBase[ApiClient]):
    model = ApiClient

    async def by_key_prefix(self, prefix: str) -> ApiClient | None:
        client: ApiClient | None = await self.session.scalar(
            sa.select(ApiClient).where(ApiClient.key_prefix == prefix)
        )
        return client

    async def count_with_role(self, role: str) -> int:
        count = await self.session.scalar(
            sa.select(sa.func.count()).select_from(ApiClient).where(ApiClient.role == role)
        )
        return int(count or 0)

    async def newest_first(self) -> Sequence[ApiClient]:
        return (await self.session.scalars(sa.select(ApiClient).order_by(ApiClient.created_at.desc()))).all()
