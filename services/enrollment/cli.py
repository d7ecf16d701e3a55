"""Enrollment's command line: the initial load of persons from CSV.

    python -m enrollment.cli load-persons persons.csv [--batch 5000]

The CSV has a header with certno, psn_name, admdvs and optionally gend, brdy, tel. Each batch is one
transaction through the same code as POST /persons:bulk (validation, one record per certno, events).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from common.clock import Clock, SystemClock
from common.db import Database
from common.logs import configure_logging
from common.migrations import upgrade
from common.progress import ProgressBar
from enrollment.config import Settings
from enrollment.schemas.persons import PersonIn
from enrollment.service.persons import register_persons_bulk
from enrollment.uow import EnrollmentUnitOfWork


@dataclass
class LoadReport:
    created: int = 0
    existing: int = 0
    rejected: int = 0
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        return (self.created + self.existing + self.rejected) / self.seconds if self.seconds else 0.0


def _rows(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        for line, row in enumerate(csv.DictReader(handle), start=2):
            yield line, {key: value for key, value in row.items() if key and value not in (None, "")}


async def load_persons(
    db: Database, path: Path, *, clock: Clock, batch_size: int = 5000, show_progress: bool = True
) -> LoadReport:
    """Load a CSV of persons in batches; bad rows are reported by line and skipped."""
    with path.open(encoding="utf-8-sig") as handle:
        total = max(sum(1 for _ in handle) - 1, 0)
    report = LoadReport()
    bar = ProgressBar(total, label="persons") if show_progress else None
    batch: list[PersonIn] = []

    async def flush() -> None:
        async with EnrollmentUnitOfWork(db) as uow:
            outcome = await register_persons_bulk(uow=uow, people=batch, clock=clock)
        report.created += len(outcome.registered)
        report.existing += len(outcome.existing)
        report.rejected += len(outcome.rejected)
        if bar:
            bar.advance(len(batch))
        batch.clear()

    for line, row in _rows(path):
        try:
            batch.append(PersonIn.model_validate(row))
        except ValidationError as exc:
            report.rejected += 1
            print(f"line {line}: {exc.errors()[0]['loc'][0]}: {exc.errors()[0]['msg']}", file=sys.stderr)
            if bar:
                bar.advance(1)
            continue
        if len(batch) >= batch_size:
            await flush()
    if batch:
        await flush()
    if bar:
        report.seconds = bar.close()
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m enrollment.cli", description="Enrollment tools")
    commands = parser.add_subparsers(dest="command", required=True)
    load = commands.add_parser("load-persons", help="register persons from a CSV file")
    load.add_argument("csv", type=Path)
    load.add_argument("--batch", type=int, default=5000)
    args = parser.parse_args(argv)

    settings = Settings()
    configure_logging("enrollment", "WARNING")
    upgrade("enrollment", settings.database_url)

    async def run() -> LoadReport:
        db = Database.from_url(settings.database_url)
        try:
            return await load_persons(db, args.csv, clock=SystemClock(), batch_size=args.batch)
        finally:
            await db.dispose()

    report = asyncio.run(run())
    print(
        f"created {report.created:,}, already registered {report.existing:,}, rejected {report.rejected:,} "
        f"({report.rate:,.0f} rows/s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
