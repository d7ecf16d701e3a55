"""Pricing's command line: load drug reference data from CSV.

    python -m pricing.cli load-drugs drugs.csv [--batch 5000]

The CSV has a header with med_list_codg and generic_name and optionally dosage_form, spec, manufacturer,
listing_price, procurement_price. The whole file is validated first, as POST /drugs/bulk does: one bad
row and nothing is written (each bad row is printed); then it is written in batches with a progress bar.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from dataclasses import dataclass
from pathlib import Path

from common.bulk import csv_records, decode_csv
from common.clock import Clock, SystemClock
from common.db import Database
from common.errors import ProblemError
from common.logs import configure_logging
from common.migrations import upgrade
from common.progress import ProgressBar
from pricing.config import Settings
from pricing.schemas.drugs import DrugRow
from pricing.service.drugs import load_drug_rows, valid_drug_rows
from pricing.uow import PricingUnitOfWork


@dataclass
class LoadReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    seconds: float = 0.0


async def load_drugs(
    db: Database, path: Path, *, clock: Clock, batch_size: int = 5000, show_progress: bool = True
) -> LoadReport:
    """Validate the whole CSV (ProblemError BULK_INVALID if any row is bad), then write it in batches."""
    body = await asyncio.to_thread(path.read_bytes)
    rows = valid_drug_rows(csv_records(decode_csv(body, "utf-8"), DrugRow))
    report = LoadReport()
    bar = ProgressBar(len(rows), label="drugs") if show_progress else None
    # One transaction: all or nothing for the file, as the API's bulk load.
    async with PricingUnitOfWork(db) as uow:
        for start in range(0, len(rows), batch_size):
            outcome = await load_drug_rows(uow=uow, rows=rows[start : start + batch_size], clock=clock)
            report.created += outcome.created
            report.updated += outcome.updated
            report.unchanged += outcome.unchanged
            if bar:
                bar.advance(len(rows[start : start + batch_size]))
    if bar:
        report.seconds = bar.close()
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pricing.cli", description="Pricing tools")
    commands = parser.add_subparsers(dest="command", required=True)
    load = commands.add_parser("load-drugs", help="create or replace drugs from a CSV file (all or nothing)")
    load.add_argument("csv", type=Path)
    load.add_argument("--batch", type=int, default=5000)
    args = parser.parse_args(argv)

    settings = Settings()
    configure_logging("pricing", "WARNING")
    upgrade("pricing", settings.database_url)

    async def run() -> LoadReport:
        db = Database.from_url(settings.database_url)
        try:
            return await load_drugs(db, args.csv, clock=SystemClock(), batch_size=args.batch)
        finally:
            await db.dispose()

    try:
        report = asyncio.run(run())
    except ProblemError as exc:
        print(f"{exc.code}: {exc.detail}", file=sys.stderr)
        for error in exc.extra.get("errors", []):
            print(
                f"  row {error['row']}: {error['field']}: {error['code']}: {error['message']}",
                file=sys.stderr,
            )
        return 1
    print(f"created {report.created:,}, updated {report.updated:,}, unchanged {report.unchanged:,}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
