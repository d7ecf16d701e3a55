"""price window per group instead of a counted flag per latest price

Revision ID: 3d9b6e1f2a70
Revises: a956c97f8c9d
Create Date: 2026-11-23 19:50:00+00:00

Each group's window start becomes the oldest price it counted (the flags were set from the window edge, so
every price observed from then on was counted); a group that counted nothing starts after its newest price.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from alembic import op

from common.db import UtcDateTime

revision: str = "3d9b6e1f2a70"
down_revision: str | None = "a956c97f8c9d"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _aware(value: Any) -> datetime:
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def upgrade() -> None:
    op.create_table(
        "price_window",
        sa.Column("med_list_codg", sa.String(length=50), nullable=False),
        sa.Column("admdvs", sa.String(length=6), nullable=False),
        sa.Column("counted_from", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("med_list_codg", "admdvs", name=op.f("pk_price_window")),
    )
    op.create_index(op.f("ix_price_window_counted_from"), "price_window", ["counted_from"], unique=False)
    # Through typed tables, so the moments are written as each dialect stores them.
    latest = sa.table(
        "latest_price",
        sa.column("med_list_codg", sa.String()),
        sa.column("admdvs", sa.String()),
        sa.column("observed_at", UtcDateTime()),
        sa.column("counted", sa.Boolean()),
    )
    window = sa.table(
        "price_window",
        sa.column("med_list_codg", sa.String()),
        sa.column("admdvs", sa.String()),
        sa.column("counted_from", UtcDateTime()),
    )
    bind = op.get_bind()
    groups = bind.execute(
        sa.select(
            latest.c.med_list_codg,
            latest.c.admdvs,
            sa.func.min(sa.case((latest.c.counted, latest.c.observed_at))),
            sa.func.max(latest.c.observed_at),
        ).group_by(latest.c.med_list_codg, latest.c.admdvs)
    ).all()
    rows = [
        {
            "med_list_codg": drug,
            "admdvs": admdvs,
            # A group that counted nothing keeps its newest price out: its window starts just after it.
            "counted_from": _aware(oldest_counted)
            if oldest_counted is not None
            else _aware(newest) + timedelta(microseconds=1),
        }
        for drug, admdvs, oldest_counted, newest in groups
    ]
    for start in range(0, len(rows), 5000):
        bind.execute(sa.insert(window), rows[start : start + 5000])
    with op.batch_alter_table("latest_price") as batch:
        batch.drop_index("ix_latest_price_group")
        batch.drop_column("counted")
        batch.create_index("ix_latest_price_group", ["med_list_codg", "admdvs", "observed_at"], unique=False)
        batch.create_index("ix_latest_price_observed_at", ["observed_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("latest_price") as batch:
        batch.drop_index("ix_latest_price_observed_at")
        batch.drop_index("ix_latest_price_group")
        batch.add_column(sa.Column("counted", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.execute(
        """
        UPDATE latest_price SET counted = EXISTS (
            SELECT 1 FROM price_window w WHERE w.med_list_codg = latest_price.med_list_codg
            AND w.admdvs = latest_price.admdvs AND latest_price.observed_at >= w.counted_from
        )
        """
    )
    with op.batch_alter_table("latest_price") as batch:
        batch.create_index(
            "ix_latest_price_group", ["med_list_codg", "admdvs", "counted", "observed_at"], unique=False
        )
    op.drop_index(op.f("ix_price_window_counted_from"), table_name="price_window")
    op.drop_table("price_window")
