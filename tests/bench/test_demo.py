"""`make demo` end to end: real processes on a simulated clock, a small city, every planted case found."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections import Counter
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from bench.city import City, generate_city
from bench.city.model import INSTITUTION_FAMILIES
from bench.city.play import via_national
from bench.demo import MONTH_END
from common.embedded_nats import port_open
from common.money import yuan_to_fen

pytestmark = pytest.mark.slow  # a smoke run of a whole program: `make test-slow`, in CI

REPO = Path(__file__).resolve().parents[2]
PERSONS, DAYS, SEED = 200, 2, 5
DETERMINISTIC = ("admission_frequency", "split_admission", "cost_outlier", "trace_code_reuse", "after_death",
                 "price_index", "red_alerts", "bed_hold", "induced_admission", "institution_outlier",
                 "upcoding")  # fmt: skip


def test_the_demo_finds_every_planted_case_and_its_days_and_month_balance(tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("TEST_", "NATS_"))}
    var_dir = tmp_path / "demo"
    process = subprocess.Popen(
        [sys.executable, "bench/demo.py", "--seed", str(SEED), "--persons", str(PERSONS), "--days", str(DAYS),
         "--var-dir", str(var_dir), "--quiet", "--serve"],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    output: list[str] = []
    try:
        assert process.stdout is not None
        while not output or "/console — sign in with the ops key in " not in output[-1]:
            line = process.stdout.readline()
            assert line, "".join(output)[-3000:]  # the demo ended before it offered the console
            output.append(line)
        console = re.search(r"(http://127\.0\.0\.1:\d+/console)", output[-1])
        assert console is not None, output[-1]
        report = json.loads((var_dir / "report.json").read_text())
        march_310 = _console_fund_page(console.group(1), (var_dir / "bootstrap-ops-key").read_text().strip())
        process.send_signal(signal.SIGINT)  # Ctrl-C ends the viewing: a clean stop
        rest, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    printed = "".join(output) + rest
    assert process.returncode == 0, printed[-3000:]
    assert printed.rstrip().endswith("Stopped.")
    assert (
        var_dir / "bootstrap-ops-key"
    ).read_text().strip() not in printed  # the key is named by its file only
    # The console shows the figures the report printed: March's fund KPIs of the employees' pool.
    kpi = report["fund_kpis"]["310"]
    for figure in ("income", "expenditure", "current_surplus", "accumulated_balance"):
        assert f"{Decimal(kpi[figure]):,.2f}" in march_310, figure
    city = generate_city(SEED, PERSONS, days=DAYS, start=report_start(report))

    scores = {row["family"]: row for row in report["scores"]}
    for family in DETERMINISTIC:
        assert scores[family]["recall"] == 1.0, scores[family]
        assert scores[family]["precision"] == 1.0, scores[family]
    assert set(scores) == set(DETERMINISTIC)  # no other family raised anything on normal traffic
    assert (
        report["findings_by_family"]
        == dict(Counter(case.family for case in city.cases if case.expect == "finding"))
    )  # one finding per planted case: the claim-level ones while played, the institution-level after the month
    assert sorted(report["price_index_listed"]) == sorted(city.overpriced)
    assert report["red_alert_pharmacies"] == sorted(city.overpriced)

    settlements = report["settlements"]
    played = len(city.claims())
    blocked = sum(1 for case in city.cases if case.expect == "blocked")
    assert blocked == 2  # a code settled twice, a code sold at POS then settled
    assert settlements["refused"] == {
        "REVIEW_BLOCKED": blocked
    }  # the reused traceability codes, nothing else
    assert settlements["accepted"] == played - blocked
    # The outpatient claims of the hospitals on the national interface went 2201 → 2204 → 2207, the same outcome.
    national = sum(1 for claim in city.claims() if via_national(claim))
    assert national > 0 and settlements["national_claims"] == national
    assert f"其中经国家接口（2201/2204/2207）结算 {national:,} 笔" in printed
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
    # The planted claim-level findings the institutions refund at once (自查自纠): March's deductions.
    refunded = [c for c in city.cases if c.resolution == "refund" and c.family not in INSTITUTION_FAMILIES]
    assert report["confirmed"]["count"] == report["confirmed"]["cases"] == len(refunded) >= 1
    assert month["deductions_fen"] == report["confirmed"]["amount_fen"] > 0
    assert month["penalties_fen"] == 0  # a voluntary refund (自查自纠) carries no penalty
    assert month["quality_reserve_fen"] > 0  # withheld from the hospitals paid by points
    assert month["net_adjustment_fen"] == -(month["deductions_fen"] + month["quality_reserve_fen"])
    assert report["ledger_balanced"] is True  # after the year clearing
    assert (
        report["fund_kpis"]["310"]["settlement_count"] + report["fund_kpis"]["390"]["settlement_count"]
        == (settlements["accepted"])
    )

    _check_the_year_clearing(report, city)
    _check_the_supervision(report, city)

    truth = json.loads((var_dir / "ground-truth.json").read_text())
    assert [case["case_id"] for case in truth["cases"]] == [case.case_id for case in city.cases]
    assert all(len(case["psn_nos"]) == len(case["persons"]) for case in truth["cases"])
    assert "智能监控：疑点与埋设的违规案例对照" in printed
    assert "\n基金监管：\n" in printed and "被拒付 422 PRACTITIONER_SUSPENDED" in printed
    assert "账务核对（年度清算之后）：平衡——" in printed
    assert "年度清算 2026 310（DRG），已确认" in printed and "年度清算 2026 390（DIP），已确认" in printed
    assert "基金运行 2026-03 · 310 职工基本医疗保险统筹基金：" in printed
    negative = [kpi for kpi in report["fund_kpis"].values() if Decimal(kpi["current_surplus"]) < 0]
    # An anomaly is called out, never printed bare.
    assert printed.count("  ⚠ 当期结余为负：") == len(negative)
    assert f"价格监测：红灯预警 {report['red_alerts']:,} 条，来自 {len(city.overpriced):,} 家药店" in printed
    assert "每条预警是一家药店的一种药品" in printed  # why so many alerts for so few pharmacies
    assert not any(port_open(port) for port in _ports(printed))  # everything stopped


def _check_the_year_clearing(report: dict[str, Any], city: City) -> None:
    """Each pool's year clearing: a line per hospital with cases, C adding up, the ledger still balanced."""
    assert city.points is not None
    points = report["points"]
    assert (points["year"], points["month_locked"]) == (2026, "2026-03")
    assert points["closed_days"] == 275 and points["settled_after_march"] == 0  # April .. December, quiet
    inpatient = [claim for claim in city.claims() if claim.body["med_type"] == "21"]
    # Every list was uploaded by the hospital, by REST or as 4101A.
    assert sum(points["lists"].values()) == sum(1 for claim in inpatient if claim.settlement_list is not None)
    assert set(points["lists"]) <= {"rest", "4101A", "4101A→rest"}
    by_points = {row["fixmedins_code"] for row in city.institutions if row.get("points_payment")}
    assert points["not_by_points"] == [code for code in city.hospitals if code not in by_points]
    budgets = {row["insutype"]: yuan_to_fen(row["budget"]) for row in city.points.payment_years}
    pools = {pool["insutype"]: pool for pool in points["pools"]}
    assert set(pools) == {"310", "390"}
    withheld = 0
    for insutype, method in (("310", "drg"), ("390", "dip")):
        pool = pools[insutype]
        cases = [c for c in inpatient if c.body["insutype"] == insutype and c.fixmedins_code in by_points]
        assert (pool["method"], pool["status"], pool["budget_fen"]) == (
            method,
            "confirmed",
            budgets[insutype],
        )
        assert pool["cases"] == len(cases) > 0
        # F is what the generator expected (the budget is 95 % of it): its estimate follows the policy.
        assert abs(pool["f_fen"] - pool["estimated_hifp_fen"]) <= pool["f_fen"] // 200
        assert Decimal(pool["point_value"]) > 0 and Decimal(pool["total_points"]) > 0
        lines = pool["lines"]
        assert [line["fixmedins_code"] for line in lines] == sorted({c.fixmedins_code for c in cases})
        assert sum(line["cases"] for line in lines) == pool["cases"]
        assert sum(line["f_fen"] for line in lines) == pool["f_fen"]
        assert sum(line["clearing_fen"] for line in lines) == pool["clearing_total_fen"]
        assert pool["clearing_total_fen"] == sum(line["final_fen"] - line["paid_fen"] for line in lines)
        for line in lines:
            assert line["colour"] in {"green", "yellow", "red"}
            assert line["paid_fen"] == line["f_fen"] - line["withheld_fen"]
            cmi = (Decimal(line["points"]) / line["cases"]).quantize(Decimal("0.0001"), ROUND_HALF_UP)
            assert Decimal(line["cmi"]) == cmi
            assert (line["disbursement_id"] is not None) == (line["clearing_fen"] > 0)
            assert (line["deduction_id"] is not None) == (line["clearing_fen"] < 0)
        withheld += sum(line["withheld_fen"] for line in lines)
        run = pool["execution"]
        assert (run["on"], run["year_share"]) == ("2026-03-31", "0.2466")
        # Only the played days cost anything: by 31 March the pool has spent more than its budget.
        assert run["warning"] is True and Decimal(run["spent_share"]) > 1
        assert run["f_fen"] == pool["f_fen"] and run["provisional_point_value"] is not None
        assert {item["colour"] for item in run["institutions"]} <= {"green", "yellow", "red"}
    assert withheld == report["month"]["quality_reserve_fen"]  # W: what March withheld, back in the clearing


def _check_the_supervision(report: dict[str, Any], city: City) -> None:
    """Practitioners registered, the month's institution rules and warnings, every planted finding in a case
    ended as the ground truth says, 12 points ending a doctor's qualification and his next claim refused."""
    supervision = report["supervision"]
    assert supervision["registered_practitioners"]["registered"] == len(city.practitioners)
    assert supervision["missed"] == []
    run = {rule["family"]: rule for rule in supervision["institution_rules"]["rules"]}
    assert {family: rule["raised"] for family, rule in run.items()} == dict.fromkeys(
        sorted(INSTITUTION_FAMILIES), 1
    )
    planted = {case.case_id: case for case in city.cases}
    cases = supervision["cases"]
    assert sorted(case["planted"] for case in cases) == sorted(c for c, p in planted.items() if p.resolution)
    ended = {"refund": ("decided", "refunded"), "decide": ("decided", "decided"),
             "appeal_upheld": ("decided", "decided"), "appeal_overturned": ("closed", "overturned")}  # fmt: skip
    for case in cases:
        assert (case["status"], case["outcome"]) == ended[str(planted[case["planted"]].resolution)], case
        assert case["points"] == (
            [{"prac_codg": planted[case["planted"]].practitioner, "points": planted[case["planted"]].points,
              "reason": planted[case["planted"]].points_reason}] if planted[case["planted"]].points else []
        )  # fmt: skip
    assert supervision["cases_by_status"] == dict(sorted(Counter(ended[str(p.resolution)][0] for p in planted.values()
                                                                 if p.resolution).items()))  # fmt: skip
    warnings = supervision["warnings"]["read_by_institutions"]
    assert set(warnings) == {c.fixmedins_code for c in city.cases if c.family in INSTITUTION_FAMILIES}
    assert all(w["only_own"] and w["warnings"] == 1 for w in warnings.values())
    points = city.practitioner_points()
    (ended_at_12,) = [code for code, n in points.items() if n == 12]
    assert supervision["terminated_practitioners"] == [ended_at_12]  # 12 points: 终止
    assert supervision["suspended_practitioners"] == []  # the other doctor's 8 are one short of 暂停 (9)
    for code, n in points.items():
        assert supervision["practitioners"][code]["year_points"] == n
        assert supervision["practitioners"][code]["status"] == ("terminated" if n == 12 else "active")
    refused = supervision["refused_after_suspension"]
    assert (refused["status"], refused["code"], refused["prac_codg"]) == (
        422,
        "PRACTITIONER_SUSPENDED",
        ended_at_12,
    )


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


def _console_fund_page(console: str, key: str) -> str:
    """Sign in to the console with the ops key (through its form and CSRF token) and read 基金运行 of March."""
    with httpx.Client(base_url=console.removesuffix("/console"), timeout=30) as client:
        login = client.get("/console/login")
        assert login.status_code == 200, login.text[:500]
        token = re.search(r'name="csrf_token" value="([^"]+)"', login.text)
        assert token is not None, login.text[:500]
        signed_in = client.post("/console/login", data={"csrf_token": token.group(1), "api_key": key})
        assert signed_in.status_code == 303, signed_in.text[:500]
        page = client.get("/console/fund", params={"insutype": "310", "month": "2026-03"})
        assert page.status_code == 200, page.text[:500]
        return page.text


def _ports(printed: str) -> list[int]:
    """The NATS and gateway ports the demo printed."""
    ports = [int(port) for port in re.findall(r"(?:nats|http)://127\.0\.0\.1:(\d+)", printed)]
    assert len(set(ports)) == 2, printed
    return ports
