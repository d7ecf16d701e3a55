"""visit lifecycle (discharge, cancellation) and the charge batch of a fee line

Revision ID: 9d4f1a6c2e73
Revises: 5c0e2b7d9a41
Create Date: 2026-12-07 08:45:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "9d4f1a6c2e73"
down_revision: str | None = "5c0e2b7d9a41"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("visit") as batch:
        batch.add_column(sa.Column("discharged_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("dscg_way", sa.String(length=30), nullable=True))
        batch.add_column(sa.Column("discharge_hash", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("cancel_reason", sa.String(length=500), nullable=True))
    with op.batch_alter_table("fee_detail") as batch:
        batch.add_column(sa.Column("chrg_bchno", sa.String(length=30), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("fee_detail") as batch:
        batch.drop_column("chrg_bchno")
    with op.batch_alter_table("visit") as batch:
        batch.drop_column("cancel_reason")
        batch.drop_column("cancelled_at")
        batch.drop_column("discharge_hash")
        batch.drop_column("dscg_way")
        batch.drop_column("discharged_at")
