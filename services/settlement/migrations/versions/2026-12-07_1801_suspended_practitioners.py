"""the projection of suspended practitioners

Revision ID: b23e2b1d7e12
Revises: b23e1a0c6d11
Create Date: 2026-12-07 18:00:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b23e2b1d7e12"
down_revision: str | None = "b23e1a0c6d11"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("fee_detail", schema=None) as batch_op:
        batch_op.add_column(sa.Column("bilg_dr_codg", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("phar_prac_codg", sa.String(length=20), nullable=True))

    op.create_table(
        "suspended_practitioner",
        sa.Column("suspension_id", sa.String(length=40), nullable=False),
        sa.Column("prac_codg", sa.String(length=20), nullable=False),
        sa.Column("fixmedins_code", sa.String(length=30), nullable=False),
        sa.Column("level", sa.String(length=12), nullable=False),
        sa.Column("suspended_from", sa.Date(), nullable=False),
        sa.Column("suspended_until", sa.Date(), nullable=False),
        sa.Column("lifted_on", sa.Date(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("suspension_id", name=op.f("pk_suspended_practitioner")),
    )
    with op.batch_alter_table("suspended_practitioner", schema=None) as batch_op:
        batch_op.create_index(
            "ix_suspended_practitioner_prac_until", ["prac_codg", "suspended_until"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("suspended_practitioner", schema=None) as batch_op:
        batch_op.drop_index("ix_suspended_practitioner_prac_until")

    op.drop_table("suspended_practitioner")
    with op.batch_alter_table("fee_detail", schema=None) as batch_op:
        batch_op.drop_column("phar_prac_codg")
        batch_op.drop_column("bilg_dr_codg")
