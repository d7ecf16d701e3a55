"""`bench/bench.py --quick` at tiny sizes: the whole harness runs and reports every target of DESIGN §11.

Timings are never asserted (two shared cores); what is asserted is that every metric is measured (a
finite number) and that the event audit balances exactly: each settlement the load made is stored once,
has one settlement.settled event, and fraud and pricing each applied every one of them once. The payment
by points benchmark also runs on its own (`bench/bench_points.py --quick`): its year clearing must give
back exactly the cases, hospitals and money it was filled with.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from bench.bench_points import drop_postgres
from common import pgdev
from common.testing.databases import backends, postgres_admin_url

pytestmark = pytest.mark.slow  # a smoke run of a whole program: `make test-slow`, in CI

REPO = Path(__file__).resolve().parents[2]
LEVELS = (1, 4)
SERVICES = ("gateway", "enrollment", "settlement", "pricing", "fraud")
EXPECTED = {
    "city_persons",
    "city_covered",
    "city_load_s",
    *(
        f"{prefix}_{measure}"
        for prefix in (*(f"settle_c{level}" for level in LEVELS), "presettle", "eligibility")
        for measure in ("per_s", "p50_ms", "p95_ms", "p99_ms", "failed")
    ),
    "settle_best_per_s",
    "settle_best_p99_ms",
    "settle_best_per_s_machine",
    *(f"settle_cpu_{process}_ms" for process in (*SERVICES, "nats")),
    "settle_cpu_total_ms",
    *(f"settle_paced_{measure}" for measure in ("per_s", "p99_ms", "failed", "cpu_total_ms")),
    *(
        f"{name}_{service}"
        for service in ("fraud", "pricing")
        for name in ("events_missing", "events_redelivered")
    ),
    *(f"lag_{service}_{q}_ms" for service in ("fraud", "pricing") for q in ("p50", "p99", "all_p99")),
    "relay_p99_ms",
    "events_vs_settlements",
    "settlements_vs_answers",
    "events_unpublished",
    "pos_ingest_lines_per_s",
    "pos_ingest_rejected",
    *(f"memory_{service}_mb" for service in SERVICES),
    "day_close_s",
    "month_s",
    "reference_prices_s",
    "reference_prices_rebuild_s",
    "points_grouping_dip_per_s",
    "points_grouping_drg_per_s",
    "points_clearing_s",
    "points_clearing_per_s",
    "points_clearing_recompute_s",
    "points_budget_execution_s",
    "points_clearing_checks_failed",
}


@pytest.mark.parametrize("backend", backends())
def test_quick_bench_measures_every_target_and_every_settlement_reaches_fraud_and_pricing_once(
    tmp_path: Path, backend: str
) -> None:
    command = [
        sys.executable,
        "bench/bench.py",
        "--quick",
        "--persons", "300",
        "--levels", ",".join(map(str, LEVELS)),
        "--step-s", "1.5",
        "--warmup-s", "0.5",
        "--day-close", "3000",
        "--month", "3100",
        "--drugs", "60",
        "--pharmacies", "20",
        "--points-cases", "2000",
        "--clearing-cases", "3000",
        "--clearing-hospitals", "20",
        "--var", str(tmp_path),
    ]  # fmt: skip
    admin = postgres_admin_url() if backend == "postgres" else None
    prefix = f"ybj_t{uuid.uuid4().hex[:8]}_"
    if admin is not None:
        command += ["--postgres", admin, "--db-prefix", prefix, "--replicas", "2"]
    env = {
        key: value
        for key, value in os.environ.items()
        if key != "NATS_URL" and not key.endswith(("_DATABASE_URL", "_PORT"))
    }
    try:
        run = subprocess.run(
            command, cwd=REPO, env=env, capture_output=True, text=True, timeout=900, check=False
        )
    finally:
        if admin is not None:
            for part in ("stack_", "periods_", "pricing_"):
                pgdev.drop_databases(admin, prefix + part)
            drop_postgres(admin, f"{prefix}points")
    assert run.returncode == 0, run.stderr[-4000:]
    assert "| met?" in run.stdout

    results = json.loads(
        (tmp_path / f"results-{'sqlite' if admin is None else 'postgresql'}.json").read_text()
    )
    metrics = {metric["name"]: metric for metric in results["metrics"]}
    floor = set()
    if admin is not None:  # the floor (bench/floor.py, bare asyncpg) runs before each settle level
        floor = {
            *(
                f"floor_c{level}_{measure}"
                for level in LEVELS
                for measure in ("per_s", "p50_ms", "p95_ms", "p99_ms", "failed")
            ),
            *(f"settle_c{level}_floor_ratio" for level in LEVELS),
            "settle_best_floor_ratio",
            "settle_cpu_postgresql_ms",
            "floor_cpu_total_ms",
            # The same settle load with two processes of each domain service (bench_replicas; the quick run
            # leaves out the second one-process run, which `make bench-pg` adds with the ratio of the two).
            *(
                f"replicas2_settle_c{level}_{measure}"
                for level in LEVELS
                for measure in ("per_s", "p99_ms", "failed")
            ),
        }
        assert [step["ok"] > 0 for step in results["details"]["floor"]] == [True] * len(LEVELS)
        assert {metrics[f"floor_c{level}_failed"]["value"] for level in LEVELS} == {0}
        for level in LEVELS:
            assert (
                metrics[f"settle_c{level}_per_s"]["vs_floor"]
                == metrics[f"settle_c{level}_floor_ratio"]["value"]
            )
    assert set(metrics) == EXPECTED | floor
    # Claims drawn as real visits: no line refused for gender, age, quantity or catalogue, no claim refused.
    assert results["details"]["settle_refusals"] == {f"c={level}": {} for level in LEVELS}
    unmeasured = {
        name: metric["value"]
        for name, metric in metrics.items()
        if not isinstance(metric["value"], int | float) or not math.isfinite(metric["value"])
    }
    assert unmeasured == {}

    events = results["details"]["events"]
    made = events["settlements_made_by_load"]
    assert made > 0
    assert events["settlements"] == events["settlements_before_load"] + made
    assert events["settled_events"] == events["settlements"]
    # Fraud acts on every settlement, pricing on the pharmacy ones (the others it acks unread).
    assert events["wanted"]["fraud"] == events["settled_events"]
    assert 0 < events["wanted"]["pricing"] < events["settled_events"]
    assert events["applied"] == events["wanted"]
    assert events["unpublished"] == 0
    assert events["window_events"] == made
    assert {
        name: metrics[name]["value"]
        for name in (
            "events_missing_fraud",
            "events_missing_pricing",
            "events_vs_settlements",
            "settlements_vs_answers",
        )
    } == {
        "events_missing_fraud": 0,
        "events_missing_pricing": 0,
        "events_vs_settlements": 0,
        "settlements_vs_answers": 0,
    }
    assert results["details"]["day_close"]["settlements"] == 3000
    assert results["details"]["month_reconciliation"]["settlements"] == 3100  # 31 days of 100
    assert results["details"]["reference_prices"]["latest_prices"] == 60 * 20
    points = results["details"]["points"]
    assert points["grouping"]["cases"] == 2000
    assert (points["clearing"]["cases"], points["clearing"]["hospitals"]) == (3000, 20)
    assert points["clearing"]["backend"] == ("sqlite" if admin is None else "postgresql")
    assert metrics["points_clearing_checks_failed"]["value"] == 0


@pytest.mark.parametrize("backend", backends())
def test_quick_points_bench_groups_in_memory_and_clears_the_year_it_was_filled_with(
    tmp_path: Path, backend: str
) -> None:
    admin = postgres_admin_url() if backend == "postgres" else None
    database = f"ybj_t{uuid.uuid4().hex[:8]}_points"
    command = [sys.executable, "bench/bench_points.py", "--quick", "--var", str(tmp_path)]
    if admin is not None:
        command += ["--postgres", admin, "--database", database]
    env = {key: value for key, value in os.environ.items() if not key.endswith("_DATABASE_URL")}
    try:
        run = subprocess.run(
            command, cwd=REPO, env=env, capture_output=True, text=True, timeout=600, check=False
        )
    finally:
        if admin is not None:
            drop_postgres(admin, database)
    assert run.returncode == 0, run.stderr[-4000:]
    assert "| met?" in run.stdout

    results = json.loads((tmp_path / "points.json").read_text())
    grouping, clearing = results["grouping"], results["clearing"]
    assert grouping["cases"] == 5000
    for method in ("dip", "drg"):
        assert grouping[method]["per_s"] > 0
        assert sum(grouping[method]["deviations"].values()) == 5000
    assert clearing["backend"] == ("sqlite" if admin is None else "postgresql")
    assert (clearing["cases"], clearing["hospitals"]) == (5000, 30)
    for name in ("seconds", "recompute_s", "budget_execution_s"):
        assert math.isfinite(clearing[name]) and clearing[name] > 0
    failed = {name: check for name, check in clearing["checks"].items() if not check["ok"]}
    assert failed == {}
    assert clearing["checks_failed"] == 0
    assert clearing["deviations"]["special"] == clearing["loaded"]["special_cases"] > 0
