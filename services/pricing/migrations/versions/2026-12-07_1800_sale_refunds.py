"""POS sale refunds, and the sale events for fraud

Revision ID: c23d1a0b5c21
Revises: 7c4e2a91d0b5
Create Date: 2026-12-07 18:00:00+00:00

A refunded sale keeps its observation (a retry of the sale is still a replay), marked with the refund's
time and note; it then counts in neither the price index nor the pharmacy's latest price.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c23d1a0b5c21"
down_revision: str | None = "7c4e2a91d0b5"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("observation", schema=None) as batch_op:
        batch_op.add_column(sa.Column("refund_time", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("refund_note", sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column("refunded_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("observation", schema=None) as batch_op:
        batch_op.drop_column("refunded_at")
        batch_op.drop_column("refund_note")
        batch_op.drop_column("refund_time")
