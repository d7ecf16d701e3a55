"""trace-code flag of catalogue items and the 依码结算 policy (H1)

Revision ID: b23e1a0c6d11
Revises: 9cf16d5d92e9
Create Date: 2026-12-07 18:00:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "b23e1a0c6d11"
down_revision: str | None = "9cf16d5d92e9"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
