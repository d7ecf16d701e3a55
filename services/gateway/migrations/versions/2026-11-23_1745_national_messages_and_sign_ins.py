"""National interface: messages answered (msgid idempotency) and 9001 sign-ins.

Revision ID: b9031ed580c3
Revises: 3c1f0a9d2b7e
Create Date: 2026-11-23 17:45:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b9031ed580c3"
down_revision: str | None = "3c1f0a9d2b7e"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "national_message",
        sa.Column("client_id", sa.String(length=32), nullable=False),
        sa.Column("msgid", sa.String(length=64), nullable=False),
        sa.Column("infno", sa.String(length=8), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("answer", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("client_id", "msgid", name=op.f("pk_national_message")),
    )
    op.create_table(
        "national_sign_in",
        sa.Column("sign_no", sa.String(length=30), nullable=False),
        sa.Column("client_id", sa.String(length=32), nullable=False),
        sa.Column("fixmedins_code", sa.String(length=30), nullable=False),
        sa.Column("opter_no", sa.String(length=30), nullable=False),
        sa.Column("mac", sa.String(length=64), nullable=True),
        sa.Column("ip", sa.String(length=64), nullable=True),
        sa.Column("sign_time", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("sign_no", name=op.f("pk_national_sign_in")),
    )
    op.create_index(op.f("ix_national_sign_in_client_id"), "national_sign_in", ["client_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_national_sign_in_client_id"), table_name="national_sign_in")
    op.drop_table("national_sign_in")
    op.drop_table("national_message")
