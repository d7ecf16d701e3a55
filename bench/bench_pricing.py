"""Benchmark of pricing: the sales-ingest rate and the time to compute reference prices at city scale.

    python bench/bench_pricing.py [--lines 20000] [--drugs 10000] [--pharmacies 2000] [--density 1.0]
                                  [--postgres ADMIN_URL]

1. Ingest: POST /sales in batches of 500 lines, in-service (the whole FastAPI stack over ASGI, no network),
   each line recorded with its light and the reference of its drug and region kept up to date.
2. Reference prices: `density` × drugs × pharmacies latest prices (default 10,000 × 2,000 = 20 million,
   in 4 regions, 5 price points per drug) written by one SQL statement, a tenth of them 45 days old. Timed:
   the rebuild (`POST /reference-prices/recompute?rebuild=true`, the repair: every price table and
   reference from all 20 million latest prices, as of a day when all are in the window), then the periodic
   recompute (`POST /reference-prices/recompute`) fifteen days on: the old tenth leaves the window, so every
   one of the 40,000 references is recomputed from its maintained price table.

Prints a table and writes var/bench/pricing.json. Measures, never asserts.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from common.clock import FrozenClock
from common.config import AppEnv
from common.db import Database, UtcDateTime, table_of
from common.embedded_nats import free_port
from common.logs import configure_logging
from common.migrations import upgrade
from common.progress import ProgressBar
from common.testing.apps import app_client
from pricing.app import create_app
from pricing.config import Settings
from pricing.models import Drug, Pharmacy
from pricing.service.reference import recompute
from pricing.uow import PricingUnitOfWork

NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
REGIONS = ("420100", "420102", "429006", "500000")
BATCH = 500
PG_PREFIX = "ybj_benchpricing_"


async def seed_reference_data(db: Database, drugs: int, pharmacies: int) -> None:
    async with db.transaction() as session:
        for start in range(0, drugs, 5000):
            await session.execute(
                sa.insert(table_of(Drug)),
                [
                    {
                        "med_list_codg": f"D{i:05d}",
                        "generic_name": f"药品{i}",
                        "spec": "10mg*10片",
                        "listing_price_micro": (20 + i % 50) * 1_000_000,
                        "procurement_price_micro": (10 + i % 50) * 1_000_000,
                        "updated_at": NOW,
                    }
                    for i in range(start, min(drugs, start + 5000))
                ],
            )
        await session.execute(
            sa.insert(table_of(Pharmacy)),
            [
                {
                    "fixmedins_code": f"P{p:05d}",
                    "fixmedins_name": f"药店{p}",
                    "admdvs": REGIONS[p % len(REGIONS)],
                    "status": "active",
                    "changed_at": NOW,
                }
                for p in range(pharmacies)
            ],
        )


async def measure_ingest(settings: Settings, *, lines: int, drugs: int, pharmacies: int) -> dict[str, float]:
    rng = random.Random(20261123)  # noqa: S311 - reproducible synthetic data, not secrets
    app = create_app(settings, clock=FrozenClock(NOW))
    batches = max(lines // BATCH, 1)
    bar = ProgressBar(batches * BATCH, label="ingest")
    sale_no = 0
    async with app_client(app) as client:
        await seed_reference_data(app.state.db, drugs, pharmacies)
        started = time.perf_counter()
        for _ in range(batches):
            pharmacy = rng.randrange(pharmacies)
            sales = []
            for _ in range(BATCH):
                sale_no += 1
                drug = rng.randrange(drugs)
                price = (10 + drug % 50) * 100 + rng.choice((0, 0, 0, 50, 120, 400))  # fen
                sales.append(
                    {
                        "sale_id": f"S{sale_no:09d}",
                        "med_list_codg": f"D{drug:05d}",
                        "finl_trns_pric": f"{price // 100}.{price % 100:02d}",
                        "cnt": str(rng.randint(1, 3)),
                        "sel_time": (NOW - timedelta(minutes=rng.randrange(600))).isoformat(),
                        "drug_trac_codg": [],
                    }
                )
            response = await client.post(
                "/sales", json={"fixmedins_code": f"P{pharmacy:05d}", "sales": sales}
            )
            if response.status_code != 200:
                raise RuntimeError(f"upload refused: {response.status_code} {response.text[:200]}")
            bar.advance(BATCH)
        elapsed = time.perf_counter() - started
    bar.close()
    return {
        "lines": batches * BATCH,
        "seconds": round(elapsed, 3),
        "lines_per_s": round(batches * BATCH / elapsed),
    }


def _fill_statement(dialect: str) -> sa.TextClause:
    regions = " ".join(f"WHEN {n} THEN '{code}'" for n, code in enumerate(REGIONS))
    price = "(10 + d % 50) * 1000000 + ((p * 7 + d) % 5) * 100000"
    # Only constants of this file are formatted in; the sizes and times are bound parameters.
    if dialect == "sqlite":
        sql = f"""
            INSERT INTO latest_price (med_list_codg, admdvs, fixmedins_code, price_micro, observed_at)
            WITH RECURSIVE dd(d) AS (SELECT 0 UNION ALL SELECT d + 1 FROM dd WHERE d < :drugs - 1),
                           pp(p) AS (SELECT 0 UNION ALL SELECT p + 1 FROM pp WHERE p < :pharmacies - 1)
            SELECT printf('D%05d', d), CASE p % {len(REGIONS)} {regions} END, printf('P%05d', p), {price},
                   CASE WHEN (p + d) % 10 = 0 THEN :old ELSE :recent END
            FROM dd, pp WHERE (p * 31 + d * 17) % 1000 < :permille
        """  # noqa: S608
    else:
        sql = f"""
            INSERT INTO latest_price (med_list_codg, admdvs, fixmedins_code, price_micro, observed_at)
            SELECT 'D' || lpad(d::text, 5, '0'), CASE p % {len(REGIONS)} {regions} END,
                   'P' || lpad(p::text, 5, '0'), {price},
                   CASE WHEN (p + d) % 10 = 0 THEN :old ELSE :recent END
            FROM generate_series(0, :drugs - 1) AS dd(d), generate_series(0, :pharmacies - 1) AS pp(p)
            WHERE (p * 31 + d * 17) % 1000 < :permille
        """  # noqa: S608
    return sa.text(sql).bindparams(
        sa.bindparam("old", type_=UtcDateTime()), sa.bindparam("recent", type_=UtcDateTime())
    )


async def measure_recompute(url: str, *, drugs: int, pharmacies: int, density: float) -> dict[str, Any]:
    db = Database.from_url(url)
    try:
        async with db.transaction() as session:
            await session.execute(sa.delete(table_of(Drug)))  # the ingest's rows go; the recompute needs none
            for table in ("latest_price", "price_window", "price_count", "reference_price"):
                await session.execute(sa.text(f"DELETE FROM {table}"))  # noqa: S608 - constant names
        print(f"writing {density:.0%} of {drugs:,} drugs x {pharmacies:,} pharmacies ...", file=sys.stderr)
        started = time.perf_counter()
        async with db.transaction() as session:
            await session.execute(
                _fill_statement(db.engine.dialect.name),
                {
                    "drugs": drugs,
                    "pharmacies": pharmacies,
                    "permille": round(density * 1000),
                    "old": NOW - timedelta(days=45),
                    "recent": NOW - timedelta(days=3),
                },
            )
            prices = await session.scalar(sa.text("SELECT count(*) FROM latest_price")) or 0
        fill_s = time.perf_counter() - started
        if db.engine.dialect.name == "postgresql":
            async with db.engine.connect() as connection:
                await connection.execution_options(isolation_level="AUTOCOMMIT")
                await connection.execute(sa.text("VACUUM ANALYZE latest_price"))
        print(f"  {prices:,} latest prices in {fill_s:.1f}s; rebuilding ...", file=sys.stderr)
        # The repair: every table and reference rebuilt from all the latest prices, as of a moment when
        # all of them are inside the window (the old tenth exactly on its edge).
        started = time.perf_counter()
        async with PricingUnitOfWork(db) as uow:
            rebuilt = await recompute(uow=uow, window_days=30, now=NOW - timedelta(days=15), rebuild=True)
        rebuild_s = time.perf_counter() - started
        print(f"  rebuilt in {rebuild_s:.1f}s; ageing the old tenth out ...", file=sys.stderr)
        # The periodic run: fifteen days on the old tenth has left the window; every group loses prices,
        # so every reference is recomputed from its maintained price table.
        started = time.perf_counter()
        async with PricingUnitOfWork(db) as uow:
            result = await recompute(uow=uow, window_days=30, now=NOW)
        seconds = time.perf_counter() - started
    finally:
        await db.dispose()
    return {
        "drugs": drugs,
        "pharmacies": pharmacies,
        "latest_prices": prices,
        "aged_out": result.aged_out,
        "references": result.references,
        "recompute_s": round(seconds, 2),
        "rebuild_references": rebuilt.references,
        "rebuild_s": round(rebuild_s, 2),
        "fill_s": round(fill_s, 2),
    }


def prepare_postgres(admin_url: str, prefix: str = PG_PREFIX) -> str:
    """Fresh `<prefix>*` databases on the given server (ybj_benchpricing_* by default); the pricing one is used."""
    from common.pgdev import drop_databases, ensure_databases

    drop_databases(admin_url, prefix)
    return ensure_databases(admin_url, prefix).urls["pricing"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=20_000, help="sale lines to ingest (batches of 500)")
    parser.add_argument("--ingest-drugs", type=int, default=2_000)
    parser.add_argument("--ingest-pharmacies", type=int, default=200)
    parser.add_argument("--drugs", type=int, default=10_000)
    parser.add_argument("--pharmacies", type=int, default=2_000)
    parser.add_argument(
        "--density", type=float, default=1.0, help="share of (drug, pharmacy) pairs with a price"
    )
    parser.add_argument("--postgres", metavar="ADMIN_URL", help="run on PostgreSQL instead of SQLite")
    parser.add_argument("--out", type=Path, default=Path("var/bench/pricing.json"))
    args = parser.parse_args()
    configure_logging("bench", "WARNING")
    backend = "postgresql" if args.postgres else "sqlite"
    with tempfile.TemporaryDirectory() as tmp:
        url = (
            prepare_postgres(args.postgres)
            if args.postgres
            else f"sqlite+aiosqlite:///{Path(tmp) / 'pricing.db'}"
        )
        upgrade("pricing", url)
        settings = Settings(
            database_url=url,
            nats_url=f"nats://127.0.0.1:{free_port()}",
            app_env=AppEnv.TEST,
            relay_enabled=False,
            consumers_enabled=False,
            log_level="WARNING",
        )
        ingest = asyncio.run(
            measure_ingest(
                settings, lines=args.lines, drugs=args.ingest_drugs, pharmacies=args.ingest_pharmacies
            )
        )
        references = asyncio.run(
            measure_recompute(url, drugs=args.drugs, pharmacies=args.pharmacies, density=args.density)
        )
    results = {"backend": backend, "ingest": ingest, "reference_prices": references}
    print(f"\npricing benchmark ({backend})")
    print(f"  {'measure':<52}{'value':>14}")
    print(f"  {'sales ingest, batches of 500 (lines/s, in-service)':<52}{ingest['lines_per_s']:>14,}")
    print(f"  {'  lines ingested':<52}{ingest['lines']:>14,}")
    print(f"  {'latest prices (drugs x pharmacies x density)':<52}{references['latest_prices']:>14,}")
    print(f"  {'reference prices computed':<52}{references['references']:>14,}")
    print(f"  {'periodic recompute: every reference (s)':<52}{references['recompute_s']:>14,.2f}")
    print(f"  {'rebuild from all latest prices, repair (s)':<52}{references['rebuild_s']:>14,.2f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    print(f"  results written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
