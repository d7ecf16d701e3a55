"""prepayment idempotency key

Revision ID: 5c0e2b7d9a41
Revises: 71a3cc3f6d7f
Create Date: 2026-11-23 19:30:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5c0e2b7d9a41"
down_revision: str | None = "71a3cc3f6d7f"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("prepayment") as batch:
        batch.add_column(sa.Column("idempotency_key", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("request_hash", sa.String(length=64), nullable=True))
        batch.create_unique_constraint("uq_prepayment_idempotency_key", ["idempotency_key"])


def downgrade() -> None:
    with op.batch_alter_table("prepayment") as batch:
        batch.drop_constraint("uq_prepayment_idempotency_key", type_="unique")
        batch.drop_column("request_hash")
        batch.drop_column("idempotency_key")
