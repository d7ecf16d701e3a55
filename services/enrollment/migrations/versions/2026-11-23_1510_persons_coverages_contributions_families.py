"""Persons, coverages, suspensions, contributions, family bindings, and the claim years settlement reports.

Revision ID: 80f56d3233a3
Revises: ab668556e17a
Create Date: 2026-11-23 15:10:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "80f56d3233a3"
down_revision: str | None = "ab668556e17a"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "claim_settlement",
        sa.Column("setl_id", sa.String(length=40), nullable=False),
        sa.Column("psn_no", sa.String(length=20), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("fund_pay_fen", sa.BigInteger(), nullable=False),
        sa.Column("reversed", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("setl_id", name=op.f("pk_claim_settlement")),
    )
    op.create_table(
        "claim_year",
        sa.Column("psn_no", sa.String(length=20), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("fund_pay_fen", sa.BigInteger(), nullable=False),
        sa.Column("zero_claim_raise_used", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("psn_no", "year", name=op.f("pk_claim_year")),
    )
    op.create_table(
        "person",
        sa.Column("psn_no", sa.String(length=20), nullable=False),
        sa.Column("certno", sa.String(length=18), nullable=False),
        sa.Column("psn_name", sa.String(length=50), nullable=False),
        sa.Column("gend", sa.String(length=1), nullable=False),
        sa.Column("brdy", sa.Date(), nullable=False),
        sa.Column("admdvs", sa.String(length=6), nullable=False),
        sa.Column("tel", sa.String(length=20), nullable=True),
        sa.Column("death_date", sa.Date(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("psn_no", name=op.f("pk_person")),
        sa.UniqueConstraint("certno", name=op.f("uq_person_certno")),
    )
    with op.batch_alter_table("person", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_person_admdvs"), ["admdvs"], unique=False)

    op.create_table(
        "contribution",
        sa.Column(
            "contribution_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("psn_no", sa.String(length=20), nullable=False),
        sa.Column("insutype", sa.String(length=3), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("acct_amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("back_payment", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["psn_no"], ["person.psn_no"], name=op.f("fk_contribution_psn_no_person")),
        sa.PrimaryKeyConstraint("contribution_id", name=op.f("pk_contribution")),
        sa.UniqueConstraint(
            "psn_no", "insutype", "period", name=op.f("uq_contribution_psn_no_insutype_period")
        ),
    )
    with op.batch_alter_table("contribution", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_contribution_psn_no"), ["psn_no"], unique=False)

    op.create_table(
        "coverage",
        sa.Column(
            "coverage_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("psn_no", sa.String(length=20), nullable=False),
        sa.Column("insutype", sa.String(length=3), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("begndate", sa.Date(), nullable=False),
        sa.Column("enddate", sa.Date(), nullable=True),
        sa.Column("emp_code", sa.String(length=30), nullable=True),
        sa.Column("psn_type", sa.String(length=10), nullable=True),
        sa.Column("assistance", sa.String(length=20), nullable=True),
        sa.Column("enrolled_on", sa.Date(), nullable=False),
        sa.Column("benefit_start_date", sa.Date(), nullable=False),
        sa.Column("waiting_months", sa.Integer(), nullable=False),
        sa.Column("break_years", sa.Integer(), nullable=False),
        sa.Column("end_reason", sa.String(length=20), nullable=True),
        sa.Column("incentive_year", sa.Integer(), nullable=True),
        sa.Column("incentive_raise_fen", sa.BigInteger(), nullable=False),
        sa.Column("continuous_years", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["psn_no"], ["person.psn_no"], name=op.f("fk_coverage_psn_no_person")),
        sa.PrimaryKeyConstraint("coverage_id", name=op.f("pk_coverage")),
    )
    with op.batch_alter_table("coverage", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_coverage_psn_no"), ["psn_no"], unique=False)
        batch_op.create_index(
            "uq_coverage_current",
            ["psn_no"],
            unique=True,
            postgresql_where=sa.text("status <> 'ended'"),
            sqlite_where=sa.text("status <> 'ended'"),
        )

    op.create_table(
        "family_binding",
        sa.Column("member_psn_no", sa.String(length=20), nullable=False),
        sa.Column("holder_psn_no", sa.String(length=20), nullable=False),
        sa.Column("bound_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["holder_psn_no"], ["person.psn_no"], name=op.f("fk_family_binding_holder_psn_no_person")
        ),
        sa.ForeignKeyConstraint(
            ["member_psn_no"], ["person.psn_no"], name=op.f("fk_family_binding_member_psn_no_person")
        ),
        sa.PrimaryKeyConstraint("member_psn_no", name=op.f("pk_family_binding")),
    )
    with op.batch_alter_table("family_binding", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_family_binding_holder_psn_no"), ["holder_psn_no"], unique=False)

    op.create_table(
        "coverage_suspension",
        sa.Column(
            "suspension_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("coverage_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("from_date", sa.Date(), nullable=False),
        sa.Column("to_date", sa.Date(), nullable=True),
        sa.Column("reason", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["coverage_id"],
            ["coverage.coverage_id"],
            name=op.f("fk_coverage_suspension_coverage_id_coverage"),
        ),
        sa.PrimaryKeyConstraint("suspension_id", name=op.f("pk_coverage_suspension")),
    )
    with op.batch_alter_table("coverage_suspension", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_coverage_suspension_coverage_id"), ["coverage_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("coverage_suspension", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_coverage_suspension_coverage_id"))

    op.drop_table("coverage_suspension")
    with op.batch_alter_table("family_binding", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_family_binding_holder_psn_no"))

    op.drop_table("family_binding")
    with op.batch_alter_table("coverage", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_coverage_current",
            postgresql_where=sa.text("status <> 'ended'"),
            sqlite_where=sa.text("status <> 'ended'"),
        )
        batch_op.drop_index(batch_op.f("ix_coverage_psn_no"))

    op.drop_table("coverage")
    with op.batch_alter_table("contribution", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_contribution_psn_no"))

    op.drop_table("contribution")
    with op.batch_alter_table("person", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_person_admdvs"))

    op.drop_table("person")
    op.drop_table("claim_year")
    op.drop_table("claim_settlement")
