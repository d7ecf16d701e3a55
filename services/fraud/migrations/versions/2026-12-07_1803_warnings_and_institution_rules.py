"""monthly warnings and institution-level rule families

Revision ID: a23f4d3fa004
Revises: a23f3c2e9f03
Create Date: 2026-12-07 18:00:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "a23f4d3fa004"
down_revision: str | None = "a23f3c2e9f03"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("claim_record", schema=None) as batch_op:
        batch_op.add_column(sa.Column("assistance", sa.String(length=20), nullable=True))

    op.create_table(
        "case_grouping",
        sa.Column("setl_id", sa.String(length=40), nullable=False),
        sa.Column("fixmedins_code", sa.String(length=30), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("insutype", sa.String(length=3), nullable=False),
        sa.Column("method", sa.String(length=3), nullable=False),
        sa.Column("group_code", sa.String(length=20), nullable=True),
        sa.Column("severity", sa.String(length=4), nullable=True),
        sa.Column("base_points", sa.String(length=24), nullable=True),
        sa.Column("points", sa.String(length=24), nullable=False),
        sa.Column("deviation", sa.String(length=10), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("grouped_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("setl_id", name=op.f("pk_case_grouping")),
    )
    with op.batch_alter_table("case_grouping", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_case_grouping_fixmedins_code"), ["fixmedins_code"], unique=False)

    op.create_table(
        "institution_warning",
        sa.Column(
            "warning_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("fixmedins_code", sa.String(length=30), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("latest", sa.Boolean(), nullable=False),
        sa.Column("content", sa.JSON(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_by", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("warning_id", name=op.f("pk_institution_warning")),
        sa.UniqueConstraint("fixmedins_code", "month", "version", name="uq_institution_warning_version"),
    )
    with op.batch_alter_table("institution_warning", schema=None) as batch_op:
        batch_op.create_index("ix_institution_warning_month", ["month", "fixmedins_code"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("institution_warning", schema=None) as batch_op:
        batch_op.drop_index("ix_institution_warning_month")
    op.drop_table("institution_warning")
    with op.batch_alter_table("case_grouping", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_case_grouping_fixmedins_code"))
    op.drop_table("case_grouping")
    with op.batch_alter_table("claim_record", schema=None) as batch_op:
        batch_op.drop_column("assistance")
