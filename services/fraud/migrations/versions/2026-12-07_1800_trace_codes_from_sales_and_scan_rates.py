"""trace codes from POS sales, their first use, scan rates (H1)

Revision ID: a23f1c0e7d01
Revises: dbfbbb48c2fb
Create Date: 2026-12-07 18:00:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "a23f1c0e7d01"
down_revision: str | None = "dbfbbb48c2fb"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
