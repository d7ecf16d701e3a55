"""Alembic, one environment per service: run upgrades from code, and the shared env.py body."""

from __future__ import annotations

import asyncio
import logging
import zlib
from collections.abc import Callable, Sequence
from typing import Any

from alembic import command, context
from alembic.config import Config
from sqlalchemy import MetaData, text
from sqlalchemy.engine import Connection

from common.db import UtcDateTime, create_engine, is_sqlite

log = logging.getLogger("common.migrations")
FILE_TEMPLATE = "%%(year)d-%%(month).2d-%%(day).2d_%%(hour).2d%%(minute).2d_%%(slug)s"


def alembic_config(service: str, database_url: str) -> Config:
    """The alembic configuration of one service, pointing at its own migrations and database."""
    config = Config()
    config.set_main_option("script_location", f"{service}:migrations")
    config.set_main_option("file_template", FILE_TEMPLATE)
    config.set_main_option("timezone", "UTC")
    # Passed as an attribute, not an ini option, so a password with '%' needs no escaping.
    config.attributes["database_url"] = database_url
    return config


def upgrade(service: str, database_url: str, revision: str = "head") -> None:
    """Apply a service's migrations up to `revision` (must be called outside a running event loop)."""
    log.info("migrating %s to %s", service, revision)
    command.upgrade(alembic_config(service, database_url), revision)


def downgrade(service: str, database_url: str, revision: str) -> None:
    command.downgrade(alembic_config(service, database_url), revision)


def run_env(target_metadata: Sequence[MetaData], default_url: Callable[[], str]) -> None:
    """The body of every service's migrations/env.py."""
    config = context.config
    url = config.attributes.get("database_url") or config.get_main_option("sqlalchemy.url") or default_url()
    options: dict[str, Any] = {
        "target_metadata": list(target_metadata),
        "render_as_batch": is_sqlite(url),
        "compare_type": True,
        "render_item": _render_item,
    }
    if context.is_offline_mode():
        context.configure(url=url, literal_binds=True, **options)
        with context.begin_transaction():
            context.run_migrations()
        return
    asyncio.run(_run_online(url, options))


def _render_item(type_: str, obj: Any, autogen_context: Any) -> str | bool:
    """Render house column types as plain SQLAlchemy ones, so migrations never import application code."""
    if type_ == "type" and isinstance(obj, UtcDateTime):
        return "sa.DateTime(timezone=True)"
    return False


async def _run_online(url: str, options: dict[str, Any]) -> None:
    engine = create_engine(url, pool_size=1, max_overflow=0)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_migrate, options)
    finally:
        await engine.dispose()


def _migrate(connection: Connection, options: dict[str, Any]) -> None:
    context.configure(connection=connection, **options)
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            # Replicas starting together migrate one at a time; the others find the work done.
            key = zlib.crc32(b"ybj-migrations") & 0x7FFFFFFF
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
        context.run_migrations()


def main(argv: list[str] | None = None) -> int:
    """python -m common.migrations {upgrade,downgrade,revision,current} <service> ..."""
    import argparse
    import importlib

    parser = argparse.ArgumentParser(prog="python -m common.migrations")
    parser.add_argument("action", choices=("upgrade", "downgrade", "revision", "current", "history"))
    parser.add_argument("service")
    parser.add_argument("revision", nargs="?", default="head", help="target revision (upgrade, downgrade)")
    parser.add_argument("-m", "--message", help="revision message (revision)")
    args = parser.parse_args(argv)
    url: str = importlib.import_module(f"{args.service}.config").Settings().database_url
    config = alembic_config(args.service, url)
    if args.action == "upgrade":
        command.upgrade(config, args.revision)
    elif args.action == "downgrade":
        command.downgrade(config, args.revision)
    elif args.action == "revision":
        # Written into the service's own migrations folder, named YYYY-MM-DD_HHMM_<slug>.py.
        command.revision(config, message=args.message or "change", autogenerate=True)
    elif args.action == "current":
        command.current(config, verbose=True)
    else:
        command.history(config)
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main())
