"""case decisions: recovery and penalty in the month (H3)

Revision ID: b23e3c2e8f13
Revises: b23e2b1d7e12
Create Date: 2026-12-07 18:00:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "b23e3c2e8f13"
down_revision: str | None = "b23e2b1d7e12"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
