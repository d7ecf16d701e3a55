"""Benchmark of enrollment: bulk loads (persons, coverages, contributions) and the eligibility look-up's latency.

    python bench/bench_enrollment.py [--persons 100000] [--calls 10000] [--bulk 20000] [--postgres URL]
                                     [--db-prefix ybj_bench_]

Coverages and contributions are loaded in-service (the whole FastAPI stack over ASGI) the way the city
loaders send them: POST /coverages:bulk in chunks of 500, then POST /contributions:bulk in chunks of 250
(two contributions a person), for `--bulk` persons registered for it.

Prints a table and writes var/bench/enrollment.json. Measures, never asserts.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from common.clock import FrozenClock
from common.config import AppEnv
from common.db import Database
from common.embedded_nats import free_port
from common.logs import configure_logging
from common.migrations import upgrade
from common.progress import ProgressBar
from common.testing.apps import app_client
from enrollment.app import create_app
from enrollment.cli import load_persons
from enrollment.config import Settings
from enrollment.domain.certno import check_char
from enrollment.models import Coverage, Person

NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
REGIONS = ("420102", "420103", "420104", "420106", "429006", "500101", "500103")


def write_persons(path: Path, count: int, rng: random.Random) -> None:
    bar = ProgressBar(count, label="generate")
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["certno", "psn_name", "admdvs", "tel"])
        seen: set[str] = set()
        while len(seen) < count:
            birth = date(1940, 1, 1) + timedelta(days=rng.randrange(0, 365 * 85))
            first17 = f"{rng.choice(REGIONS)}{birth:%Y%m%d}{rng.randrange(1000):03d}"
            certno = first17 + check_char(first17)
            if certno in seen:
                continue
            seen.add(certno)
            writer.writerow([certno, f"参保人{len(seen)}", "420100", f"13{rng.randrange(10**9):09d}"])
            bar.advance()
    bar.close()


async def enroll_everyone(db: Database, rng: random.Random) -> None:
    """Coverages for the whole population, inserted directly: setup, not what is measured."""
    async with db.transaction(readonly=True) as session:
        people = (await session.execute(sa.select(Person.psn_no, Person.brdy))).all()
    bar = ProgressBar(len(people), label="coverages")
    rows = []
    for psn_no, _ in people:
        employee = rng.random() < 0.35
        waiting = not employee and rng.random() < 0.05
        rows.append(
            {
                "psn_no": psn_no,
                "insutype": "310" if employee else "390",
                "status": "active",
                "begndate": date(2026, 1, 1),
                "enddate": None,
                "emp_code": "91420100MA4K123456" if employee else None,
                "psn_type": ("retired" if rng.random() < 0.3 else "employed") if employee else None,
                "assistance": None if employee or rng.random() > 0.05 else "minimum_living",
                "enrolled_on": date(2026, 1, 10) if waiting else date(2025, 11, 1),
                "benefit_start_date": date(2026, 4, 10) if waiting else date(2026, 1, 1),
                "waiting_months": 3 if waiting else 0,
                # What the service stores on every coverage change (a first year: no raise yet).
                "incentive_year": 2026,
                "incentive_raise_fen": 0,
                "continuous_years": 1,
                "break_years": 0,
                "end_reason": None,
                "created_at": NOW,
                "updated_at": NOW,
            }
        )
    for start in range(0, len(rows), 5000):
        async with db.transaction() as session:
            await session.execute(sa.insert(Coverage), rows[start : start + 5000])
        bar.advance(len(rows[start : start + 5000]))
    bar.close()


def percentile(sorted_values: list[float], fraction: float) -> float:
    index = min(len(sorted_values) - 1, max(0, round(fraction * len(sorted_values)) - 1))
    return sorted_values[index]


async def measure_eligibility(settings: Settings, calls: int, rng: random.Random) -> dict[str, float]:
    db = Database.from_url(settings.database_url)
    async with db.transaction(readonly=True) as session:
        keys = (await session.execute(sa.select(Person.psn_no, Person.certno))).all()
    await db.dispose()
    app = create_app(settings, clock=FrozenClock(NOW))
    latencies: list[float] = []
    async with app_client(app) as client:
        for _ in range(200):  # warm up caches and the connection pool
            await client.get("/eligibility", params={"psn_no": rng.choice(keys)[0]})
        bar = ProgressBar(calls, label="eligibility")
        started = time.perf_counter()
        for index in range(calls):
            psn_no, certno = rng.choice(keys)
            params = {"certno": certno} if index % 4 == 0 else {"psn_no": psn_no, "insutype": "390"}
            began = time.perf_counter()
            response = await client.get("/eligibility", params=params)
            latencies.append((time.perf_counter() - began) * 1000)
            if response.status_code != 200:
                raise RuntimeError(f"eligibility answered {response.status_code}: {response.text}")
            bar.advance()
        elapsed = time.perf_counter() - started
        bar.close()
    latencies.sort()
    return {
        "calls": calls,
        "p50_ms": percentile(latencies, 0.50),
        "p95_ms": percentile(latencies, 0.95),
        "p99_ms": percentile(latencies, 0.99),
        "max_ms": latencies[-1],
        "mean_ms": statistics.fmean(latencies),
        "per_second": calls / elapsed,
    }


COVERAGE_CHUNK = 500  # as bench/_city.py sends them
CONTRIBUTION_CHUNK = 250  # as bench/city/load.py sends them
EMPLOYER = "91420100MA4K123456"


async def _timed_bulk(
    client: httpx.AsyncClient, path: str, key: str, items: list[dict[str, Any]], chunk: int
) -> dict[str, float]:
    bar = ProgressBar(len(items), label=key)
    started = time.perf_counter()
    for start in range(0, len(items), chunk):
        part = items[start : start + chunk]
        response = await client.post(path, json={key: part})
        if response.status_code != 200 or response.json()["rejected"]:
            raise RuntimeError(f"{path} answered {response.status_code}: {response.text[:300]}")
        bar.advance(len(part))
    elapsed = time.perf_counter() - started
    bar.close()
    return {"rows": len(items), "seconds": round(elapsed, 3), "rows_per_s": round(len(items) / elapsed)}


async def measure_bulk_loads(
    settings: Settings, count: int, rng: random.Random
) -> dict[str, dict[str, float]]:
    """Register `count` new persons (not timed), then time their coverages and contributions in bulk."""
    app = create_app(settings, clock=FrozenClock(NOW))
    async with app_client(app) as client:
        people, seen = [], set()
        while len(people) < count:
            birth = date(1945, 1, 1) + timedelta(days=rng.randrange(365 * 75))
            first17 = f"110101{birth:%Y%m%d}{rng.randrange(1000):03d}"  # a region the CSV never uses
            if first17 not in seen:
                seen.add(first17)
                people.append(
                    {"certno": first17 + check_char(first17), "psn_name": "参保人", "admdvs": "420100"}
                )
        psn_nos: list[str] = []
        for start in range(0, count, 5000):
            answer = await client.post("/persons:bulk", json={"persons": people[start : start + 5000]})
            psn_nos.extend(answer.json()["registered"])
        coverages: list[dict[str, Any]] = []
        contributions: list[dict[str, Any]] = []
        for n, psn_no in enumerate(psn_nos):
            if n % 3:
                coverages.append(
                    {"psn_no": psn_no, "insutype": "310", "begndate": "2026-01-01", "emp_code": EMPLOYER}
                    | ({"psn_type": "retired"} if n % 5 == 0 else {})
                )
                contributions += [
                    {
                        "psn_no": psn_no,
                        "insutype": "310",
                        "period": f"2026-{month:02d}",
                        "amount": "800.00",
                        "paid_at": f"2026-{month:02d}-15T10:00:00+08:00",
                    }
                    for month in (1, 2)
                ]
            else:
                coverages.append(
                    {
                        "psn_no": psn_no,
                        "insutype": "390",
                        "begndate": "2026-01-01",
                        "enrolled_on": "2025-10-01",
                    }
                )
                contributions += [
                    {
                        "psn_no": psn_no,
                        "insutype": "390",
                        "period": str(year),
                        "amount": "400.00",
                        "paid_at": f"{year - 1}-11-02T09:30:00+08:00",
                    }
                    for year in (2025, 2026)
                ]
        return {
            "coverages": await _timed_bulk(client, "/coverages:bulk", "coverages", coverages, COVERAGE_CHUNK),
            "contributions": await _timed_bulk(
                client, "/contributions:bulk", "contributions", contributions, CONTRIBUTION_CHUNK
            ),
        }


def prepare_postgres(admin_url: str, prefix: str = "ybj_bench_") -> str:
    """Fresh `<prefix>*` databases on the given server (ybj_bench_* by default); the enrollment one is used."""
    from common.pgdev import drop_databases, ensure_databases

    drop_databases(admin_url, prefix)
    return ensure_databases(admin_url, prefix).urls["enrollment"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=100_000)
    parser.add_argument("--calls", type=int, default=10_000)
    parser.add_argument(
        "--bulk", type=int, default=20_000, help="persons given coverages and contributions in bulk"
    )
    parser.add_argument("--postgres", metavar="ADMIN_URL", help="run on PostgreSQL instead of SQLite")
    parser.add_argument(
        "--db-prefix", default="ybj_bench_", help="with --postgres: the databases' name prefix"
    )
    parser.add_argument("--out", type=Path, default=Path("var/bench/enrollment.json"))
    args = parser.parse_args()
    configure_logging("bench", "WARNING")
    rng = random.Random(20261123)  # noqa: S311 - reproducible synthetic data, not secrets
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        url = (
            prepare_postgres(args.postgres, args.db_prefix)
            if args.postgres
            else f"sqlite+aiosqlite:///{workdir / 'enrollment.db'}"
        )
        upgrade("enrollment", url)
        csv_path = workdir / "persons.csv"
        write_persons(csv_path, args.persons, rng)

        async def load() -> tuple[float, int]:
            db = Database.from_url(url)
            try:
                report = await load_persons(db, csv_path, clock=FrozenClock(NOW))
                await enroll_everyone(db, rng)
                return report.rate, report.created
            finally:
                await db.dispose()

        load_rate, created = asyncio.run(load())
        settings = Settings(
            database_url=url,
            nats_url=f"nats://127.0.0.1:{free_port()}",
            app_env=AppEnv.TEST,
            relay_enabled=False,
            consumers_enabled=False,
            log_level="WARNING",  # one access line per call would drown the table (the cost stays measured)
        )
        eligibility = asyncio.run(measure_eligibility(settings, args.calls, rng))
        bulk = asyncio.run(measure_bulk_loads(settings, args.bulk, rng)) if args.bulk else {}
    backend = "postgresql" if args.postgres else "sqlite"
    results = {
        "backend": backend,
        "persons": created,
        "bulk_load_rows_per_s": round(load_rate),
        "eligibility": {k: round(v, 3) for k, v in eligibility.items()},
        "bulk": bulk,
    }
    print(f"\nenrollment benchmark ({backend}, {created:,} persons)")
    print(f"  {'measure':<34}{'value':>14}   target")
    print(f"  {'bulk load (persons/s)':<34}{load_rate:>14,.0f}   100,000 well under a minute")
    print(f"  {'eligibility p50 (ms, in-service)':<34}{eligibility['p50_ms']:>14.2f}")
    print(f"  {'eligibility p95 (ms)':<34}{eligibility['p95_ms']:>14.2f}")
    print(f"  {'eligibility p99 (ms)':<34}{eligibility['p99_ms']:>14.2f}   < 10 ms")
    print(f"  {'eligibility sequential calls/s':<34}{eligibility['per_second']:>14,.0f}")
    for key, label in (
        ("coverages", "bulk coverages (rows/s)"),
        ("contributions", "bulk contributions (rows/s)"),
    ):
        if key in bulk:
            print(f"  {label:<34}{bulk[key]['rows_per_s']:>14,.0f}   >= 2,000")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    print(f"  results written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
