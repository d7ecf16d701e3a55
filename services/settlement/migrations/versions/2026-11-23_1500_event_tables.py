"""The outbox and inbox tables.

Revision ID: 401ba255b72e
Revises:
Create Date: 2026-11-23 15:00:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

from common.events.tables import create_event_tables_v1, drop_event_tables_v1

revision: str = "401ba255b72e"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_event_tables_v1(op)


def downgrade() -> None:
    drop_event_tables_v1(op)
