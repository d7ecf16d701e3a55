"""cases: notification, appeal, voluntary refund, decision

Revision ID: a23f3c2e9f03
Revises: a23f2b1d8e02
Create Date: 2026-12-07 18:00:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "a23f3c2e9f03"
down_revision: str | None = "a23f2b1d8e02"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "supervision_case",
        sa.Column("case_id", _ID, autoincrement=True, nullable=False),
        sa.Column("fixmedins_code", sa.String(length=30), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("outcome", sa.String(length=12), nullable=True),
        sa.Column("summary", sa.String(length=500), nullable=False),
        sa.Column("proposed_fen", sa.BigInteger(), nullable=False),
        sa.Column("notified_on", sa.Date(), nullable=False),
        sa.Column("appeal_deadline", sa.Date(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("appeal_statement", sa.String(length=4000), nullable=True),
        sa.Column("appeal_files", sa.JSON(), nullable=True),
        sa.Column("appealed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("appealed_by", sa.String(length=64), nullable=True),
        sa.Column("review_note", sa.String(length=500), nullable=True),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reviewed_by", sa.String(length=64), nullable=True),
        sa.Column("recovery_fen", sa.BigInteger(), nullable=True),
        sa.Column("penalty_basis", sa.String(length=30), nullable=True),
        sa.Column("penalty_multiple", sa.String(length=12), nullable=True),
        sa.Column("penalty_fen", sa.BigInteger(), nullable=True),
        sa.Column("points", sa.JSON(), nullable=True),
        sa.Column("referral", sa.Boolean(), nullable=True),
        sa.Column("referral_to", sa.String(length=100), nullable=True),
        sa.Column("decision_note", sa.String(length=500), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.String(length=64), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_by", sa.String(length=64), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_supervision_case")),
    )
    with op.batch_alter_table("supervision_case", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_supervision_case_fixmedins_code"), ["fixmedins_code"], unique=False
        )
        batch_op.create_index("ix_supervision_case_status_code", ["status", "fixmedins_code"], unique=False)

    op.create_table(
        "case_finding",
        sa.Column("case_id", _ID, nullable=False),
        sa.Column("finding_id", _ID, nullable=False),
        sa.Column("proposed_fen", sa.BigInteger(), nullable=False),
        sa.Column("recovery_fen", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["supervision_case.case_id"],
            name=op.f("fk_case_finding_case_id_supervision_case"),
        ),
        sa.ForeignKeyConstraint(
            ["finding_id"], ["finding.finding_id"], name=op.f("fk_case_finding_finding_id_finding")
        ),
        sa.PrimaryKeyConstraint("case_id", "finding_id", name=op.f("pk_case_finding")),
        sa.UniqueConstraint("finding_id", name=op.f("uq_case_finding_finding_id")),
    )

    op.create_table(
        "case_event",
        sa.Column("case_event_id", _ID, autoincrement=True, nullable=False),
        sa.Column("case_id", _ID, nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("status_from", sa.String(length=10), nullable=True),
        sa.Column("status_to", sa.String(length=10), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("by", sa.String(length=64), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["supervision_case.case_id"],
            name=op.f("fk_case_event_case_id_supervision_case"),
        ),
        sa.PrimaryKeyConstraint("case_event_id", name=op.f("pk_case_event")),
    )
    with op.batch_alter_table("case_event", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_case_event_case_id"), ["case_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("case_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_case_event_case_id"))
    op.drop_table("case_event")
    op.drop_table("case_finding")
    with op.batch_alter_table("supervision_case", schema=None) as batch_op:
        batch_op.drop_index("ix_supervision_case_status_code")
        batch_op.drop_index(batch_op.f("ix_supervision_case_fixmedins_code"))
    op.drop_table("supervision_case")
