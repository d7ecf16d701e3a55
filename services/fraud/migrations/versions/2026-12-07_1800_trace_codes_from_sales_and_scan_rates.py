"""trace codes from POS sales, their first use, scan rates

Revision ID: a23f1c0e7d01
Revises: dbfbbb48c2fb
Create Date: 2026-12-07 18:00:00+00:00

trace_code_use is rebuilt to hold every use of a code, settled or sold: (trac_codg, source, fixmedins_code,
use_id) with the time of the use, so a hit can name the first one. The settled uses already projected are
carried over with their settlement's institution and time. The catalogue's limits learn which items need a
code; POS sale lines, what each settlement added to the scan rate, and the monthly counters are new.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "a23f1c0e7d01"
down_revision: str | None = "dbfbbb48c2fb"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _postgres() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    with op.batch_alter_table("trace_code_use", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_trace_code_use_setl_id"))
    op.rename_table("trace_code_use", "trace_code_use_old")
    if _postgres():  # constraint names are the schema's: free the new table's
        op.execute(
            "ALTER TABLE trace_code_use_old RENAME CONSTRAINT pk_trace_code_use TO pk_trace_code_use_old"
        )
    op.create_table(
        "trace_code_use",
        sa.Column("trac_codg", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=10), nullable=False),
        sa.Column("fixmedins_code", sa.String(length=30), nullable=False),
        sa.Column("use_id", sa.String(length=100), nullable=False),
        sa.Column("feedetl_sn", sa.String(length=40), nullable=True),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reversed", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint(
            "trac_codg", "source", "fixmedins_code", "use_id", name=op.f("pk_trace_code_use")
        ),
    )
    with op.batch_alter_table("trace_code_use", schema=None) as batch_op:
        batch_op.create_index("ix_trace_code_use_source_use_id", ["source", "use_id"], unique=False)
    op.execute(
        "INSERT INTO trace_code_use (trac_codg, source, fixmedins_code, use_id, feedetl_sn, used_at, reversed) "
        "SELECT t.trac_codg, 'settlement', c.fixmedins_code, t.setl_id, t.feedetl_sn, c.setl_time, t.reversed "
        "FROM trace_code_use_old AS t JOIN claim_record AS c ON c.setl_id = t.setl_id"
    )
    op.drop_table("trace_code_use_old")

    with op.batch_alter_table("catalog_limit", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("trac_codg_required", sa.Boolean(), server_default=sa.false(), nullable=False)
        )

    op.create_table(
        "sale_line",
        sa.Column("fixmedins_code", sa.String(length=30), nullable=False),
        sa.Column("sale_id", sa.String(length=100), nullable=False),
        sa.Column("med_list_codg", sa.String(length=50), nullable=False),
        sa.Column("sel_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("needs_code", sa.Boolean(), nullable=False),
        sa.Column("scanned", sa.Boolean(), nullable=False),
        sa.Column("refunded", sa.Boolean(), nullable=False),
        sa.Column("refunded_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("fixmedins_code", "sale_id", name=op.f("pk_sale_line")),
    )
    op.create_table(
        "settlement_scan",
        sa.Column("setl_id", sa.String(length=40), nullable=False),
        sa.Column("fixmedins_code", sa.String(length=30), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("lines_needing", sa.Integer(), nullable=False),
        sa.Column("lines_scanned", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("setl_id", name=op.f("pk_settlement_scan")),
    )
    op.create_table(
        "scan_count",
        sa.Column("fixmedins_code", sa.String(length=30), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("lines_needing", sa.Integer(), nullable=False),
        sa.Column("lines_scanned", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("fixmedins_code", "month", name=op.f("pk_scan_count")),
    )


def downgrade() -> None:
    op.drop_table("scan_count")
    op.drop_table("settlement_scan")
    op.drop_table("sale_line")
    with op.batch_alter_table("catalog_limit", schema=None) as batch_op:
        batch_op.drop_column("trac_codg_required")

    with op.batch_alter_table("trace_code_use", schema=None) as batch_op:
        batch_op.drop_index("ix_trace_code_use_source_use_id")
    op.rename_table("trace_code_use", "trace_code_use_new")
    if _postgres():
        op.execute(
            "ALTER TABLE trace_code_use_new RENAME CONSTRAINT pk_trace_code_use TO pk_trace_code_use_new"
        )
    op.create_table(
        "trace_code_use",
        sa.Column("trac_codg", sa.String(length=64), nullable=False),
        sa.Column("setl_id", sa.String(length=40), nullable=False),
        sa.Column("feedetl_sn", sa.String(length=40), nullable=False),
        sa.Column("reversed", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("trac_codg", "setl_id", name=op.f("pk_trace_code_use")),
    )
    with op.batch_alter_table("trace_code_use", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_trace_code_use_setl_id"), ["setl_id"], unique=False)
    # Only settled uses existed before; a sale's use has nowhere to go.
    op.execute(
        "INSERT INTO trace_code_use (trac_codg, setl_id, feedetl_sn, reversed) "
        "SELECT trac_codg, use_id, feedetl_sn, reversed FROM trace_code_use_new "
        "WHERE source = 'settlement' AND feedetl_sn IS NOT NULL"
    )
    op.drop_table("trace_code_use_new")
