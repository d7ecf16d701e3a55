"""`make demo` end to end: real processes on a simulated clock, a small city, every planted case found."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from bench.city import generate_city
from bench.demo import MONTH_END
from common.embedded_nats import port_open

pytestmark = pytest.mark.slow  # a smoke run of a whole program: `make test-slow`, in CI

REPO = Path(__file__).resolve().parents[2]
PERSONS, DAYS, SEED = 200, 2, 5
DETERMINISTIC = ("admission_frequency", "split_admission", "cost_outlier", "trace_code_reuse", "after_death",
                 "price_index", "red_alerts")  # fmt: skip


def test_the_demo_finds_every_planted_case_and_its_days_and_month_balance(tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("TEST_", "NATS_"))}
    var_dir = tmp_path / "demo"
    result = subprocess.run(
        [sys.executable, "bench/demo.py", "--seed", str(SEED), "--persons", str(PERSONS), "--days", str(DAYS),
         "--var-dir", str(var_dir), "--quiet"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert result.stdout.rstrip().endswith("Stopped.")
    report = json.loads((var_dir / "report.json").read_text())
    city = generate_city(SEED, PERSONS, days=DAYS, start=report_start(report))

    scores = {row["family"]: row for row in report["scores"]}
    for family in DETERMINISTIC:
        assert scores[family]["recall"] == 1.0, scores[family]
        assert scores[family]["precision"] == 1.0, scores[family]
    assert set(scores) == set(DETERMINISTIC)  # no other family raised anything on normal traffic
    assert report["findings_by_family"] == {
        "admission_frequency": 1, "split_admission": 1, "cost_outlier": 1, "after_death": 1,
    }  # fmt: skip
    assert sorted(report["price_index_listed"]) == sorted(city.overpriced)
    assert report["red_alert_pharmacies"] == sorted(city.overpriced)

    settlements = report["settlements"]
    played = len(city.claims())
    assert settlements["refused"] == {"REVIEW_BLOCKED": 1}  # the reused traceability code, and nothing else
    assert settlements["accepted"] == played - 1
    assert settlements["review_skipped"] == 0
    days = report["day_closes"]
    assert [day["date"] for day in days] == [d.isoformat() for d in city.day_dates]
    assert all(day["balanced"] for day in days)
    assert sum(day["closed_settlements"] for day in days) == settlements["accepted"]
    assert sum(day["fund_pay_fen"] for day in days) == settlements["fund_pay_fen"]

    month = report["month"]
    assert (month["month"], month["status"], month["balanced"]) == ("2026-03", "confirmed", True)
    assert month["setl_cnt"] == settlements["accepted"]
    assert month["fund_pay_fen"] == settlements["fund_pay_fen"]
    assert report["confirmed"]["count"] == 4  # the four planted findings, confirmed by the demo
    assert month["deductions_fen"] == report["confirmed"]["amount_fen"] > 0
    assert month["net_adjustment_fen"] == -month["deductions_fen"]
    assert report["ledger_balanced"] is True
    assert (
        report["fund_kpis"]["310"]["settlement_count"] + report["fund_kpis"]["390"]["settlement_count"]
        == (settlements["accepted"])
    )

    truth = json.loads((var_dir / "ground-truth.json").read_text())
    assert [case["case_id"] for case in truth["cases"]] == [case.case_id for case in city.cases]
    assert all(len(case["psn_nos"]) == len(case["persons"]) for case in truth["cases"])
    printed = result.stdout
    assert "Detection against the ground truth:" in printed
    assert "Ledger       balanced" in printed
    assert not any(port_open(port) for port in _ports(printed))  # everything stopped


def report_start(report: dict[str, Any]) -> date:
    """The first played day; the played days end on the last day of March."""
    days = [date.fromisoformat(day) for day in report["days"]]
    assert days[-1] == MONTH_END
    return days[0]


def test_ctrl_c_while_loading_stops_every_process(tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("TEST_", "NATS_"))}
    process = subprocess.Popen(
        [sys.executable, "bench/demo.py", "--persons", "300", "--days", "1", "--var-dir", str(tmp_path / "demo")],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    output: list[str] = []
    try:
        assert process.stdout is not None
        while not any(line.startswith("coverages [") for line in output):
            line = process.stdout.readline()
            assert line, "".join(output)
            output.append(line)
        process.send_signal(signal.SIGINT)
        rest, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    printed = "".join(output) + rest
    assert process.returncode == 130, printed
    assert "Interrupted." in printed
    assert printed.rstrip().endswith("Stopped.")
    assert not any(port_open(port) for port in _ports(printed))
    logs = tmp_path / "demo" / "logs"
    assert sorted(path.name for path in logs.iterdir()) == [
        "enrollment.log", "fraud.log", "gateway.log", "nats.log", "pricing.log", "settlement.log",
    ]  # fmt: skip


def _ports(printed: str) -> list[int]:
    """The NATS and gateway ports the demo printed."""
    ports = [int(port) for port in re.findall(r"(?:nats|http)://127\.0\.0\.1:(\d+)", printed)]
    assert len(set(ports)) == 2, printed
    return ports
