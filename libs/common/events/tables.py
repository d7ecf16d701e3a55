"""The outbox and inbox tables, present in every service's own database."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from common.db import UtcDateTime, new_metadata

# Each service's alembic environment targets its own MetaData *and* this one.
event_metadata = new_metadata()

_SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")  # SQLite only autoincrements INTEGER keys

outbox_event = sa.Table(
    "outbox_event",
    event_metadata,
    sa.Column("seq", _SEQ, primary_key=True, autoincrement=True),
    sa.Column("event_id", sa.String(36), nullable=False, unique=True),
    sa.Column("type", sa.String(120), nullable=False),
    sa.Column("subject", sa.String(120), nullable=False),
    sa.Column("payload", sa.LargeBinary(), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("published_at", UtcDateTime(), nullable=True),
    sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
    comment="Events written in the business transaction, published to JetStream by the relay",
)
sa.Index(
    "ix_outbox_event_unpublished",
    outbox_event.c.seq,
    postgresql_where=outbox_event.c.published_at.is_(None),
    sqlite_where=outbox_event.c.published_at.is_(None),
)
sa.Index("ix_outbox_event_published_at", outbox_event.c.published_at)

inbox_event = sa.Table(
    "inbox_event",
    event_metadata,
    sa.Column("consumer", sa.String(100), primary_key=True),
    sa.Column("event_id", sa.String(36), primary_key=True),
    sa.Column("type", sa.String(120), nullable=False),
    sa.Column("received_at", UtcDateTime(), nullable=False),
    comment="Events a consumer has applied, recorded in the same transaction as their effect",
)
sa.Index("ix_inbox_event_received_at", inbox_event.c.received_at)


def create_event_tables_v1(op: Any) -> None:
    """Migration step that creates the outbox and inbox as of version 1. Frozen: never edit it."""
    seq = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    op.create_table(
        "outbox_event",
        sa.Column("seq", seq, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(36), nullable=False),
        sa.Column("type", sa.String(120), nullable=False),
        sa.Column("subject", sa.String(120), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("seq", name="pk_outbox_event"),
        sa.UniqueConstraint("event_id", name="uq_outbox_event_event_id"),
        comment="Events written in the business transaction, published to JetStream by the relay",
    )
    op.create_index(
        "ix_outbox_event_unpublished",
        "outbox_event",
        ["seq"],
        postgresql_where=sa.text("published_at IS NULL"),
        sqlite_where=sa.text("published_at IS NULL"),
    )
    op.create_index("ix_outbox_event_published_at", "outbox_event", ["published_at"])
    op.create_table(
        "inbox_event",
        sa.Column("consumer", sa.String(100), nullable=False),
        sa.Column("event_id", sa.String(36), nullable=False),
        sa.Column("type", sa.String(120), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("consumer", "event_id", name="pk_inbox_event"),
        comment="Events a consumer has applied, recorded in the same transaction as their effect",
    )
    op.create_index("ix_inbox_event_received_at", "inbox_event", ["received_at"])


def drop_event_tables_v1(op: Any) -> None:
    """Reverse of create_event_tables_v1. Frozen: never edit it."""
    op.drop_index("ix_inbox_event_received_at", table_name="inbox_event")
    op.drop_table("inbox_event")
    op.drop_index("ix_outbox_event_published_at", table_name="outbox_event")
    op.drop_index("ix_outbox_event_unpublished", table_name="outbox_event")
    op.drop_table("outbox_event")
