"""The outbox and inbox tables.

Revision ID: d0f4ee1cd972
Revises:
Create Date: 2026-11-23 15:00:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

from common.events.tables import create_event_tables_v1, drop_event_tables_v1

revision: str = "d0f4ee1cd972"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_event_tables_v1(op)


def downgrade() -> None:
    drop_event_tables_v1(op)
