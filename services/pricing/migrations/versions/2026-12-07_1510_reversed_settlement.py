"""reversed pharmacy settlements kept as tombstones

Revision ID: 7c4e2a91d0b5
Revises: 3d9b6e1f2a70
Create Date: 2026-12-07 15:10:00+00:00

A reversal applied before its settlement (two consumer processes, or two relays side by side) leaves its
setl_id here, so the settlement, when it comes, is not recorded as price observations. Starts empty: the
reversals applied before it left no trace to build the rows from.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "7c4e2a91d0b5"
down_revision: str | None = "3d9b6e1f2a70"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "reversed_settlement",
        sa.Column("setl_id", sa.String(length=40), nullable=False),
        sa.Column("reversed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("setl_id", name=op.f("pk_reversed_settlement")),
    )


def downgrade() -> None:
    op.drop_table("reversed_settlement")
