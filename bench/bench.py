"""`make bench` / `make bench-pg`: the whole platform measured against the targets of DESIGN.md §11.

    python bench/bench.py [--postgres ADMIN_URL] [--persons 100000] [--quick] [--profile]

1. Starts the real stack (embedded NATS and the five services as processes, one uvicorn worker each), on
   SQLite under var/bench/sqlite/ or, with --postgres, in fresh databases ybj_benchstack_<service> on that
   server (dropped and created again on every run).
2. Loads a city of --persons insured persons through the gateway's public APIs, with real API keys.
3. Through the gateway, from load-generator processes of their own (never an event loop shared with a
   service): eligibility look-ups, pre-settlements, then one-call 10-line settlements at rising
   concurrency (fraud's real-time review on), each step sustained for a fixed time. The claims' lines are
   ones a real visit could have (the catalogue's gender, age and quantity limits; no item twice). With
   --postgres, each settle level is first run against the floor (bench/floor.py: the same claims on bare
   asyncpg, no gateway, review or consumers); each settle row shows its ratio to the floor.
4. Event lag, exactly: each settlement.settled outbox row (created_at) joined on event_id to the inbox row
   of fraud's and pricing's consumer (received_at); and every settlement reached both exactly once.
5. POS sales ingest through the gateway (batches of 500 lines), then each service's peak resident memory
   (VmHWM of its process).
6. Day close of 1,000,000 settlements and month reconciliation of 3,000,000, and the reference prices of
   10,000 drugs × 2,000 pharmacies, each in a database of its own filled for it (setup, not measured).
7. Payment by points (bench_points.py): DIP and DRG grouping of 200,000 cases in memory, and the year
   clearing (年清算) of 500,000 inpatient cases at 300 hospitals in a database filled for it, on PostgreSQL
   (--postgres, else TEST_POSTGRES_URL when set); without one, at 100,000 cases on SQLite, labelled so.

Prints one table (metric | measured | target | met?) and writes var/bench/results-<backend>.json.
Figures only: nothing is asserted. --quick runs small sizes in about two minutes (a smoke test).
--profile records py-spy profiles of the services during an extra top-concurrency settlement step.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import _city
import _measure
import _profiles
import _stack
import bench_periods
import bench_points
import bench_pricing
import bench_replicas
import floor
import httpx
import sqlalchemy as sa

from common.clock import SHANGHAI
from common.db import Database
from common.embedded_nats import free_port
from common.logs import configure_logging
from common.migrations import upgrade


@dataclass
class Sizes:
    persons: int
    levels: list[int]
    step_s: float
    warmup_s: float
    lookup_connections: int
    presettle_visits: int
    sales_connections: int
    sales_batch: int
    day_close: int
    month: int
    drugs: int
    pharmacies: int
    points_cases: int
    clearing_cases: int | None  # None: bench_points.plan_clearing's size for the backend it finds
    clearing_hospitals: int

    @classmethod
    def of(cls, args: argparse.Namespace) -> Sizes:
        quick = args.quick
        sizes = cls(
            persons=2_000 if quick else 100_000,
            levels=[1, 8] if quick else [1, 8, 32, 64],
            step_s=3.0 if quick else 20.0,
            warmup_s=1.0 if quick else 3.0,
            lookup_connections=8 if quick else 32,
            presettle_visits=20 if quick else 200,
            sales_connections=2 if quick else 4,
            sales_batch=100 if quick else 500,
            day_close=20_000 if quick else 1_000_000,
            month=62_000 if quick else 3_000_000,
            drugs=200 if quick else 10_000,
            pharmacies=100 if quick else 2_000,
            points_cases=5_000 if quick else 200_000,
            clearing_cases=None,
            clearing_hospitals=30 if quick else 300,
        )
        for name in (
            "persons",
            "step_s",
            "warmup_s",
            "day_close",
            "month",
            "drugs",
            "pharmacies",
            "points_cases",
            "clearing_cases",
            "clearing_hospitals",
        ):
            value = getattr(args, name)
            if value is not None:
                setattr(sizes, name, value)
        if args.levels:
            sizes.levels = [int(level) for level in args.levels.split(",")]
        return sizes


@dataclass
class Metric:
    name: str
    label: str
    value: float
    unit: str
    target: str = ""
    met: bool | None = None  # None: no target, or measured at another size than the target's
    vs_floor: float | None = None  # settle rows: real / floor of the same measure at the same concurrency


class Results:
    def __init__(self) -> None:
        self.metrics: list[Metric] = []
        self.details: dict[str, Any] = {}

    def add(
        self,
        name: str,
        label: str,
        value: float,
        unit: str,
        *,
        at_least: float | None = None,
        at_most: float | None = None,
        target: str = "",
        applies: bool = True,
        vs_floor: float | None = None,
    ) -> None:
        met = None
        if applies and not (isinstance(value, float) and math.isnan(value)):
            if at_least is not None:
                met = value >= at_least
            elif at_most is not None:
                met = value <= at_most
        self.metrics.append(Metric(name, label, value, unit, target, met, vs_floor))


def _now_shanghai() -> datetime:
    return datetime.now(SHANGHAI).replace(microsecond=0)


def _settle_work(city: _city.CityWork, limits: dict[str, Any] | None = None) -> dict[str, Any]:
    now = _now_shanghai()
    return {
        "institutions": city.institutions,
        "persons": city.claimants,
        "hospital_items": city.hospital_items,
        "pharmacy_items": city.pharmacy_items,
        "begntime": (now - timedelta(minutes=30)).isoformat(),
        "fee_time": (now - timedelta(minutes=20)).isoformat(),
        **(limits or {}),
    }


def _line_limits(settlement_url: str, claimants: list[list[str]]) -> dict[str, Any]:
    """What a real visit respects: each limited item's gender and ages, each claimant's gender and age.

    The load generator draws only lines the person may have, never one item twice in a claim and never more
    of it than max_cnt_per_visit, so no settle row carries GENDER_LIMIT, AGE_LIMIT or OVER_QUANTITY lines by
    accident.
    """

    async def read() -> dict[str, Any]:
        db = Database.from_url(settlement_url)
        try:
            async with db.transaction(readonly=True) as session:
                items = (
                    await session.execute(
                        sa.text(
                            "SELECT med_list_codg, gend_lmt, age_min, age_max, max_cnt_per_visit "
                            "FROM catalog_item WHERE gend_lmt IS NOT NULL OR age_min IS NOT NULL "
                            "OR age_max IS NOT NULL OR max_cnt_per_visit IS NOT NULL"
                        )
                    )
                ).all()
                people = (
                    await session.execute(sa.text("SELECT psn_no, gend, brdy FROM insured_person"))
                ).all()
        finally:
            await db.dispose()
        today = _now_shanghai().date()
        wanted = {psn_no for psn_no, _ in claimants}
        traits = {}
        for psn_no, gend, brdy in people:
            if psn_no in wanted:
                born = brdy if isinstance(brdy, date) else date.fromisoformat(str(brdy))
                age = today.year - born.year - ((today.month, today.day) < (born.month, born.day))
                traits[psn_no] = [gend, age]
        return {
            "item_limits": {
                code: [gend, low, high, None if most is None else int(Decimal(most))]
                for code, gend, low, high, most in items
            },
            "person_traits": traits,
        }

    return asyncio.run(read())


def _prepare_visits(gateway: str, city: _city.CityWork, count: int, seed: int) -> list[list[str]]:
    """Visits with 10 fee lines each, registered through the gateway, for the pre-settlement step."""
    rng = random.Random(seed)  # noqa: S311 - synthetic data
    hospitals = city.keys("hospital")
    now = _now_shanghai()
    visits = []
    with httpx.Client(base_url=gateway, timeout=30) as client:
        for n in range(count):
            code, key = hospitals[n % len(hospitals)]
            psn_no, insutype = rng.choice(city.claimants)
            headers = {"Authorization": f"Bearer {key}"}
            visit = client.post(
                "/settlement/visits",
                headers=headers,
                json={
                    "fixmedins_code": code,
                    "psn_no": psn_no,
                    "insutype": insutype,
                    "med_type": "11",
                    "begntime": (now - timedelta(minutes=30)).isoformat(),
                },
            )
            if visit.status_code != 201:
                raise RuntimeError(f"visit refused: {visit.status_code} {visit.text[:300]}")
            mdtrt_id = visit.json()["mdtrt_id"]
            lines = []
            for sn in range(1, 11):
                item, price_fen = rng.choice(city.hospital_items)
                lines.append(
                    {
                        "feedetl_sn": str(sn),
                        "med_list_codg": item,
                        "cnt": "1",
                        "pric": f"{price_fen // 100}.{price_fen % 100:02d}",
                        "det_item_fee_sumamt": f"{price_fen // 100}.{price_fen % 100:02d}",
                        "fee_ocur_time": (now - timedelta(minutes=20)).isoformat(),
                    }
                )
            fees = client.post(
                f"/settlement/visits/{mdtrt_id}/fee-details", headers=headers, json={"feedetail": lines}
            )
            if fees.status_code != 201:
                raise RuntimeError(f"fee details refused: {fees.status_code} {fees.text[:300]}")
            visits.append([mdtrt_id, key])
    return visits


def _ratio(real: float, base: float) -> float:
    return round(real / base, 3) if base and not math.isnan(base) and not math.isnan(real) else math.nan


def _vs_floor(run: dict[str, Any], floor_steps: dict[int, dict[str, Any]], measure: str) -> float | None:
    base = floor_steps.get(run["connections"])
    return None if base is None else _ratio(run[measure], base[measure])


def _step_row(
    results: Results, prefix: str, label: str, step: dict[str, Any], *, base: dict[str, Any] | None = None
) -> None:
    """A load step's rows; with `base` (the floor's step), each shows real / floor of its measure."""
    results.add(
        f"{prefix}_per_s",
        f"{label} throughput",
        step["per_second"],
        "req/s",
        vs_floor=None if base is None else _ratio(step["per_second"], base["per_second"]),
    )
    for q in ("p50", "p95", "p99"):
        results.add(
            f"{prefix}_{q}_ms",
            f"{label} {q}",
            step[f"{q}_ms"],
            "ms",
            vs_floor=None if base is None else _ratio(step[f"{q}_ms"], base[f"{q}_ms"]),
        )
    failed = step["requests"] - step["ok"] + sum(step["errors"].values())
    results.add(f"{prefix}_failed", f"{label} failed requests", failed, "", at_most=0, target="0")


def _profiled(
    bench: _stack.BenchStack,
    name: str,
    services: tuple[str, ...],
    seconds: float,
    step: Callable[[], dict[str, Any]],
) -> dict[str, Any]:
    """Run `step` with py-spy recording `services` (speedscope files and a text summary under profiles/)."""
    spy = Path(sys.executable).with_name("py-spy")
    if not spy.exists():
        print("  --profile: py-spy is not installed in this environment; skipped", file=sys.stderr)
        return step()
    out = bench.var_dir / "profiles"
    out.mkdir(parents=True, exist_ok=True)
    pids = bench.pids()
    spies = [
        subprocess.Popen(  # noqa: S603 - our own tool and pids
            [
                str(spy),
                "record",
                "--nonblocking",
                "-d",
                str(math.ceil(seconds)),
                "-r",
                "100",
                "-f",
                "speedscope",
                "-o",
                str(out / f"{name}-{service}.speedscope.json"),
                "--pid",
                str(pids[service]),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for service in services
    ]
    result = step()
    for process in spies:
        process.wait(120)
    summaries = [_profiles.summarise(out / f"{name}-{service}.speedscope.json") for service in services]
    (out / f"{name}-summary.txt").write_text("\n\n".join(summaries) + "\n")
    print(f"  profiles of {name} and their summary in {out}", file=sys.stderr)
    return result


def _platform_cpu(args: argparse.Namespace, bench: _stack.BenchStack) -> _measure.CpuProbe:
    """The processes whose CPU a settlement costs: each service, NATS and (on PostgreSQL) the server."""
    pids = bench.pids()
    if bench.stack.nats is not None and bench.stack.nats.process is not None:
        pids["nats"] = bench.stack.nats.process.pid
    return _measure.CpuProbe(pids, postgres=bool(args.postgres))


def _cpu_rows(results: Results, best: dict[str, Any], floor_step: dict[str, Any] | None) -> None:
    """CPU per settlement at the best rate, per process and in all (the load generator excluded)."""
    cpu = best.get("cpu_ms_per_ok") or {}
    if not cpu:
        return
    at = f"c={best['connections']}"
    for name, ms in sorted(cpu.items(), key=lambda item: -item[1]):
        results.add(f"settle_cpu_{name}_ms", f"  CPU per settlement: {name} ({at})", ms, "ms")
    results.add(
        "settle_cpu_total_ms",
        f"CPU per settlement, all processes summed ({at})",
        round(sum(cpu.values()), 2),
        "ms",
        at_most=6,
        target="<= 6 ms",
    )
    if floor_step and floor_step.get("cpu_ms_per_ok"):
        results.add(
            "floor_cpu_total_ms",
            f"  the floor's CPU per settlement, its process and PostgreSQL ({at})",
            round(sum(floor_step["cpu_ms_per_ok"].values()), 2),
            "ms",
        )


def measure_stack(
    args: argparse.Namespace, sizes: Sizes, bench: _stack.BenchStack, results: Results
) -> dict[str, Any]:
    """The platform under load through the gateway; returns the settle work (for the replicas' steps)."""
    gateway = bench.gateway_url
    city = load_city(args, sizes, bench)
    results.details["city"] = {k: v for k, v in asdict(city).items() if not isinstance(v, list)}
    results.details["city"]["institutions"] = len(city.institutions)
    results.details["city"]["claimants"] = len(city.claimants)
    results.add(
        "city_persons",
        "city: insured persons loaded through the APIs",
        city.persons,
        "",
        at_least=100_000,
        target=">= 100,000",
    )
    results.add("city_covered", "city: persons with a coverage (the claimants)", len(city.claimants), "")
    results.add("city_load_s", "city: load time through the APIs", city.load_seconds, "s")
    step = dict(duration_s=sizes.step_s, warmup_s=sizes.warmup_s)

    hospitals = city.keys("hospital")
    lookups = _measure.run_step(
        "eligibility",
        gateway,
        {
            "persons": city.claimants,
            "keys": [key for _, key in hospitals],
            "date": _now_shanghai().date().isoformat(),
        },
        connections=sizes.lookup_connections,
        label=f"eligibility c={sizes.lookup_connections}",
        seed=1,
        **step,
    )
    visits = _prepare_visits(gateway, city, sizes.presettle_visits, seed=2)
    presettle = _measure.run_step(
        "presettle",
        gateway,
        {"visits": visits},
        connections=sizes.lookup_connections,
        label=f"pre-settle c={sizes.lookup_connections}",
        seed=3,
        **step,
    )
    limits = _line_limits(bench.database_urls["settlement"], city.claimants)
    settle_work = _settle_work(city, limits)
    floor_steps: dict[int, dict[str, Any]] = {}
    floor_run = None
    if args.postgres:
        # The floor: the same claims, from the same load generator, on bare asyncpg in a database of its own
        # (settlement's schema, a copy of its reference rows), each level right before the real path's.
        dsn, copied = floor.prepare(
            args.postgres, f"{args.db_prefix}floor", bench.database_urls["settlement"]
        )
        results.details["floor_reference_rows"] = copied
        try:
            floor_run = floor.FloorProcess(dsn, free_port())
        except BaseException:
            floor.drop(args.postgres, f"{args.db_prefix}floor")
            raise
    platform_cpu = _platform_cpu(args, bench)
    floor_cpu = (
        None if floor_run is None else _measure.CpuProbe({"floor": floor_run.process.pid}, postgres=True)
    )
    settlements_before = _measure.count_settlements(bench.database_urls["settlement"])
    window_start = datetime.now(UTC)
    settle_steps = []
    try:
        for level in sizes.levels:
            if floor_run is not None:
                floor_steps[level] = _measure.run_step(
                    "settle",
                    floor_run.url,
                    settle_work,
                    connections=level,
                    label=f"floor c={level}",
                    seed=10 + level,
                    ok_status=201,
                    cpu=floor_cpu,
                    **step,
                )
            settle_steps.append(
                _measure.run_step(
                    "settle",
                    gateway,
                    settle_work,
                    connections=level,
                    label=f"settle c={level}",
                    seed=10 + level,
                    ok_status=201,
                    cpu=platform_cpu,
                    **step,
                )
            )
    finally:
        if floor_run is not None:
            floor_run.stop()
            floor.drop(args.postgres, f"{args.db_prefix}floor")
    # The latency target is at an offered 150 settlements/s, whatever the platform sustains.
    paced = _measure.run_step(
        "settle",
        gateway,
        settle_work,
        connections=32,
        label=f"settle paced {PACED_RATE}/s",
        seed=77,
        ok_status=201,
        cpu=platform_cpu,
        rate=PACED_RATE,
        **step,
    )
    settle_steps.append(paced)
    if args.profile:
        top = max(sizes.levels)
        results.details["profiled_step"] = _profiled(
            bench,
            "settle",
            ("gateway", "settlement", "fraud", "pricing", "enrollment"),
            _measure.SPAWN_S + sizes.warmup_s + sizes.step_s,
            lambda: _measure.run_step(
                "settle",
                gateway,
                settle_work,
                connections=top,
                label=f"settle c={top} pyspy",
                seed=99,
                ok_status=201,
                **step,
            ),
        )
    window_end = datetime.now(UTC)
    audit = _measure.audit_events(
        bench.database_urls,
        {service: f"http://127.0.0.1:{port}" for service, port in bench.ports.items()},
        window=(window_start, window_end),
        timeout_s=60 + sum(s["ok"] for s in settle_steps) / 100,
        steps={
            **{f"c={run['connections']}": tuple(run["window"]) for run in settle_steps[:-1]},
            "paced": tuple(paced["window"]),
        },
    )
    sales_work = {
        "pharmacies": city.keys("pharmacy"),
        "drugs": city.pharmacy_items,
        "batch": sizes.sales_batch,
        "sel_time": (_now_shanghai() - timedelta(minutes=5)).isoformat(),
    }
    sales = _measure.run_step(
        "sales",
        gateway,
        sales_work,
        connections=sizes.sales_connections,
        label=f"POS ingest c={sizes.sales_connections}",
        seed=4,
        **step,
    )
    if args.profile:
        results.details["profiled_sales"] = _profiled(
            bench,
            "sales",
            ("gateway", "pricing"),
            _measure.SPAWN_S + sizes.warmup_s + sizes.step_s,
            lambda: _measure.run_step(
                "sales",
                gateway,
                sales_work,
                connections=sizes.sales_connections,
                label="POS ingest pyspy",
                seed=5,
                **step,
            ),
        )
    memory = _measure.peak_memory_mb(bench.pids())

    results.details.update(
        eligibility=lookups,
        presettle=presettle,
        settlement=settle_steps,
        floor=list(floor_steps.values()),
        events={
            **asdict(audit),
            "settlements_before_load": settlements_before,
            "settlements_made_by_load": sum(
                run["counts"].get("created", 0)
                for run in [*settle_steps, results.details.get("profiled_step", {"counts": {}})]
            ),
        },
        sales=sales,
        memory=memory,
    )
    for run in settle_steps[:-1]:
        level = run["connections"]
        base = floor_steps.get(level)
        if base is not None:
            _step_row(results, f"floor_c{level}", f"floor c={level} (bare asyncpg, no gateway/review)", base)
        _step_row(results, f"settle_c{level}", f"settle c={level}", run, base=base)
        if base is not None:
            results.add(
                f"settle_c{level}_floor_ratio",
                f"settle c={level} throughput / floor's",
                _ratio(run["per_second"], base["per_second"]),
                "x",
            )
        # Refused lines (GENDER_LIMIT, AGE_LIMIT, OVER_QUANTITY, NOT_IN_CATALOG) and refused claims: the
        # load plants none, so any here are the bench's own mistakes; counted apart from the rows above.
        refused = {name: count for name, count in run["counts"].items() if name.startswith("refused_")}
        results.details.setdefault("settle_refusals", {})[f"c={level}"] = refused
        if refused:
            print(f"  settle c={level}: refusals {refused}", file=sys.stderr)
    best = max(settle_steps[:-1], key=lambda run: run["per_second"])
    results.add(
        "settle_best_per_s",
        f"settle sustained (best, c={best['connections']})",
        best["per_second"],
        "req/s",
        at_least=1000,
        target=">= 1,000/s",
        vs_floor=_vs_floor(best, floor_steps, "per_second"),
    )
    results.add(
        "settle_best_p99_ms",
        f"settle p99 at that rate (c={best['connections']})",
        best["p99_ms"],
        "ms",
        at_most=100,
        target="<= 100 ms",
        vs_floor=_vs_floor(best, floor_steps, "p99_ms"),
    )
    results.add(
        "settle_best_per_s_machine",
        "  the same, against this 2-core machine's target",
        best["per_second"],
        "req/s",
        at_least=300,
        target=">= 300/s",
    )
    if best["connections"] in floor_steps:
        results.add(
            "settle_best_floor_ratio",
            "  the same, / the floor's throughput at that concurrency",
            _ratio(best["per_second"], floor_steps[best["connections"]]["per_second"]),
            "x",
            at_least=0.4,
            target=">= 0.4x",
        )
    _cpu_rows(results, best, floor_steps.get(best["connections"]))
    results.add(
        "settle_paced_per_s",
        f"settle offered {PACED_RATE}/s (c=32): answered",
        paced["per_second"],
        "req/s",
    )
    results.add(
        "settle_paced_p99_ms",
        f"settle offered {PACED_RATE}/s (c=32): p99",
        paced["p99_ms"],
        "ms",
        at_most=100,
        target="<= 100 ms",
    )
    results.add(
        "settle_paced_failed",
        f"settle offered {PACED_RATE}/s (c=32): failed requests",
        paced["requests"] - paced["ok"] + sum(paced["errors"].values()),
        "",
        at_most=0,
        target="0",
    )
    if paced.get("cpu_ms_per_ok"):
        results.add(
            "settle_paced_cpu_total_ms",
            f"settle offered {PACED_RATE}/s (c=32): CPU per settlement, all processes",
            round(sum(paced["cpu_ms_per_ok"].values()), 2),
            "ms",
            at_most=6,
            target="<= 6 ms",
        )
    for prefix, label, run in (
        ("presettle", "pre-settle", presettle),
        ("eligibility", "eligibility", lookups),
    ):
        _step_row(results, prefix, f"{label} c={run['connections']}", run)
        results.metrics[-5].target = f"> settle {best['per_second']:,.0f}/s"
        results.metrics[-5].met = run["per_second"] > best["per_second"]
    for service in _measure.CONSUMERS:
        lag = audit.lag_ms_by_step[f"c={best['connections']}"][service]
        at_rate = f"at c={best['connections']}, {best['per_second']:,.0f}/s"
        results.add(
            f"lag_{service}_p50_ms", f"event lag settlement -> {service} p50 {at_rate}", lag["p50_ms"], "ms"
        )
        results.add(
            f"lag_{service}_p99_ms",
            f"event lag settlement -> {service} p99 {at_rate}",
            lag["p99_ms"],
            "ms",
            at_most=1000,
            target="<= 1,000 ms",
        )
        overall = audit.lag_ms[service]
        results.add(
            f"lag_{service}_all_p99_ms",
            f"event lag settlement -> {service} p99, all steps",
            overall["p99_ms"],
            "ms",
        )
        if service == "fraud":  # once: where the lag begins
            relay = audit.lag_ms_by_step[f"c={best['connections']}"]["relay"]
            results.add(
                "relay_p99_ms",
                f"  of which settlement -> JetStream (outbox relay) p99 {at_rate}",
                relay["p99_ms"],
                "ms",
            )
        results.add(
            f"events_missing_{service}",
            f"settlement.settled not applied by {service} (of the {audit.wanted[service]:,} it acts on)",
            audit.wanted[service] - audit.applied[service],
            "",
            at_most=0,
            target="0 (none lost)",
        )
        results.add(
            f"events_redelivered_{service}",
            f"redeliveries {service} recognised (applied once)",
            audit.redelivered[service],
            "",
        )
    results.add(
        "events_vs_settlements",
        "settlements without exactly one settled event",
        abs(audit.settlements - audit.settled_events),
        "",
        at_most=0,
        target="0",
    )
    made = results.details["events"]["settlements_made_by_load"]
    results.add(
        "settlements_vs_answers",
        "settlements stored - 201 answers of the load",
        audit.settlements - settlements_before - made,
        "",
        at_most=0,
        target="0",
    )
    results.add(
        "events_unpublished", "outbox rows left unpublished", audit.unpublished, "", at_most=0, target="0"
    )
    lines = sales["counts"].get("lines_accepted", 0)
    results.add(
        "pos_ingest_lines_per_s",
        f"POS ingest, batches of {sizes.sales_batch}",
        round(lines / sizes.step_s),
        "lines/s",
        at_least=20_000,
        target=">= 20,000/s",
    )
    results.add(
        "pos_ingest_rejected",
        "POS lines rejected",
        sales["counts"].get("lines_rejected", 0),
        "",
        at_most=0,
        target="0",
    )
    for service, mb in memory.items():
        results.add(
            f"memory_{service}_mb",
            f"peak resident memory {service}",
            mb["peak_mb"],
            "MB",
            at_most=200,
            target="<= 200 MB",
        )
    return settle_work


def load_city(args: argparse.Namespace, sizes: Sizes, bench: _stack.BenchStack) -> _city.CityWork:
    return asyncio.run(
        _city.load(
            bench.gateway_url,
            bench.ops_key(),
            bench.database_urls,
            persons=sizes.persons,
            kind=args.city,
            covered=args.covered,
        )
    )


def measure_periods(args: argparse.Namespace, sizes: Sizes, var_dir: Path, results: Results) -> None:
    rng = random.Random(20261123)  # noqa: S311 - synthetic data
    day = date(2026, 3, 2)

    def fresh() -> tuple[str, Path | None]:
        if args.postgres:
            return bench_periods.fresh_database(args.postgres, f"{args.db_prefix}periods_"), None
        path = var_dir / "periods.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        url = f"sqlite+aiosqlite:///{path}"
        upgrade("settlement", url)
        return url, path

    def fill(url: str, path: Path | None, *, day: date, count: int, start: int, label: str) -> None:
        if path is None:
            asyncio.run(bench_periods.fill(url, day=day, count=count, start=start, rng=rng, label=label))
        else:
            bench_periods.fill_sqlite(path, day=day, count=count, start=start, rng=rng, label=label)

    url, path = fresh()
    fill(url, path, day=day, count=sizes.day_close, start=0, label=f"fill {sizes.day_close:,} for day close")
    seconds, closed = asyncio.run(bench_periods.time_close(url, day))
    results.details["day_close"] = {"settlements": closed, "seconds": round(seconds, 2)}
    results.add(
        "day_close_s",
        f"day close of {closed:,} settlements",
        round(seconds, 2),
        "s",
        at_most=10,
        target="1,000,000 in <= 10 s",
        applies=closed >= 1_000_000,
    )

    url, path = fresh()
    per_day = -(-sizes.month // 31)  # at least the size asked for
    bar_label = f"fill {per_day * 31:,} over 31 days, each closed"
    print(bar_label, file=sys.stderr)
    for index in range(31):
        on = date(2026, 3, 1) + timedelta(days=index)
        fill(url, path, day=on, count=per_day, start=index * per_day, label=f"  {on}")
        asyncio.run(bench_periods.time_close(url, on))
    seconds, _ = asyncio.run(bench_periods.time_month(url, "2026-03"))
    results.details["month_reconciliation"] = {"settlements": per_day * 31, "seconds": round(seconds, 2)}
    results.add(
        "month_s",
        f"month reconciliation of {per_day * 31:,} settlements",
        round(seconds, 2),
        "s",
        at_most=30,
        target="3,000,000 in <= 30 s",
        applies=per_day * 31 >= 3_000_000,
    )
    if path is None:
        from common.pgdev import drop_databases

        drop_databases(args.postgres, f"{args.db_prefix}periods_")
    else:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)


def measure_reference_prices(args: argparse.Namespace, sizes: Sizes, var_dir: Path, results: Results) -> None:
    if args.postgres:
        url = bench_pricing.prepare_postgres(args.postgres, f"{args.db_prefix}pricing_")
    else:
        path = var_dir / "reference-prices.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        url = f"sqlite+aiosqlite:///{path}"
    upgrade("pricing", url)
    outcome = asyncio.run(
        bench_pricing.measure_recompute(url, drugs=sizes.drugs, pharmacies=sizes.pharmacies, density=1.0)
    )
    results.details["reference_prices"] = outcome
    at_size = sizes.drugs >= 10_000 and sizes.pharmacies >= 2_000
    size = f"{sizes.drugs:,} drugs x {sizes.pharmacies:,} pharmacies"
    results.add(
        "reference_prices_s",
        f"reference prices, every one recomputed, {size}",
        outcome["recompute_s"],
        "s",
        at_most=10,
        target="10,000 x 2,000 in <= 10 s",
        applies=at_size,
    )
    if "rebuild_s" in outcome:
        results.add(
            "reference_prices_rebuild_s",
            f"reference prices, rebuilt from all latest prices, {size}",
            outcome["rebuild_s"],
            "s",
            at_most=10,
            target="10,000 x 2,000 in <= 10 s",
            applies=at_size,
        )
    if args.postgres:
        from common.pgdev import drop_databases

        drop_databases(args.postgres, f"{args.db_prefix}pricing_")
    else:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{var_dir / 'reference-prices.db'}{suffix}").unlink(missing_ok=True)


def measure_points(args: argparse.Namespace, sizes: Sizes, var_dir: Path, results: Results) -> None:
    grouping = bench_points.measure_grouping(sizes.points_cases)
    for method in ("dip", "drg"):
        results.add(
            f"points_grouping_{method}_per_s",
            f"{method.upper()} grouping and points, {sizes.points_cases:,} cases in memory",
            grouping[method]["per_s"],
            "cases/s",
            at_least=bench_points.GROUPING_TARGET,
            target=">= 20,000/s",
        )
    plan = bench_points.plan_clearing(
        postgres=args.postgres,
        quick=args.quick,
        cases=sizes.clearing_cases,
        hospital_count=sizes.clearing_hospitals,
    )
    sizes.clearing_cases = plan.cases
    clearing = bench_points.measure_clearing(
        plan, database=f"{args.db_prefix}points", sqlite_path=var_dir / "points.db"
    )
    bench_points.print_checks(clearing, stream=sys.stderr)
    results.details["points"] = {"grouping": grouping, "clearing": clearing}
    where = "PostgreSQL" if plan.backend == "postgresql" else "SQLite"
    if plan.note:
        where += ", reduced size: no PostgreSQL URL"
    results.add(
        "points_clearing_s",
        f"year clearing of {clearing['cases']:,} cases at {clearing['hospitals']} hospitals ({where})",
        clearing["seconds"],
        "s",
        at_most=bench_points.CLEARING_TARGET_S,
        target="500,000 x 300 in <= 10 s (PostgreSQL)",
        applies=plan.at_target,
    )
    results.add("points_clearing_per_s", "year clearing, cases per second", clearing["per_s"], "cases/s")
    results.add(
        "points_clearing_recompute_s", "year clearing recomputed (its draft)", clearing["recompute_s"], "s"
    )
    results.add(
        "points_budget_execution_s", "budget execution of the year", clearing["budget_execution_s"], "s"
    )
    results.add(
        "points_clearing_checks_failed",
        "year clearing checks failed (cases, lines, sum of F and W, recompute)",
        clearing["checks_failed"],
        "",
        at_most=0,
        target="0",
    )


def _fmt(value: float, unit: str) -> str:
    if isinstance(value, float) and math.isnan(value):
        return "n/a"
    if unit == "x":
        return f"{value:,.2f}x"
    if unit == "ms":
        text = f"{value:,.1f}"
    elif unit == "s":
        text = f"{value:,.2f}"
    else:
        text = f"{value:,.0f}" if float(value).is_integer() or abs(value) >= 100 else f"{value:,.1f}"
    return f"{text} {unit}".rstrip()


def print_table(results: Results, title: str) -> None:
    """The table; with a floor measured (--postgres), a last column: each settle row's real / floor."""
    floored = any(m.vs_floor is not None for m in results.metrics)
    rows = [
        (m.label, _fmt(m.value, m.unit), m.target, {True: "yes", False: "NO", None: ""}[m.met])
        + ((_fmt(m.vs_floor, "x") if m.vs_floor is not None else "",) if floored else ())
        for m in results.metrics
    ]
    header = ("metric", "measured", "target", "met?") + (("/ floor",) if floored else ())
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    print(f"\n{title}")
    print(
        "  "
        + " | ".join(
            h.ljust(w) if i != 1 else h.rjust(w) for i, (h, w) in enumerate(zip(header, widths, strict=True))
        )
    )
    print("  " + "-+-".join("-" * w for w in widths))
    for row in rows:
        print(
            "  "
            + " | ".join(
                c.ljust(w) if i != 1 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))
            )
        )


PACED_RATE = 150  # settlements/s offered in the paced step (the p99 target's rate)
PARTS = ("stack", "periods", "prices", "points")  # --only: the platform's load, day/month, prices, points


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", metavar="ADMIN_URL", help="run every service on this PostgreSQL server")
    parser.add_argument(
        "--persons", type=int, help="insured persons in the city (default 100,000; quick 2,000)"
    )
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke test of about two minutes")
    parser.add_argument(
        "--city",
        choices=("auto", "city", "minimal"),
        default="auto",
        help="the bench.city synthetic city (auto: when present) or a minimal one",
    )
    parser.add_argument(
        "--covered", type=int, help="minimal city: give a coverage to this many persons only (default all)"
    )
    parser.add_argument("--levels", help="settlement concurrency levels, e.g. 1,8,32,64")
    parser.add_argument("--step-s", dest="step_s", type=float, help="seconds each load step is measured")
    parser.add_argument("--warmup-s", dest="warmup_s", type=float, help="unmeasured seconds before each step")
    parser.add_argument("--day-close", dest="day_close", type=int, help="settlements closed in one day")
    parser.add_argument("--month", type=int, help="settlements reconciled in one month")
    parser.add_argument("--drugs", type=int, help="drugs of the reference-price computation")
    parser.add_argument("--pharmacies", type=int, help="pharmacies of the reference-price computation")
    parser.add_argument(
        "--points-cases", dest="points_cases", type=int, help="cases grouped in memory (DIP and DRG)"
    )
    parser.add_argument(
        "--clearing-cases",
        dest="clearing_cases",
        type=int,
        help="inpatient cases of the year clearing (default 500,000 on PostgreSQL, 100,000 on SQLite)",
    )
    parser.add_argument(
        "--clearing-hospitals", dest="clearing_hospitals", type=int, help="hospitals of the year clearing"
    )
    parser.add_argument("--profile", action="store_true", help="py-spy profiles of an extra settlement step")
    parser.add_argument(
        "--db-prefix",
        default="ybj_bench",
        help="with --postgres: the databases are <PREFIX>stack_<service>, <PREFIX>periods_..., <PREFIX>pricing_..., "
        "<PREFIX>points",
    )
    parser.add_argument("--var", type=Path, default=Path("var/bench"), help="where results and the run live")
    parser.add_argument(
        "--only",
        default=",".join(PARTS),
        help=f"the parts to run, comma-separated, of {','.join(PARTS)} (default all)",
    )
    parser.add_argument(
        "--replicas",
        type=lambda text: tuple(int(n) for n in text.split(",") if n.strip()),
        default=(1, 2),
        help="with --postgres: the settle load again with these numbers of processes per domain service "
        "(default 1,2; '' skips it)",
    )
    args = parser.parse_args(argv)
    parts = set(args.only.split(","))
    if not parts or parts - set(PARTS):
        parser.error(f"--only takes parts of {','.join(PARTS)}")
    sizes = Sizes.of(args)
    backend = "postgresql" if args.postgres else "sqlite"
    configure_logging("bench", "WARNING")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop the stack on kill as on Ctrl-C
    var_dir = _stack.fresh_var_dir(args.var / backend)
    results = Results()
    started = time.perf_counter()
    print(f"bench: {backend}, {sizes.persons:,} persons, run in {var_dir}", file=sys.stderr)
    if "stack" in parts:
        bench = _stack.start(var_dir, args.postgres, db_prefix=f"{args.db_prefix}stack_")
        try:
            settle_work = measure_stack(args, sizes, bench, results)
        finally:
            bench.stop()
        if args.postgres:
            from common.pgdev import drop_databases

            try:
                # The same settle load with one and with two processes of each domain service.
                if args.replicas:
                    bench_replicas.measure(
                        args.postgres,
                        var_dir,
                        db_prefix=f"{args.db_prefix}stack_",
                        settle_work=settle_work,
                        levels=sizes.levels,
                        step_s=sizes.step_s,
                        warmup_s=sizes.warmup_s,
                        results=results,
                        replica_counts=args.replicas,
                    )
            finally:
                drop_databases(args.postgres, f"{args.db_prefix}stack_")
    if "periods" in parts:
        measure_periods(args, sizes, var_dir, results)
    if "prices" in parts:
        measure_reference_prices(args, sizes, var_dir, results)
    if "points" in parts:
        measure_points(args, sizes, var_dir, results)
    title = (
        f"platform benchmark ({backend}, {sizes.persons:,} persons, settlement levels "
        f"{','.join(map(str, sizes.levels))} x {sizes.step_s:g}s; {os.cpu_count()} cores; "
        f"{time.perf_counter() - started:,.0f}s in all)"
    )
    print_table(results, title)
    out = args.var / f"results-{backend}.json"
    out.write_text(
        json.dumps(
            {
                "backend": backend,
                "finished_at": datetime.now(UTC).isoformat(),
                "sizes": asdict(sizes),
                "metrics": [asdict(metric) for metric in results.metrics],
                "details": results.details,
            },
            indent=2,
            default=str,
        )
    )
    print(f"  results written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
