"""Tables of the settlement service, on its own MetaData."""

from __future__ import annotations

from sqlalchemy.orm import DeclarativeBase

from common.db import new_metadata


class Base(DeclarativeBase):
    metadata = new_metadata()
