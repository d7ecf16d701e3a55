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


class NationalMessage(Base):
    """A national-interface message answered successfully: replayed as is when its msgid comes again."""

    __tablename__ = "national_message"

    client_id: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    msgid: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    infno: Mapped[str] = mapped_column(sa.String(8))
    request_hash: Mapped[str] = mapped_column(sa.String(64))
    answer: Mapped[dict[str, object]] = mapped_column(sa.JSON())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class NationalSignIn(Base):
    """A 9001 sign-in (签到) of an institution's operator, with the sign_no issued for it."""

    __tablename__ = "national_sign_in"

    sign_no: Mapped[str] = mapped_column(sa.String(30), primary_key=True)
    client_id: Mapped[str] = mapped_column(sa.String(32), index=True)
    fixmedins_code: Mapped[str] = mapped_column(sa.String(30))
    opter_no: Mapped[str] = mapped_column(sa.String(30))
    mac: Mapped[str | None] = mapped_column(sa.String(64))
    ip: Mapped[str | None] = mapped_column(sa.String(64))
    sign_time: Mapped[datetime] = mapped_column(UtcDateTime())
    sign_out_time: Mapped[datetime | None] = mapped_column(UtcDateTime())  # 9002 签退
