"""Tables of the gateway, on its own MetaData."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from common.db import UtcDateTime, new_metadata


class Base(DeclarativeBase):
    metadata = new_metadata()


class ApiClient(Base):
    """A caller of the platform: an HIS, a POS, bureau staff or the public site, with its API key's hash."""

    __tablename__ = "api_client"

    client_id: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(100), unique=True)
    role: Mapped[str] = mapped_column(sa.String(10))
    scope: Mapped[str | None] = mapped_column(sa.String(30))
    key_prefix: Mapped[str] = mapped_column(sa.String(12), unique=True)
    key_hash: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
