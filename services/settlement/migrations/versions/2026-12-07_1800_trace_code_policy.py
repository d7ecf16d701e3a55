"""trace-code flag of catalogue items and the 依码结算 policy

Revision ID: b23e1a0c6d11
Revises: 9cf16d5d92e9
Create Date: 2026-12-07 18:00:00+00:00

Catalogue items say whether their lines need a traceability code (false for every item until the catalogue
says so); the policy per institution type starts with no version: off for both types.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b23e1a0c6d11"
down_revision: str | None = "9cf16d5d92e9"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("catalog_item", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("trac_codg_required", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    op.create_table(
        "trace_code_policy",
        sa.Column(
            "version_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("fixmedins_type", sa.String(length=10), nullable=False),
        sa.Column("required", sa.Boolean(), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("version_id", name=op.f("pk_trace_code_policy")),
    )
    with op.batch_alter_table("trace_code_policy", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_trace_code_policy_fixmedins_type"), ["fixmedins_type"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("trace_code_policy", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_trace_code_policy_fixmedins_type"))
    op.drop_table("trace_code_policy")
    with op.batch_alter_table("catalog_item", schema=None) as batch_op:
        batch_op.drop_column("trac_codg_required")
