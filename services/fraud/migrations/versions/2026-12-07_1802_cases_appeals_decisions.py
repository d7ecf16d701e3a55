"""cases: notification, appeal, voluntary refund, decision (H3)

Revision ID: a23f3c2e9f03
Revises: a23f2b1d8e02
Create Date: 2026-12-07 18:00:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "a23f3c2e9f03"
down_revision: str | None = "a23f2b1d8e02"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
