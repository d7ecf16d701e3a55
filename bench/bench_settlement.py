"""Benchmark of settlement: one-call `POST /settlements` (10 lines) in-service, at rising concurrency.

    python bench/bench_settlement.py [--persons 100000] [--requests 4000] [--postgres ADMIN_URL]

Real processes: nats-server from the wheel and the settlement service under uvicorn (one worker); the load
generator is this process, on the same two cores. Reference data and enrollment's projection are written
straight into the database (setup, not what is measured). The real-time review is on with no fraud service
listening, so every settlement pays for asking and failing open. Prints a table and writes
var/bench/settlement.json. Measures, never asserts.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from common.db import Database
from common.embedded_nats import EmbeddedNats, free_port
from common.migrations import upgrade
from common.money import fen_to_str
from common.principal import Principal, Role, sign_principal
from common.progress import ProgressBar
from settlement.models import CatalogItem, CoverageProjection, Institution, InsuredPerson, PersonalAccount

SECRET = "bench-internal-secret-0123456789abcdef"  # noqa: S105 - a throwaway secret for the bench processes
NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
HOSPITALS, PHARMACIES, ITEMS = 300, 200, 3000


async def seed(url: str, persons: int, rng: random.Random) -> None:
    db = Database.from_url(url)
    try:
        async with db.transaction() as session:
            await session.execute(
                sa.insert(Institution),
                [
                    {
                        "fixmedins_code": f"H{n:06d}",
                        "fixmedins_name": f"医院{n}",
                        "fixmedins_type": "hospital",
                        "hosp_lv": 1 + n % 3,
                        "admdvs": "420100",
                        "status": "active",
                        "updated_at": NOW,
                    }
                    for n in range(HOSPITALS)
                ]
                + [
                    {
                        "fixmedins_code": f"Y{n:06d}",
                        "fixmedins_name": f"药店{n}",
                        "fixmedins_type": "pharmacy",
                        "hosp_lv": None,
                        "admdvs": "420100",
                        "status": "active",
                        "updated_at": NOW,
                    }
                    for n in range(PHARMACIES)
                ],
            )
            await session.execute(
                sa.insert(CatalogItem),
                [
                    {
                        "med_list_codg": f"X{n:08d}",
                        "name": f"目录项目{n}",
                        "chrgitm_lv": ("01", "02", "03")[n % 3],
                        "selfpay_prop": None,
                        "pric_uplmt_amt": "80" if n % 7 == 0 else None,
                        "gend_lmt": None,
                        "age_min": None,
                        "age_max": None,
                        "max_cnt_per_visit": "20" if n % 11 == 0 else None,
                        "updated_at": NOW,
                    }
                    for n in range(ITEMS)
                ],
            )
        bar = ProgressBar(persons, label="persons")
        for start in range(0, persons, 5000):
            chunk = range(start, min(persons, start + 5000))
            people, coverages, accounts = [], [], []
            for n in chunk:
                psn_no = f"B{n:09d}"
                employee = n % 3 != 0
                people.append(
                    {"psn_no": psn_no, "gend": "12"[n % 2], "brdy": date(1950 + n % 60, 1 + n % 12, 1 + n % 28),
                     "admdvs": "420100", "death_date": None, "updated_at": NOW}
                )  # fmt: skip
                coverages.append(
                    {
                        "coverage_id": 10**9 + n,  # clear of ids enrollment may project alongside
                        "psn_no": psn_no,
                        "insutype": "310" if employee else "390",
                        "attached_insutypes": ["330"] if employee else ["392"],
                        "status": "active",
                        "begndate": date(2020, 1, 1),
                        "enddate": None,
                        "psn_type": ("retired" if n % 5 == 0 else "employed") if employee else None,
                        "assistance": None if n % 17 else "minimum_living",
                        "benefit_start_date": date(2020, 1, 1),
                        "incentive_raise_fen": 0,
                        "suspensions": [],
                        "source_time": NOW,
                    }
                )
                if employee:
                    accounts.append(
                        {"psn_no": psn_no, "balc_fen": rng.randrange(0, 500_000), "updated_at": NOW}
                    )
            async with db.transaction() as session:
                await session.execute(sa.insert(InsuredPerson), people)
                await session.execute(sa.insert(CoverageProjection), coverages)
                if accounts:
                    await session.execute(sa.insert(PersonalAccount), accounts)
            bar.advance(len(chunk))
        bar.close()
    finally:
        await db.dispose()


def claim(n: int, persons: int, rng: random.Random) -> tuple[str, dict[str, Any]]:
    """A 10-line claim: most at hospitals (outpatient), some at pharmacies; returns (scope, body)."""
    psn = rng.randrange(persons)
    insutype = "390" if psn % 3 == 0 else "310"
    pharmacy = n % 4 == 0
    code = f"Y{rng.randrange(PHARMACIES):06d}" if pharmacy else f"H{rng.randrange(HOSPITALS):06d}"
    lines = []
    for sn in range(1, 11):
        cnt = rng.randrange(1, 5)
        pric = rng.randrange(100, 20_000)  # fen
        lines.append(
            {
                "feedetl_sn": str(sn),
                "med_list_codg": f"X{rng.randrange(ITEMS):08d}",
                "cnt": str(cnt),
                "pric": fen_to_str(pric),
                "det_item_fee_sumamt": fen_to_str(cnt * pric),
                "fee_ocur_time": "2026-03-02T09:50:00+08:00",
                "drug_trac_codg": [f"8{n:09d}{sn:02d}{rng.randrange(10**8):08d}"] if pharmacy else [],
            }
        )
    body = {
        "fixmedins_code": code,
        "medins_setl_id": f"{code}-{n:09d}",
        "psn_no": f"B{psn:09d}",
        "insutype": insutype,
        "med_type": "41" if pharmacy else "11",
        "begntime": "2026-03-02T09:30:00+08:00",
        "acct_used_flag": 1,
        "feedetail": lines,
    }
    return code, body


def percentile(values: list[float], fraction: float) -> float:
    return values[min(len(values) - 1, max(0, round(fraction * len(values)) - 1))]


async def drive(
    url: str, bodies: list[tuple[str, dict[str, Any]]], concurrency: int, label: str
) -> dict[str, float]:
    latencies: list[float] = []
    bar = ProgressBar(len(bodies), label=label)
    queue = iter(bodies)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as client:

        async def worker() -> None:
            for scope, body in queue:
                role = Role.POS if scope.startswith("Y") else Role.HIS
                headers = sign_principal(
                    Principal(f"bench-{scope}", role, scope=scope),
                    secret=SECRET,
                    method="POST",
                    path="/settlements",
                    now=datetime.now(UTC),
                )
                began = time.perf_counter()
                response = await client.post("/settlements", json=body, headers=headers)
                latencies.append((time.perf_counter() - began) * 1000)
                if response.status_code != 201:
                    raise RuntimeError(f"settlement answered {response.status_code}: {response.text[:300]}")
                bar.advance()

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    bar.close()
    latencies.sort()
    return {
        "concurrency": concurrency,
        "requests": len(bodies),
        "per_second": len(bodies) / elapsed,
        "p50_ms": percentile(latencies, 0.5),
        "p95_ms": percentile(latencies, 0.95),
        "p99_ms": percentile(latencies, 0.99),
    }


def wait_ready(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/readyz", timeout=1) as response:  # noqa: S310 - local URL
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{url} not ready")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=4000, help="per concurrency level")
    parser.add_argument("--levels", default="1,8,32", help="concurrency levels")
    parser.add_argument("--postgres", metavar="ADMIN_URL", help="run on PostgreSQL instead of SQLite")
    parser.add_argument("--out", type=Path, default=Path("var/bench/settlement.json"))
    args = parser.parse_args()
    rng = random.Random(20261123)  # noqa: S311 - reproducible synthetic data, not secrets
    levels = [int(level) for level in args.levels.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        if args.postgres:
            from common.pgdev import drop_databases, ensure_databases

            drop_databases(args.postgres, "ybj_bench_")
            url = ensure_databases(args.postgres, "ybj_bench_").urls["settlement"]
        else:
            url = f"sqlite+aiosqlite:///{root / 'settlement.db'}"
        upgrade("settlement", url)
        asyncio.run(seed(url, args.persons, rng))
        nats = EmbeddedNats(port=free_port(), store_dir=root / "nats")
        nats.start()
        port = free_port()
        env = {
            **os.environ,
            "VAR_DIR": str(root),
            "NATS_URL": nats.url,
            "INTERNAL_SECRET": SECRET,
            "LOG_LEVEL": "WARNING",
            "SETTLEMENT_PORT": str(port),
            "SETTLEMENT_DATABASE_URL": url,
        }
        process = subprocess.Popen(
            [sys.executable, "-m", "common.serve", "settlement", "--no-migrate"],
            env=env,
            stdout=(root / "settlement.log").open("ab"),
            stderr=subprocess.STDOUT,
        )
        service_url = f"http://127.0.0.1:{port}"
        results = []
        try:
            wait_ready(service_url)
            serial = 0
            warm = [claim(serial + n, args.persons, rng) for n in range(200)]
            serial += len(warm)
            asyncio.run(drive(service_url, warm, 8, "warm-up"))
            for level in levels:
                bodies = [claim(serial + n, args.persons, rng) for n in range(args.requests)]
                serial += len(bodies)
                results.append(asyncio.run(drive(service_url, bodies, level, f"c={level}")))
        finally:
            process.terminate()
            process.wait(timeout=20)
            nats.stop()
    backend = "postgresql" if args.postgres else "sqlite"
    print(
        f"\nsettlement benchmark ({backend}, {args.persons:,} persons, POST /settlements with 10 lines, in-service)"
    )
    print(f"  {'concurrency':>11}{'req/s':>10}{'p50 ms':>10}{'p95 ms':>10}{'p99 ms':>10}")
    for row in results:
        print(
            f"  {row['concurrency']:>11}{row['per_second']:>10,.0f}{row['p50_ms']:>10.1f}"
            f"{row['p95_ms']:>10.1f}{row['p99_ms']:>10.1f}"
        )
    print("  target (through the gateway, DESIGN §11): >= 1,000/s sustained, p99 <= 100 ms")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps({"backend": backend, "persons": args.persons, "levels": results}, indent=2)
    )
    print(f"  results written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
