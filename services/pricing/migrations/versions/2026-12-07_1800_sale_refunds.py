"""POS sale refunds, and the sale events for fraud (H1)

Revision ID: c23d1a0b5c21
Revises: 7c4e2a91d0b5
Create Date: 2026-12-07 18:00:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "c23d1a0b5c21"
down_revision: str | None = "7c4e2a91d0b5"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
