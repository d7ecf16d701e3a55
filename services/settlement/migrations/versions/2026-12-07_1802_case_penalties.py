"""case decisions: recovery and penalty in the month

Revision ID: b23e3c2e8f13
Revises: b23e2b1d7e12
Create Date: 2026-12-07 18:00:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b23e3c2e8f13"
down_revision: str | None = "b23e2b1d7e12"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("deduction", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("kind", sa.String(length=10), server_default="recovery", nullable=False)
        )
        batch_op.add_column(sa.Column("case_id", sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f("ix_deduction_case_id"), ["case_id"], unique=False)

    with op.batch_alter_table("monthly_statement", schema=None) as batch_op:
        batch_op.add_column(sa.Column("penalties_fen", sa.BigInteger(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("penalty_case_ids", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("monthly_statement", schema=None) as batch_op:
        batch_op.drop_column("penalty_case_ids")
        batch_op.drop_column("penalties_fen")

    with op.batch_alter_table("deduction", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_deduction_case_id"))
        batch_op.drop_column("case_id")
        batch_op.drop_column("kind")
