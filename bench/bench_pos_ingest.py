"""Benchmark of POS sales ingest: POST /sales in batches of 500 lines to the pricing service alone.

    python bench/bench_pos_ingest.py [--postgres ADMIN_URL] [--requests 200] [--connections 4]
                                     [--batch 500] [--drugs 2000] [--pharmacies 200] [--replay 0.0]
                                     [--profile OUT.txt] [--keep]

The pricing service runs as a uvicorn subprocess (`python -m common.serve pricing`) on a fresh database: on
PostgreSQL `ybj_posbench_pricing` (dropped at the end unless --keep), else a SQLite file. Drugs, pharmacies
(in 4 regions) and every pharmacy's latest price of a fifth of the drugs are seeded, and the reference prices
rebuilt from them, so the uploads find references, move them, and raise some alerts. The driver (this
process, aiohttp, `connections` at once) signs each request as the pharmacy's POS, as the gateway would, and
posts uploads shaped like bench/_loadgen.py's `_sales_factory` (prices near the drug's own, a few far above),
built before the clock starts.

Printed: lines/s, ms per request (mean, p50, p95), and the service process's CPU ms per request (user +
system from /proc, the figure that decides how many lines/s two cores can take). `--profile OUT` runs the
service under `py-spy record --format raw` (collapsed stacks in OUT) and prints the top frames by own and by
total time. `--replay` re-sends that share of the uploads unchanged (answered as replays).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import sqlalchemy as sa

from common.config import DEV_INTERNAL_SECRET
from common.db import Database, table_of
from common.embedded_nats import free_port
from common.migrations import upgrade
from common.principal import Principal, Role, sign_principal
from pricing.models import Drug, LatestPrice, Pharmacy
from pricing.service.reference import recompute
from pricing.uow import PricingUnitOfWork

REGIONS = ("420100", "420102", "429006", "500000")
PREFIX = "ybj_posbench_"
ROOT = Path(__file__).resolve().parent.parent


def drug_price_fen(d: int) -> int:
    return 500 + (d * 37) % 9500


async def seed(url: str, *, drugs: int, pharmacies: int, now: datetime) -> None:
    """Drugs, pharmacies, a fifth of the drugs priced at every pharmacy, and the references rebuilt."""
    db = Database.from_url(url)
    rng = random.Random(7)  # noqa: S311 - synthetic data
    try:
        async with db.transaction() as session:
            await session.execute(
                sa.insert(table_of(Drug)),
                [
                    {
                        "med_list_codg": f"XC{d:015d}",
                        "generic_name": f"药品{d}",
                        "spec": "10mg*10片",
                        "listing_price_micro": drug_price_fen(d) * 12_000,
                        # A third under centralised procurement: 1.5 × that price is the red line.
                        "procurement_price_micro": drug_price_fen(d) * 8_000 if d % 3 == 0 else None,
                        "updated_at": now,
                    }
                    for d in range(drugs)
                ],
            )
            await session.execute(
                sa.insert(table_of(Pharmacy)),
                [
                    {
                        "fixmedins_code": f"P4201{p:07d}",
                        "fixmedins_name": f"药店{p}",
                        "admdvs": REGIONS[p % len(REGIONS)],
                        "status": "active",
                        "changed_at": now,
                    }
                    for p in range(pharmacies)
                ],
            )
            rows = [
                {
                    "med_list_codg": f"XC{d:015d}",
                    "admdvs": REGIONS[p % len(REGIONS)],
                    "fixmedins_code": f"P4201{p:07d}",
                    "price_micro": (drug_price_fen(d) + rng.choice((0, 0, 10, 30))) * 10_000,
                    "observed_at": now - timedelta(days=rng.randrange(20), minutes=rng.randrange(600)),
                }
                for d in range(0, drugs, 5)
                for p in range(pharmacies)
            ]
            for start in range(0, len(rows), 5000):
                await session.execute(sa.insert(table_of(LatestPrice)), rows[start : start + 5000])
        async with PricingUnitOfWork(db) as uow:
            await recompute(uow=uow, window_days=30, now=now, rebuild=True)
    finally:
        await db.dispose()


def uploads(
    *, requests: int, batch: int, drugs: int, pharmacies: int, replay: float, now: datetime
) -> list[tuple[str, bytes]]:
    """(pharmacy, JSON body) of each upload, as `_sales_factory` shapes them; `replay`: a share sent twice."""
    rng = random.Random(20261207)  # noqa: S311 - synthetic load
    tag = f"{int(time.time()) % 100000:05d}"
    made: list[tuple[str, bytes]] = []
    for n in range(requests):
        if made and rng.random() < replay:
            made.append(rng.choice(made))
            continue
        code = f"P4201{rng.randrange(pharmacies):07d}"
        sales = []
        for line in range(batch):
            d = rng.randrange(drugs)
            price_fen = drug_price_fen(d)
            price_fen += rng.choice((0, 0, 0, 10, 30, price_fen // 10, price_fen // 2))
            sales.append(
                {
                    "sale_id": f"S{tag}{n:08d}{line:04d}",
                    "med_list_codg": f"XC{d:015d}",
                    "finl_trns_pric": f"{price_fen // 100}.{price_fen % 100:02d}",
                    "cnt": str(rng.randint(1, 3)),
                    "sel_time": (now - timedelta(minutes=rng.randrange(1, 600))).isoformat(),
                    "drug_trac_codg": [f"8{rng.randrange(10**19):019d}"] if rng.random() < 0.3 else [],
                }
            )
        made.append((code, json.dumps({"fixmedins_code": code, "sales": sales}).encode()))
    return made


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its waited-for children, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def service_pid(parent: int) -> int:
    """The python process serving: py-spy's child when profiled, else the process started."""
    children = Path(f"/proc/{parent}/task/{parent}/children")
    if children.exists():
        kids = children.read_text().split()
        if kids:
            return int(kids[0])
    return parent


async def wait_ready(base_url: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    async with aiohttp.ClientSession(base_url) as session:
        while True:
            with contextlib.suppress(aiohttp.ClientError, OSError):
                async with session.get("/healthz") as response:
                    if response.status < 500:
                        return
            if time.monotonic() > deadline:
                raise RuntimeError("the pricing service did not start")
            await asyncio.sleep(0.2)


async def drive(
    base_url: str, bodies: list[tuple[str, bytes]], *, connections: int, warmup: int, secret: str
) -> dict[str, Any]:
    """Post the uploads over `connections` connections; the first `warmup` are not measured."""
    latencies: list[float] = []
    statuses: Counter[str] = Counter()
    replays = 0
    failures: list[str] = []
    queue: asyncio.Queue[tuple[int, str, bytes]] = asyncio.Queue()
    for position, (code, body) in enumerate(bodies):
        queue.put_nowait((position, code, body))
    connector = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(base_url, connector=connector) as session:

        async def worker() -> None:
            nonlocal replays
            while not queue.empty():
                position, code, body = queue.get_nowait()
                principal = Principal(client_id=f"pos-{code}", role=Role.POS, scope=code)
                headers = sign_principal(
                    principal, secret=secret, method="POST", path="/sales", now=datetime.now(UTC)
                )
                headers["Content-Type"] = "application/json"
                began = time.perf_counter()
                async with session.post("/sales", data=body, headers=headers) as response:
                    payload = await response.read()
                    status = response.status
                elapsed = (time.perf_counter() - began) * 1000
                if position < warmup:
                    continue
                latencies.append(elapsed)
                statuses[str(status)] += 1
                if status == 200:
                    replays += payload.count(b'"replay":true')
                elif len(failures) < 3:
                    failures.append(f"{status}: {payload[:300].decode(errors='replace')}")

        await asyncio.gather(*(worker() for _ in range(connections)))
    return {"latencies": latencies, "statuses": dict(statuses), "replays": replays, "failures": failures}


def summarise_profile(path: Path, top: int = 25) -> None:
    """The top frames of py-spy's collapsed stacks: by own time and by total (inclusive) time."""
    own: Counter[str] = Counter()
    total: Counter[str] = Counter()
    samples = 0
    for raw in path.read_text().splitlines():
        stack, _, count_text = raw.rpartition(" ")
        if not stack:
            continue
        count = int(count_text)
        samples += count
        frames = [frame.split(" (", 1)[0] + " " + _where(frame) for frame in stack.split(";")]
        own[frames[-1]] += count
        for frame in set(frames):
            total[frame] += count
    print(f"\nprofile: {samples} samples")
    for title, counter in (("own", own), ("total", total)):
        print(f"  top by {title} time")
        for frame, count in counter.most_common(top):
            print(f"    {100 * count / max(samples, 1):5.1f}%  {frame}")


def _where(frame: str) -> str:
    if " (" not in frame:
        return ""
    location = frame.split(" (", 1)[1].rstrip(")")
    parts = location.split("/")
    return "(" + "/".join(parts[-2:]) + ")"


async def in_process(url: str, bodies: list[tuple[str, bytes]], *, warmup: int, profile: Path | None) -> None:
    """The route's work without HTTP: parse, record (one unit of work), answer; timed per stage (one at a time)."""
    import cProfile
    import pstats

    from common.clock import SystemClock

    # The route's own steps (the route itself needs a request): its lines, the recording, its answer.
    from pricing.api.sales import sale_lines, sales_answer
    from pricing.schemas.monitoring import SalesIn
    from pricing.service.observations import record_sales

    db = Database.from_url(url)
    clock = SystemClock()
    statements: Counter[str] = Counter()
    statement_s: Counter[str] = Counter()
    if os.environ.get("POSBENCH_SQL"):
        from sqlalchemy import event

        @event.listens_for(db.engine.sync_engine, "before_cursor_execute")
        def _before(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
            conn.info["began"] = time.perf_counter()

        @event.listens_for(db.engine.sync_engine, "after_cursor_execute")
        def _after(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
            key = " ".join(statement.split())[:110]
            statements[key] += 1
            statement_s[key] += time.perf_counter() - conn.info["began"]

    stages: dict[str, list[float]] = {"parse": [], "record": [], "answer": []}
    profiler = cProfile.Profile() if profile else None
    try:
        for position, (_code, body) in enumerate(bodies):
            if profiler and position == warmup:
                profiler.enable()
            t0 = time.perf_counter()
            parsed = SalesIn.model_validate_json(body)
            lines = sale_lines(parsed)
            t1 = time.perf_counter()
            async with PricingUnitOfWork(db) as uow:
                recorded = await record_sales(
                    uow=uow, fixmedins_code=parsed.fixmedins_code, lines=lines, clock=clock
                )
            t2 = time.perf_counter()
            sales_answer(parsed.fixmedins_code, recorded.outcomes)
            t3 = time.perf_counter()
            if position >= warmup:
                stages["parse"].append(t1 - t0)
                stages["record"].append(t2 - t1)
                stages["answer"].append(t3 - t2)
    finally:
        if profiler:
            profiler.disable()
        await db.dispose()
    print("\nin-process, one upload at a time (ms per upload, mean / p50)")
    for stage, values in stages.items():
        ordered = sorted(values)
        print(f"  {stage:<8}{1000 * statistics.fmean(values):8.2f} {1000 * ordered[len(ordered) // 2]:8.2f}")
    for key, seconds in statement_s.most_common(25):
        print(f"  {1000 * seconds / len(bodies):7.2f} ms/upload {statements[key] / len(bodies):5.1f}x  {key}")
    if profiler and profile:
        profiler.dump_stats(str(profile))
        pstats.Stats(str(profile)).sort_stats("tottime").print_stats(30)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", metavar="ADMIN_URL", help="run on PostgreSQL instead of SQLite")
    parser.add_argument("--requests", type=int, default=200, help="uploads measured")
    parser.add_argument("--warmup", type=int, default=20, help="uploads sent first, not measured")
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--drugs", type=int, default=2000)
    parser.add_argument("--pharmacies", type=int, default=200)
    parser.add_argument("--replay", type=float, default=0.0, help="share of uploads sent again unchanged")
    parser.add_argument("--profile", type=Path, help="py-spy collapsed stacks of the service to this file")
    parser.add_argument("--keep", action="store_true", help="keep the PostgreSQL database")
    parser.add_argument(
        "--in-process",
        action="store_true",
        help="no HTTP: time parse / record / answer (cProfile: --profile)",
    )
    args = parser.parse_args()
    now = datetime.now(UTC).replace(microsecond=0)
    with tempfile.TemporaryDirectory() as tmp:
        if args.postgres:
            from common.pgdev import drop_databases, ensure_databases

            drop_databases(args.postgres, PREFIX)
            url = ensure_databases(args.postgres, PREFIX).urls["pricing"]
        else:
            url = f"sqlite+aiosqlite:///{Path(tmp) / 'pricing.db'}"
        try:
            upgrade("pricing", url)
            started = time.perf_counter()
            asyncio.run(seed(url, drugs=args.drugs, pharmacies=args.pharmacies, now=now))
            print(f"seeded in {time.perf_counter() - started:.1f}s", file=sys.stderr)
            bodies = uploads(
                requests=args.warmup + args.requests,
                batch=args.batch,
                drugs=args.drugs,
                pharmacies=args.pharmacies,
                replay=args.replay,
                now=now,
            )
            if args.in_process:
                asyncio.run(in_process(url, bodies, warmup=args.warmup, profile=args.profile))
                return 0
            port = free_port()
            env = os.environ | {
                "PRICING_DATABASE_URL": url,
                "PRICING_PORT": str(port),
                "PRICING_RELAY_ENABLED": "false",
                "PRICING_CONSUMERS_ENABLED": "false",
                "NATS_URL": f"nats://127.0.0.1:{free_port()}",
                "APP_ENV": "test",
                "LOG_LEVEL": "WARNING",
                "INTERNAL_SECRET": DEV_INTERNAL_SECRET,
                "PYTHONPATH": os.pathsep.join([str(ROOT / "services"), str(ROOT / "libs")]),
            }
            command = [sys.executable, "-m", "common.serve", "pricing", "--no-migrate"]
            if args.profile:
                py_spy = str(Path(sys.executable).parent / "py-spy")
                command = [py_spy, "record", "--format", "raw", "-r", "200", "-o", str(args.profile), "--"]
                command += [sys.executable, "-m", "common.serve", "pricing", "--no-migrate"]
            server = subprocess.Popen(command, env=env, cwd=ROOT)  # noqa: S603 - our own command line
            try:
                base_url = f"http://127.0.0.1:{port}"
                asyncio.run(wait_ready(base_url))
                pid = service_pid(server.pid)
                warm = bodies[: args.warmup]
                asyncio.run(
                    drive(base_url, warm, connections=args.connections, warmup=0, secret=DEV_INTERNAL_SECRET)
                )
                cpu_before, wall_before = cpu_seconds(pid), time.perf_counter()
                result = asyncio.run(
                    drive(
                        base_url,
                        bodies[args.warmup :],
                        connections=args.connections,
                        warmup=0,
                        secret=DEV_INTERNAL_SECRET,
                    )
                )
                wall = time.perf_counter() - wall_before
                cpu = cpu_seconds(pid) - cpu_before
            finally:
                server.send_signal(signal.SIGINT)
                try:
                    server.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    server.kill()
                    server.wait()
        finally:
            if args.postgres and not args.keep:
                from common.pgdev import drop_databases

                drop_databases(args.postgres, PREFIX)
    latencies = sorted(result["latencies"])
    measured = len(latencies)
    lines = measured * args.batch
    print(
        f"\nPOS ingest ({'postgresql' if args.postgres else 'sqlite'}), batches of {args.batch}, "
        f"{args.connections} connections, {measured} uploads"
    )
    print(f"  statuses                    {result['statuses']}  (replayed lines {result['replays']})")
    for failure in result["failures"]:
        print(f"  failure: {failure}")
    print(f"  lines/s                     {lines / wall:>10,.0f}")
    print(f"  ms per request (mean)       {statistics.fmean(latencies):>10.1f}")
    print(
        f"  ms per request (p50 / p95)  {latencies[measured // 2]:>6.1f} / {latencies[int(measured * 0.95)]:.1f}"
    )
    print(f"  service CPU ms per request  {1000 * cpu / measured:>10.1f}")
    print(f"  lines/s per service core    {lines / cpu if cpu else 0:>10,.0f}")
    if args.profile and args.profile.exists():
        summarise_profile(args.profile)
    return 0


if __name__ == "__main__":
    sys.exit(main())
