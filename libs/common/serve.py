"""Start one service by name: apply its migrations, then serve it with uvicorn.

python -m common.serve settlement [--no-migrate | --migrate-only]
"""

from __future__ import annotations

import argparse
import importlib
import sys

import uvicorn

from common.config import ServiceSettings
from common.logs import configure_logging
from common.migrations import upgrade

SERVICES = ("gateway", "enrollment", "settlement", "pricing", "fraud")


def settings_for(service: str) -> ServiceSettings:
    """The settings of a service, read from the environment."""
    settings: ServiceSettings = importlib.import_module(f"{service}.config").Settings()
    return settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m common.serve", description=__doc__.splitlines()[0])
    parser.add_argument("service", choices=SERVICES)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--no-migrate", action="store_true", help="serve without applying migrations")
    mode.add_argument("--migrate-only", action="store_true", help="apply migrations and exit")
    args = parser.parse_args(argv)

    settings = settings_for(args.service)
    configure_logging(args.service, settings.log_level)
    if not args.no_migrate:
        upgrade(args.service, settings.database_url)
    if args.migrate_only:
        return 0
    uvicorn.run(
        f"{args.service}.app:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        server_header=False,
        timeout_graceful_shutdown=10,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
