"""National interface: 9002 sign-out (签退) time on a sign-in.

Revision ID: 5e2d8c41a7b9
Revises: b9031ed580c3
Create Date: 2026-12-07 09:00:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5e2d8c41a7b9"
down_revision: str | None = "b9031ed580c3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("national_sign_in") as batch_op:
        batch_op.add_column(sa.Column("sign_out_time", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("national_sign_in") as batch_op:
        batch_op.drop_column("sign_out_time")
