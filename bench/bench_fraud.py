"""Benchmark of fraud: fraud.review latency over NATS on a realistic history, and the post-event rate.

    python bench/bench_fraud.py [--persons 100000] [--lines 1000000] [--reviews 3000] [--events 3000]
                                [--postgres ADMIN_URL]

Real processes: nats-server from the wheel and the fraud service under uvicorn (one worker); the requests
come from this process over NATS request/reply, as settlement asks them (one at a time, then 8 at once).
The history projection (persons' settlements, lines, traceability codes, catalogue limits) is written
straight into the database (setup, not what is measured). The post-event rate is the time from publishing
`settlement.settled` events to JetStream until the consumer has applied them all (projection + post rules
+ findings, one transaction each). Prints a table and writes var/bench/fraud.json. Measures, never asserts.
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
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import nats
import sqlalchemy as sa

from common.clock import SHANGHAI
from common.db import Database
from common.embedded_nats import EmbeddedNats, free_port
from common.events.contracts import FRAUD_REVIEW_SUBJECT, Subject
from common.events.tables import inbox_event
from common.migrations import upgrade
from common.progress import ProgressBar
from fraud.models import CatalogLimit, ClaimLine, ClaimRecord, PersonFact, TraceCodeUse

SECRET = "bench-internal-secret-0123456789abcdef"  # noqa: S105 - a throwaway secret for the bench processes
NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
FIRST_DAY = date(2025, 3, 1)
DAYS = 365
ITEMS, HOSPITALS, PHARMACIES, CATEGORIES = 3000, 300, 200, 400


def item(n: int) -> str:
    return f"X{n % ITEMS:08d}"


async def seed(url: str, persons: int, lines_wanted: int, rng: random.Random) -> dict[str, int]:
    """Persons, ~3 lines per settlement, a traceability code on every pharmacy line, limits on 1 item in 5."""
    db = Database.from_url(url)
    counts = {"persons": persons, "claims": 0, "lines": 0, "trace_codes": 0}
    bar = ProgressBar(lines_wanted, label="seeding history")
    try:
        async with db.transaction() as session:
            await session.execute(
                sa.insert(CatalogLimit),
                [
                    {
                        "med_list_codg": item(n),
                        "gend_lmt": "2" if n % 50 == 0 else None,
                        "age_min": None,
                        "age_max": None,
                        "max_cnt_per_visit": "10" if n % 5 == 0 else None,
                        "updated_at": NOW,
                    }
                    for n in range(ITEMS)
                ],
            )
            for start in range(0, persons, 20_000):
                await session.execute(
                    sa.insert(PersonFact),
                    [
                        {"psn_no": f"P{n:08d}", "gend": "12"[n % 2], "brdy": date(1950 + n % 60, 1 + n % 12, 1),
                         "death_date": None, "updated_at": NOW}
                        for n in range(start, min(persons, start + 20_000))
                    ],
                )  # fmt: skip
        serial = 0
        while counts["lines"] < lines_wanted:
            claims, lines, codes = [], [], []
            for _ in range(10_000):
                serial += 1
                psn = f"P{rng.randrange(persons):08d}"
                kind = rng.random()
                med_type = "41" if kind < 0.6 else ("11" if kind < 0.9 else "21")
                begin = FIRST_DAY + timedelta(days=rng.randrange(DAYS))
                end = begin + timedelta(days=rng.randrange(2, 12)) if med_type == "21" else None
                setl_id = f"S{serial:010d}"
                dise = f"{'IJK'[serial % 3]}{serial % CATEGORIES:02d}.000" if med_type != "41" else None
                n_lines = rng.randint(1, 5)
                medfee = 0
                for ln in range(n_lines):
                    amount = rng.randrange(500, 50_000) * (20 if med_type == "21" else 1)
                    medfee += amount
                    lines.append(
                        {"setl_id": setl_id, "feedetl_sn": str(ln + 1), "psn_no": psn,
                         "med_list_codg": item(rng.randrange(ITEMS)), "cnt": str(rng.randint(1, 4)),
                         "amount_fen": amount, "fee_date": begin, "reversed": False}
                    )  # fmt: skip
                    if med_type == "41":
                        codes.append(
                            {"trac_codg": f"8{serial:011d}{ln:08d}", "setl_id": setl_id, "feedetl_sn": str(ln + 1),
                             "reversed": False}
                        )  # fmt: skip
                fund = medfee * 6 // 10 if med_type != "41" else 0
                claims.append(
                    {"setl_id": setl_id, "psn_no": psn, "mdtrt_id": f"T{serial}", "medins_setl_id": f"M{serial}",
                     "fixmedins_code": f"{'Y' if med_type == '41' else 'H'}{serial % HOSPITALS:06d}",
                     "hosp_lv": None if med_type == "41" else 1 + serial % 3, "insutype": "310",
                     "med_type": med_type, "dise_codg": dise, "dise_category": dise[:3] if dise else None,
                     "begin_date": begin, "end_date": end, "setl_date": end or begin,
                     "setl_time": datetime(*(end or begin).timetuple()[:3], 10, tzinfo=SHANGHAI),
                     "medfee_fen": medfee, "fund_pay_fen": fund, "psn_part_fen": medfee - fund,
                     "reversed": False, "reversed_at": None}
                )  # fmt: skip
            async with db.transaction() as session:
                await session.execute(sa.insert(ClaimRecord), claims)
                await session.execute(sa.insert(ClaimLine), lines)
                if codes:
                    await session.execute(sa.insert(TraceCodeUse), codes)
            counts["claims"] += len(claims)
            counts["lines"] += len(lines)
            counts["trace_codes"] += len(codes)
            bar.advance(len(lines))
        bar.close()
        if db.is_sqlite:
            async with db.transaction() as session:
                await session.execute(sa.text("ANALYZE"))
        else:
            async with db.engine.connect() as connection:
                await connection.execution_options(isolation_level="AUTOCOMMIT")
                await connection.execute(sa.text("ANALYZE"))
    finally:
        await db.dispose()
    return counts


def review_request(n: int, persons: int, rng: random.Random) -> bytes:
    """A pharmacy purchase of 3 items by a known person; one in ten reuses a code already settled."""
    day = date(2026, 3, 1) + timedelta(days=rng.randrange(30))
    psn = rng.randrange(persons)
    lines = []
    for ln in range(3):
        code = (
            f"8{rng.randrange(1, 50_000):011d}{0:08d}"
            if rng.random() < 0.1 and ln == 0
            else f"9{n:011d}{ln:08d}"
        )
        lines.append(
            {"feedetl_sn": str(ln + 1), "med_list_codg": item(rng.randrange(ITEMS)), "chrgitm_lv": "01", "cnt": "2",
             "pric": "15.5", "det_item_fee_sumamt": "31.00", "fee_ocur_time": f"{day}T09:31:00+08:00",
             "drug_trac_codg": [code]}
        )  # fmt: skip
    claim = {
        "psn_no": f"P{psn:08d}", "gend": "12"[psn % 2], "brdy": "1960-01-01", "insutype": "310", "med_type": "41",
        "fixmedins_code": f"Y{n % PHARMACIES:06d}", "fixmedins_type": "pharmacy", "hosp_lv": None,
        "admdvs": "420100", "mdtrt_id": None, "begntime": f"{day}T09:30:00+08:00", "endtime": None,
        "dise_codg": None, "medfee_sumamt": "93.00", "lines": lines,
    }  # fmt: skip
    return json.dumps({"stage": "in", "claim": claim}).encode()


def settled_event(n: int, persons: int, rng: random.Random) -> tuple[str, bytes]:
    """settlement.settled for an inpatient stay (60 %) or an outpatient visit, as settlement publishes it."""
    inpatient = rng.random() < 0.6
    begin = date(2026, 3, 1) + timedelta(days=rng.randrange(28))
    end = begin + timedelta(days=3) if inpatient else None
    amount = "8000.00" if inpatient else "120.00"
    fund = "4800.00" if inpatient else "36.00"
    zero = "0.00"
    line = {"feedetl_sn": "1", "med_list_codg": item(rng.randrange(ITEMS)), "medins_list_codg": None,
            "chrgitm_lv": "01", "cnt": "1", "pric": amount, "det_item_fee_sumamt": amount,
            "fulamt_ownpay_amt": zero, "overlmt_amt": zero, "preselfpay_amt": zero, "inscp_scp_amt": amount,
            "fee_ocur_time": f"{begin}T09:00:00+08:00", "drug_trac_codg": [], "notes": []}  # fmt: skip
    settled_on = end or begin
    data = {
        "setl_id": f"B{n:010d}", "medins_setl_id": f"BM{n}", "mdtrt_id": f"BT{n}",
        "psn_no": f"P{rng.randrange(persons):08d}", "insutype": "310", "med_type": "21" if inpatient else "11",
        "fixmedins_code": f"H{n % HOSPITALS:06d}", "fixmedins_type": "hospital", "hosp_lv": 1 + n % 3,
        "admdvs": "420100", "begntime": f"{begin}T08:00:00+08:00",
        "endtime": f"{end}T10:00:00+08:00" if end else None, "dise_codg": f"I{n % CATEGORIES:02d}.000",
        "setl_time": f"{settled_on}T11:00:00+08:00", "business_date": settled_on.isoformat(), "policy_version": 1,
        "medfee_sumamt": amount, "fulamt_ownpay_amt": zero, "overlmt_selfpay": zero, "preselfpay_amt": zero,
        "inscp_scp_amt": amount, "act_pay_dedc": zero, "hifp_pay": fund, "hifmi_pay": zero, "hifob_pay": zero,
        "maf_pay": zero, "fund_pay_sumamt": fund, "psn_part_amt": "3200.00" if inpatient else "84.00",
        "acct_pay": zero, "acct_mulaid_pay": zero, "psn_cash_pay": "3200.00" if inpatient else "84.00",
        "balc": zero, "mulaid_psn_no": None, "review": "passed", "incentive_raise_used": False,
        "setldetail": [], "feedetail": [line],
    }  # fmt: skip
    event_id = str(uuid.uuid4())
    envelope = {"id": event_id, "type": Subject.SETTLED, "source": "settlement", "time": NOW.isoformat(),
                "subject": data["setl_id"], "version": 1, "data": data}  # fmt: skip
    return event_id, json.dumps(envelope).encode()


def percentile(values: list[float], fraction: float) -> float:
    return values[min(len(values) - 1, max(0, round(fraction * len(values)) - 1))]


async def drive_reviews(nats_url: str, bodies: list[bytes], concurrency: int, label: str) -> dict[str, Any]:
    client = await nats.connect(nats_url)
    latencies: list[float] = []
    blocked = timeouts = 0
    bar = ProgressBar(len(bodies), label=label)
    queue = iter(bodies)

    async def worker() -> None:
        nonlocal blocked, timeouts
        for body in queue:
            began = time.perf_counter()
            try:
                reply = await client.request(FRAUD_REVIEW_SUBJECT, body, timeout=2.0)
            except Exception:
                timeouts += 1
                latencies.append(2000.0)
                bar.advance()
                continue
            latencies.append((time.perf_counter() - began) * 1000)
            if any(hit["severity"] == "block" for hit in json.loads(reply.data)["hits"]):
                blocked += 1
            bar.advance()

    started = time.perf_counter()
    try:
        await asyncio.gather(*(worker() for _ in range(concurrency)))
    finally:
        elapsed = time.perf_counter() - started
        await client.close()
        bar.close()
    latencies.sort()
    return {
        "concurrency": concurrency,
        "reviews": len(bodies),
        "per_second": len(bodies) / elapsed,
        "p50_ms": percentile(latencies, 0.5),
        "p95_ms": percentile(latencies, 0.95),
        "p99_ms": percentile(latencies, 0.99),
        "over_150ms": sum(1 for latency in latencies if latency > 150),
        "blocked": blocked,
        "no_answer": timeouts,
    }


async def post_event_rate(nats_url: str, db_url: str, events: list[tuple[str, bytes]]) -> dict[str, Any]:
    db = Database.from_url(db_url)
    client = await nats.connect(nats_url)
    try:
        js = client.jetstream()

        async def applied() -> int:
            async with db.transaction(readonly=True) as session:
                found = await session.scalar(
                    sa.select(sa.func.count()).where(inbox_event.c.consumer == "fraud-settlement")
                )
            return int(found or 0)

        before = await applied()
        started = time.perf_counter()
        for event_id, payload in events:
            await js.publish(Subject.SETTLED, payload, headers={"Nats-Msg-Id": event_id})
        published = time.perf_counter() - started
        bar = ProgressBar(len(events), label="post-event")
        done = 0
        while done < len(events):
            await asyncio.sleep(0.2)
            now_done = await applied() - before
            bar.advance(now_done - done)
            done = now_done
            if time.perf_counter() - started > 600:
                break
        bar.close()
        elapsed = time.perf_counter() - started
        async with db.transaction(readonly=True) as session:
            raised = await session.scalar(sa.text("SELECT count(*) FROM finding"))
    finally:
        await client.close()
        await db.dispose()
    return {
        "events": len(events),
        "applied": done,
        "seconds": elapsed,
        "publish_seconds": published,
        "per_second": done / elapsed if elapsed else 0.0,
        "findings_raised": int(raised or 0),
    }


def wait_ready(url: str, timeout: float = 120) -> None:
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
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--persons", type=int, default=100_000)
    parser.add_argument("--lines", type=int, default=1_000_000, help="history fee lines to seed")
    parser.add_argument("--reviews", type=int, default=3000, help="per concurrency level")
    parser.add_argument("--levels", default="1,8", help="concurrency levels of the review")
    parser.add_argument(
        "--events", type=int, default=3000, help="settlement.settled events for the post rate"
    )
    parser.add_argument("--postgres", metavar="ADMIN_URL", help="run on PostgreSQL instead of SQLite")
    parser.add_argument("--out", type=Path, default=Path("var/bench/fraud.json"))
    args = parser.parse_args()
    rng = random.Random(20261123)  # noqa: S311 - reproducible synthetic data, not secrets
    levels = [int(level) for level in args.levels.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        if args.postgres:
            from common.pgdev import drop_databases, ensure_databases

            drop_databases(args.postgres, "ybj_bench_")
            url = ensure_databases(args.postgres, "ybj_bench_").urls["fraud"]
        else:
            url = f"sqlite+aiosqlite:///{root / 'fraud.db'}"
        upgrade("fraud", url)
        seed_started = time.perf_counter()
        history = asyncio.run(seed(url, args.persons, args.lines, rng))
        seed_seconds = time.perf_counter() - seed_started
        server = EmbeddedNats(port=free_port(), store_dir=root / "nats")
        server.start()
        port = free_port()
        env = {
            **os.environ,
            "VAR_DIR": str(root),
            "NATS_URL": server.url,
            "INTERNAL_SECRET": SECRET,
            "LOG_LEVEL": "WARNING",
            "FRAUD_PORT": str(port),
            "FRAUD_DATABASE_URL": url,
        }
        process = subprocess.Popen(
            [sys.executable, "-m", "common.serve", "fraud", "--no-migrate"],
            env=env,
            stdout=(root / "fraud.log").open("ab"),
            stderr=subprocess.STDOUT,
        )
        reviews: list[dict[str, Any]] = []
        try:
            wait_ready(f"http://127.0.0.1:{port}")
            serial = 0
            warm = [review_request(serial + n, args.persons, rng) for n in range(200)]
            serial += len(warm)
            asyncio.run(drive_reviews(server.url, warm, 4, "warm-up"))
            for level in levels:
                bodies = [review_request(serial + n, args.persons, rng) for n in range(args.reviews)]
                serial += len(bodies)
                reviews.append(asyncio.run(drive_reviews(server.url, bodies, level, f"review c={level}")))
            events = [settled_event(n, args.persons, rng) for n in range(args.events)]
            post = asyncio.run(post_event_rate(server.url, url, events))
        finally:
            process.terminate()
            process.wait(timeout=30)
            server.stop()
    backend = "postgresql" if args.postgres else "sqlite"
    print(
        f"\nfraud benchmark ({backend}; history: {history['persons']:,} persons, {history['claims']:,} settlements, "
        f"{history['lines']:,} lines, {history['trace_codes']:,} trace codes; seeded in {seed_seconds:.0f}s)"
    )
    print("  fraud.review over NATS request/reply (4 in-rules enabled, pharmacy claims of 3 lines)")
    print(
        f"  {'concurrency':>11}{'req/s':>10}{'p50 ms':>10}{'p95 ms':>10}{'p99 ms':>10}{'>150ms':>8}{'blocked':>9}"
    )
    for row in reviews:
        print(
            f"  {row['concurrency']:>11}{row['per_second']:>10,.0f}{row['p50_ms']:>10.1f}{row['p95_ms']:>10.1f}"
            f"{row['p99_ms']:>10.1f}{row['over_150ms']:>8}{row['blocked']:>9}"
        )
    print("  budget (DESIGN §7): settlement waits at most 150 ms")
    print(
        f"  post-event: {post['applied']:,}/{post['events']:,} settlement.settled applied in {post['seconds']:.1f}s "
        f"= {post['per_second']:,.0f} events/s (projection + 6 post rules + findings; {post['findings_raised']:,} "
        "findings raised)"
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "backend": backend,
                "history": history,
                "seed_seconds": seed_seconds,
                "review": reviews,
                "post_event": post,
            },
            indent=2,
        )
    )
    print(f"  results written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
