"""practitioners, their points (记分) and suspensions

Revision ID: a23f2b1d8e02
Revises: a23f1c0e7d01
Create Date: 2026-12-07 18:00:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "a23f2b1d8e02"
down_revision: str | None = "a23f1c0e7d01"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "practitioner",
        sa.Column("prac_codg", sa.String(length=20), nullable=False),
        sa.Column("prac_type", sa.String(length=12), nullable=False),
        sa.Column("fixmedins_code", sa.String(length=30), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("registered_by", sa.String(length=64), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("prac_codg", name=op.f("pk_practitioner")),
    )
    with op.batch_alter_table("practitioner", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_practitioner_fixmedins_code"), ["fixmedins_code"], unique=False)

    op.create_table(
        "practitioner_points",
        sa.Column(
            "entry_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("prac_codg", sa.String(length=20), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("points", sa.SmallInteger(), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("source", sa.String(length=10), nullable=False),
        sa.Column("source_id", sa.String(length=40), nullable=True),
        sa.Column("on_date", sa.Date(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_by", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["prac_codg"],
            ["practitioner.prac_codg"],
            name=op.f("fk_practitioner_points_prac_codg_practitioner"),
        ),
        sa.PrimaryKeyConstraint("entry_id", name=op.f("pk_practitioner_points")),
        sa.UniqueConstraint("prac_codg", "source", "source_id", name="uq_practitioner_points_source"),
    )
    with op.batch_alter_table("practitioner_points", schema=None) as batch_op:
        batch_op.create_index("ix_practitioner_points_prac_year", ["prac_codg", "year"], unique=False)

    op.create_table(
        "practitioner_suspension",
        sa.Column(
            "suspension_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("prac_codg", sa.String(length=20), nullable=False),
        sa.Column("fixmedins_code", sa.String(length=30), nullable=False),
        sa.Column("level", sa.String(length=12), nullable=False),
        sa.Column("suspended_from", sa.Date(), nullable=False),
        sa.Column("suspended_until", sa.Date(), nullable=False),
        sa.Column("points", sa.SmallInteger(), nullable=False),
        sa.Column("entry_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reinstated_on", sa.Date(), nullable=True),
        sa.Column("reinstated_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["practitioner_points.entry_id"],
            name=op.f("fk_practitioner_suspension_entry_id_practitioner_points"),
        ),
        sa.ForeignKeyConstraint(
            ["prac_codg"],
            ["practitioner.prac_codg"],
            name=op.f("fk_practitioner_suspension_prac_codg_practitioner"),
        ),
        sa.PrimaryKeyConstraint("suspension_id", name=op.f("pk_practitioner_suspension")),
    )
    with op.batch_alter_table("practitioner_suspension", schema=None) as batch_op:
        batch_op.create_index(
            "ix_practitioner_suspension_open", ["reinstated_on", "suspended_until"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_practitioner_suspension_prac_codg"), ["prac_codg"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("practitioner_suspension", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_practitioner_suspension_prac_codg"))
        batch_op.drop_index("ix_practitioner_suspension_open")

    op.drop_table("practitioner_suspension")
    with op.batch_alter_table("practitioner_points", schema=None) as batch_op:
        batch_op.drop_index("ix_practitioner_points_prac_year")

    op.drop_table("practitioner_points")
    with op.batch_alter_table("practitioner", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_practitioner_fixmedins_code"))

    op.drop_table("practitioner")
