"""practitioners, their points (记分) and suspensions (H2)

Revision ID: a23f2b1d8e02
Revises: a23f1c0e7d01
Create Date: 2026-12-07 18:00:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "a23f2b1d8e02"
down_revision: str | None = "a23f1c0e7d01"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
