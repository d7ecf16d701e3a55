"""Benchmark of the period jobs on PostgreSQL: day close (日结算) and month reconciliation (月核算).

    python bench/bench_periods.py --postgres ADMIN_URL [--day-sizes 100000,300000,1000000] [--month-size 3000000]

Settlements are written straight into a fresh database with COPY (setup, not what is measured); each size
is closed as one business day with the service's own `close_day`, and the month is reconciled with the
service's own month reconciliation after its days are closed. Prints a table and writes
var/bench/periods.json. Measures, never asserts.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sqlite3
import sys
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg

from common.clock import FrozenClock
from common.db import Database
from common.migrations import upgrade
from common.progress import ProgressBar
from settlement.service.day_close import close_day
from settlement.uow import SettlementUnitOfWork

INSTITUTIONS = 500
NOW = datetime(2026, 4, 1, 2, 0, tzinfo=UTC)


def _asyncpg_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


VISIT_COLUMNS = ["mdtrt_id", "fixmedins_code", "psn_no", "insutype", "med_type", "begntime", "endtime",
                 "dise_codg", "dise_name", "ipt_otp_no", "status", "created_at"]  # fmt: skip
SETTLEMENT_COLUMNS = ["setl_id", "medins_setl_id", "fixmedins_code", "mdtrt_id", "psn_no", "insutype", "med_type",
                      "setl_time", "business_date", "year", "policy_version", "medfee_fen", "fulamt_ownpay_fen",
                      "overlmt_selfpay_fen", "preselfpay_fen", "inscp_scp_fen", "act_pay_dedc_fen", "hifp_pay_fen",
                      "hifmi_pay_fen", "hifob_pay_fen", "maf_pay_fen", "fund_pay_fen", "psn_part_fen",
                      "acct_pay_fen", "acct_mulaid_pay_fen", "psn_cash_pay_fen", "mulaid_holder_psn_no",
                      "outpatient_dedc_fen", "outpatient_pool_fen", "pool_self_fen", "review", "request_hash",
                      "response", "status", "created_at", "day_close_date"]  # fmt: skip
REVERSAL_COLUMNS = ["setl_id", "orig_setl_id", "fixmedins_code", "psn_no", "reason", "setl_time",
                    "business_date", "response", "created_by", "day_close_date"]  # fmt: skip
Rows = list[tuple[Any, ...]]


def chunks(
    *, day: date, count: int, start: int, rng: random.Random, size: int = 50_000
) -> Iterator[tuple[Rows, Rows, Rows]]:
    """`count` settlements (1 % of them reversed the same day) on `day` with their visits, `size` at a time."""
    moment = datetime(day.year, day.month, day.day, 2, 0, tzinfo=UTC)
    for offset in range(0, count, size):
        visits, settlements, reversals = [], [], []
        for n in range(start + offset, start + min(count, offset + size)):
            code = f"H{n % INSTITUTIONS:05d}"
            mdtrt_id, setl_id = f"M{n:019d}", f"S{n:019d}"
            medfee = rng.randrange(1_000, 500_000)
            fund = medfee * 6 // 10
            acct = min(medfee - fund, 5_000)
            cash = medfee - fund - acct
            visits.append((mdtrt_id, code, f"P{n % 100_000:09d}", "310", "11", moment, None, None, None, None,
                           "settled", moment))  # fmt: skip
            settlements.append(
                (setl_id, f"{code}-{n}", code, mdtrt_id, f"P{n % 100_000:09d}", "310", "11", moment, day,
                 day.year, 0, medfee, 0, 0, 0, medfee, 0, fund, 0, 0, 0, fund, medfee - fund, acct, 0, cash,
                 None, 0, fund, 0, "skipped", "-", "{}", "settled", moment, day)
            )  # fmt: skip
            if n % 100 == 0:
                reversals.append((f"R{n:019d}", setl_id, code, f"P{n % 100_000:09d}", "bench", moment, day,
                                  "{}", "bench", day))  # fmt: skip
        yield visits, settlements, reversals


async def fill(url: str, *, day: date, count: int, start: int, rng: random.Random, label: str) -> None:
    """The settlements of `chunks` written by COPY (PostgreSQL)."""
    connection = await asyncpg.connect(_asyncpg_dsn(url))
    bar = ProgressBar(count, label=label)
    try:
        for visits, settlements, reversals in chunks(day=day, count=count, start=start, rng=rng):
            await connection.copy_records_to_table("visit", records=visits, columns=VISIT_COLUMNS)
            await connection.copy_records_to_table(
                "settlement", records=settlements, columns=SETTLEMENT_COLUMNS
            )
            if reversals:
                await connection.copy_records_to_table(
                    "settlement_reversal", records=reversals, columns=REVERSAL_COLUMNS
                )
            bar.advance(len(settlements))
        await connection.execute("ANALYZE settlement; ANALYZE settlement_reversal")
    finally:
        bar.close()
        await connection.close()


def _sqlite_value(value: Any) -> Any:
    """As SQLAlchemy stores it on SQLite: moments in UTC without offset, dates ISO."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, date):
        return value.isoformat()
    return value


def _insert_sql(table: str, columns: list[str]) -> str:
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"  # noqa: S608


def fill_sqlite(path: Path, *, day: date, count: int, start: int, rng: random.Random, label: str) -> None:
    """The settlements of `chunks` written by executemany in one transaction per chunk (SQLite)."""
    connection = sqlite3.connect(path)
    bar = ProgressBar(count, label=label)
    try:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=OFF")
        for visits, settlements, reversals in chunks(day=day, count=count, start=start, rng=rng):
            with connection:
                for table, columns, rows in (
                    ("visit", VISIT_COLUMNS, visits),
                    ("settlement", SETTLEMENT_COLUMNS, settlements),
                    ("settlement_reversal", REVERSAL_COLUMNS, reversals),
                ):
                    if rows:
                        connection.executemany(
                            _insert_sql(table, columns), ([_sqlite_value(v) for v in row] for row in rows)
                        )
            bar.advance(len(settlements))
        connection.execute("ANALYZE")
        connection.commit()
    finally:
        bar.close()
        connection.close()


async def time_close(url: str, day: date) -> tuple[float, int]:
    db = Database.from_url(url)
    try:
        started = time.perf_counter()
        async with SettlementUnitOfWork(db) as uow:
            outcome = await close_day(uow=uow, day=day, closed_by="bench", clock=FrozenClock(NOW))
        return time.perf_counter() - started, outcome.day_close.settlement_count
    finally:
        await db.dispose()


async def time_month(url: str, month: str) -> tuple[float, Any]:
    from settlement.service import monthly

    db = Database.from_url(url)
    try:
        started = time.perf_counter()
        async with SettlementUnitOfWork(db) as uow:
            result = await monthly.compute_month(
                uow=uow, month=month, computed_by="bench", clock=FrozenClock(NOW)
            )
        return time.perf_counter() - started, result
    finally:
        await db.dispose()


def fresh_database(admin_url: str, prefix: str = "ybj_bench_") -> str:
    from common.pgdev import drop_databases, ensure_databases

    drop_databases(admin_url, prefix)
    url = ensure_databases(admin_url, prefix).urls["settlement"]
    upgrade("settlement", url)
    return url


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", metavar="ADMIN_URL", required=True)
    parser.add_argument("--day-sizes", default="100000,300000,1000000")
    parser.add_argument(
        "--month-sizes", default="", help="e.g. 300000,1000000,3000000 (spread over the 31 days of March)"
    )
    parser.add_argument("--out", type=Path, default=Path("var/bench/periods.json"))
    args = parser.parse_args()
    rng = random.Random(20261123)  # noqa: S311 - synthetic data
    results: dict[str, list[dict[str, Any]]] = {"day_close": [], "month_reconciliation": []}
    for size in [int(s) for s in args.day_sizes.split(",") if s]:
        url = fresh_database(args.postgres)
        day = date(2026, 3, 2)
        asyncio.run(fill(url, day=day, count=size, start=0, rng=rng, label=f"fill {size:,}"))
        seconds, closed = asyncio.run(time_close(url, day))
        results["day_close"].append({"settlements": closed, "seconds": round(seconds, 2)})
        print(f"  day close of {closed:,} settlements: {seconds:.2f} s")
    for size in [int(s) for s in args.month_sizes.split(",") if s]:
        url = fresh_database(args.postgres)
        per_day = size // 31
        for index in range(31):
            day = date(2026, 3, 1) + timedelta(days=index)
            asyncio.run(
                fill(url, day=day, count=per_day, start=index * per_day, rng=rng, label=f"fill {day}")
            )
            asyncio.run(time_close(url, day))
        seconds, _ = asyncio.run(time_month(url, "2026-03"))
        results["month_reconciliation"].append({"settlements": per_day * 31, "seconds": round(seconds, 2)})
        print(f"  month reconciliation of {per_day * 31:,} settlements: {seconds:.2f} s")
    print("\nperiod jobs (postgresql)")
    print(f"  {'job':<24}{'settlements':>14}{'seconds':>10}   target")
    for row in results["day_close"]:
        print(f"  {'day close':<24}{row['settlements']:>14,}{row['seconds']:>10.2f}   1,000,000 in <= 10 s")
    for row in results["month_reconciliation"]:
        print(
            f"  {'month reconciliation':<24}{row['settlements']:>14,}{row['seconds']:>10.2f}   3,000,000 in <= 30 s"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    print(f"  results written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
