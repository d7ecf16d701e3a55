"""`make demo`: the platform on embedded defaults, a synthetic city loaded and played, and what it all found.

    python bench/demo.py [--seed 1] [--persons 2000] [--days 3] [--var-dir var/demo] [--quiet]

Starts NATS and the five services (SQLite in a fresh var/demo/) on a simulated clock that stands on the
played days (the last `--days` days of March 2026), loads a city through the gateway's public API (with its
payment year 2026: employees by DRG, residents by DIP), registers its doctors and pharmacists, plays each
day's claims and POS sales with each institution's own API key (the hospitals send each inpatient case's
settlement list, by REST or as the national 4101A), closes each day (日结算), puts the planted findings it
caught into cases (案件) that the institutions answer (most by a voluntary refund 自查自纠, one by an appeal),
closes the rest of the month, reconciles and confirms March (月核算, withholding the quality reserve), then
supervises the month (bench/city/supervision.py: the institution-level rules, the monthly warnings with scan
rates, an appeal upheld and one overturned, decisions with penalties and points that end a doctor's payment
qualification, whose next claim settlement refuses). It reads the budget execution on 31 March, locks March,
reconciles and confirms April (where the later decisions fall), moves the clock to the new year and closes
every remaining day of 2026, computes and confirms each pool's year clearing (年清算), checks the ledger, and
prints a report: settlements and fund pay, findings by rule family with precision and recall against the
planted ground truth, cases by state and the suspended practitioners, red price alerts, the pharmacies above
the price-index warning line, the fund KPIs, and per pool the budget, T, N, F, the point value and per
hospital its cases, points, CMI, E, A, W, s, C and colour. Writes var/demo/report.json and
var/demo/ground-truth.json. Every process stops at the end, on error and on Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
import time
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # `python bench/demo.py` from anywhere

from bench.city import generate_city
from bench.city.client import expect, send
from bench.city.load import LoadedCity, gateway_client, load_city
from bench.city.model import City
from bench.city.play import DayOutcome, play_day
from bench.city.score import score
from bench.city.stack import SimulatedStack
from bench.city.supervision import (
    Supervision,
    after_the_month,
    open_claim_cases,
    register_practitioners,
    report_lines,
)
from common.money import fen_to_yuan, yuan_to_fen
from common.progress import ProgressBar

SHANGHAI = ZoneInfo("Asia/Shanghai")
MONTH_END = date(2026, 3, 31)
POOLS = ("310", "390")


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=SHANGHAI)


def _yuan(fen: int) -> str:
    return f"{fen_to_yuan(fen):,}"


async def _pages(loaded: LoadedCity, path: str, params: dict[str, str]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    async with gateway_client(loaded.gateway_url, 2) as client:
        cursor: str | None = None
        while True:
            query = {**params, **({"cursor": cursor} if cursor else {})}
            page = expect(await send(client, "GET", path, loaded.ops_key, params=query), 200)
            items += page["items"]
            cursor = page.get("next_cursor")
            if not cursor:
                return items


async def run(city: City, stack: SimulatedStack, *, progress: bool) -> dict[str, Any]:
    """Load, play, close, reconcile; returns the report."""
    timings: dict[str, float] = {}
    started = time.perf_counter()
    loaded = await load_city(city, stack.gateway_url, stack.ops_key(), progress=progress)
    timings["load"] = time.perf_counter() - started
    ground_truth = city.ground_truth(loaded.psn_no)
    (stack.var_dir / "ground-truth.json").write_text(json.dumps(ground_truth, ensure_ascii=False, indent=2))
    ops = loaded.ops_key
    outcomes: list[DayOutcome] = []
    closes: list[dict[str, Any]] = []
    month = MONTH_END.strftime("%Y-%m")
    supervision = Supervision()
    async with gateway_client(stack.gateway_url, 4) as client:
        await register_practitioners(client, city, loaded, supervision)

        async def close(day: date) -> dict[str, Any]:
            stack.set_time(at(day + timedelta(days=1), 0, 30))
            closed: dict[str, Any] = expect(
                await send(client, "POST", "/settlement/day-closes", ops, json={"date": day.isoformat()}),
                200,
                201,
            )
            return closed

        started = time.perf_counter()
        for index, day in enumerate(city.day_dates):
            stack.set_time(at(day, 20))
            outcome = await play_day(city, loaded, index, progress=progress)
            outcomes.append(outcome)
            if day == city.day_dates[-1]:
                confirmed = await open_claim_cases(client, city, loaded, outcomes, supervision)
            closes.append(await close(day))
        timings["play"] = time.perf_counter() - started
        started = time.perf_counter()
        day = city.day_dates[-1] + timedelta(days=1)
        while day <= MONTH_END:
            await close(day)
            day += timedelta(days=1)
        stack.set_time(at(MONTH_END + timedelta(days=1), 9))
        computed = expect(
            await send(client, "POST", "/settlement/monthly-reconciliations", ops, json={"month": month}),
            200,
            201,
        )
        reconciliation = expect(
            await send(client, "POST", f"/settlement/monthly-reconciliations/{month}/confirm", ops), 200
        )
        timings["close"] = time.perf_counter() - started
        ranking = expect(
            await send(client, "GET", "/pricing/price-index/ranking", ops, params={"month": month}), 200
        )
        kpis = {
            insutype: expect(
                await send(
                    client, "GET", "/settlement/fund-kpis", ops, params={"insutype": insutype, "month": month}
                ),
                200,
            )
            for insutype in ("310", "390")
        }
        supervised = await after_the_month(
            client,
            city,
            loaded,
            outcomes,
            supervision,
            month=month,
            set_day=lambda d: stack.set_time(at(d, 10)),
        )
        year: dict[str, Any] | None = None
        if city.points is not None:
            started = time.perf_counter()
            year = await _clear_year(
                client,
                stack,
                city,
                ops,
                progress=progress,
                decided_month=str(supervised["decided_on"] or month)[:7],
            )
            timings["year"] = time.perf_counter() - started
        ledger = expect(await send(client, "GET", "/settlement/ledger/check", ops), 200)
    findings = await _pages(loaded, "/fraud/findings", {"limit": "500"})
    red_alerts = await _pages(loaded, "/pricing/alerts", {"light": "red", "limit": "200"})
    scores = score(city, loaded.psn_no, outcomes, findings, ranking["listed"], red_alerts)
    report = _report(city, loaded, outcomes, closes, computed, reconciliation, confirmed, findings, red_alerts,
                     ranking, kpis, ledger, [s.as_dict() for s in scores], timings)  # fmt: skip
    report["supervision"] = supervised
    if year is not None:
        report["points"] = _points_report(city, outcomes, year)
    return report


async def _clear_year(
    client: Any, stack: SimulatedStack, city: City, ops: str, *, progress: bool, decided_month: str
) -> dict[str, Any]:
    """After March: its budget execution, March locked, every remaining day of the year closed, then each
    pool's year clearing computed and confirmed (年清算)."""
    assert city.points is not None
    year = city.points.year
    execution = {
        insutype: expect(
            await send(client, "GET", "/settlement/budget-execution", ops,
                       params={"year": str(year), "insutype": insutype, "on": MONTH_END.isoformat()}),
            200,
        )
        for insutype in POOLS
    }  # fmt: skip
    month = MONTH_END.strftime("%Y-%m")
    expect(await send(client, "POST", f"/settlement/monthly-reconciliations/{month}/lock", ops), 200)
    last = date(year, 12, 31)
    stack.set_time(at(last + timedelta(days=1), 1))
    days = [MONTH_END + timedelta(days=n) for n in range(1, (last - MONTH_END).days + 1)]
    bar = ProgressBar(len(days), label=f"closing {days[0]} .. {last}") if progress and days else None
    settled_after = 0
    for day in days:
        closed = expect(
            await send(client, "POST", "/settlement/day-closes", ops, json={"date": day.isoformat()}),
            200,
            201,
        )
        settled_after += closed["settlement_count"]
        if bar:
            bar.advance()
    if bar:
        bar.close()
    # The cases decided after March (on the day after the last appeal deadline) are that month's deductions:
    # reconciled and confirmed before the year's clearing.
    for later in sorted({decided_month} - {month}):
        expect(
            await send(client, "POST", "/settlement/monthly-reconciliations", ops, json={"month": later}),
            200,
            201,
        )
        expect(await send(client, "POST", f"/settlement/monthly-reconciliations/{later}/confirm", ops), 200)
    clearings: dict[str, dict[str, Any]] = {}
    computed: dict[str, int] = {}
    for insutype in POOLS:
        body = {"year": year, "insutype": insutype}
        answer = await send(client, "POST", "/settlement/annual-clearings", ops, json=body)
        computed[insutype] = answer.status_code
        expect(answer, 201, 200)
        clearings[insutype] = expect(
            await send(client, "POST", f"/settlement/annual-clearings/{year}/{insutype}/confirm", ops), 200
        )
    return {
        "year": year,
        "execution": execution,
        "month_locked": month,
        "closed_days": len(days),
        "settled_after_march": settled_after,
        "computed_status": computed,
        "clearings": clearings,
    }


def _fen(value: str | None) -> int:
    return yuan_to_fen(value) if value is not None else 0


def _points_report(city: City, outcomes: list[DayOutcome], year: dict[str, Any]) -> dict[str, Any]:
    """Per pool: the budget execution on 31 March and the confirmed year clearing, money in fen."""
    assert city.points is not None
    level = {row["fixmedins_code"]: row["hosp_lv"] for row in city.institutions}
    lists: dict[str, int] = {}
    for outcome in outcomes:
        for how, count in outcome.lists.items():
            lists[how] = lists.get(how, 0) + count
    pools = []
    for insutype in POOLS:
        clearing, execution = year["clearings"][insutype], year["execution"][insutype]
        lines = [
            {
                "fixmedins_code": line["fixmedins_code"],
                "hosp_lv": level.get(line["fixmedins_code"]),
                "cases": line["cases"],
                "points": line["points"],
                "cmi": line["cmi"],
                "n_fen": _fen(line["n"]),
                "f_fen": _fen(line["f"]),
                "e_fen": _fen(line["e"]),
                "a_fen": _fen(line["a"]),
                "withheld_fen": _fen(line["withheld"]),
                "score": line["score"],
                "final_fen": _fen(line["final"]),
                "paid_fen": _fen(line["paid"]),
                "clearing_fen": _fen(line["clearing"]),
                "colour": line["colour"],
                "low_cases": line["low_cases"],
                "high_cases": line["high_cases"],
                "ungrouped_cases": line["ungrouped_cases"],
                "disbursement_id": line["disbursement_id"],
                "deduction_id": line["deduction_id"],
            }
            for line in clearing["lines"]
        ]
        pools.append({
            "insutype": insutype,
            "method": clearing["method"],
            "status": clearing["status"],
            "budget_fen": _fen(clearing["budget"]),
            "estimated_hifp_fen": city.points.estimated_hifp_fen.get(insutype),
            "cases": clearing["cases"],
            "total_points": clearing["total_points"],
            "n_fen": _fen(clearing["n"]),
            "f_fen": _fen(clearing["f"]),
            "point_value": clearing["point_value"],
            "clearing_total_fen": _fen(clearing["clearing_total"]),
            "execution": {
                "on": execution["on"],
                "year_share": execution["year_share"],
                "spent_share": execution["spent_share"],
                "warning": execution["warning"],
                "provisional_point_value": execution["provisional_point_value"],
                "cases": execution["cases"],
                "f_fen": _fen(execution["f"]),
                "institutions": [
                    {"fixmedins_code": item["fixmedins_code"], "cases": item["cases"], "points": item["points"],
                     "f_fen": _fen(item["f"]), "e_fen": _fen(item["e"]), "overrun": item["overrun"],
                     "colour": item["colour"]}
                    for item in execution["institutions"]
                ],
            },
            "lines": lines,
        })  # fmt: skip
    return {
        "year": year["year"],
        "lists": lists,
        "month_locked": year["month_locked"],
        "closed_days": year["closed_days"],
        "settled_after_march": year["settled_after_march"],
        "not_by_points": [row["fixmedins_code"] for row in city.institutions
                          if row["fixmedins_type"] == "hospital" and not row.get("points_payment")],
        "pools": pools,
    }  # fmt: skip


def _report(
    city: City,
    loaded: LoadedCity,
    outcomes: list[DayOutcome],
    closes: list[dict[str, Any]],
    computed: dict[str, Any],
    reconciliation: dict[str, Any],
    confirmed: dict[str, Any],
    findings: list[dict[str, Any]],
    red_alerts: list[dict[str, Any]],
    ranking: dict[str, Any],
    kpis: dict[str, dict[str, Any]],
    ledger: dict[str, Any],
    scores: list[dict[str, Any]],
    timings: dict[str, float],
) -> dict[str, Any]:
    accepted = [claim for outcome in outcomes for claim in outcome.accepted.values()]
    refused: dict[str, int] = {}
    for outcome in outcomes:
        for claim in outcome.refused.values():
            refused[claim.code] = refused.get(claim.code, 0) + 1
    days = []
    for outcome, closed in zip(outcomes, closes, strict=True):
        statements = closed["statements"]
        stated_fund = sum(yuan_to_fen(s["fund_pay_sumamt"]) for s in statements)
        played_fund = sum(c.fund_pay_fen for c in outcome.accepted.values())
        stated_medfee = sum(yuan_to_fen(s["medfee_sumamt"]) for s in statements)
        played_medfee = sum(c.medfee_fen for c in outcome.accepted.values())
        days.append({
            "date": outcome.business_date,
            "claims_accepted": len(outcome.accepted),
            "claims_refused": len(outcome.refused),
            "sales_lines": outcome.sales_accepted,
            "closed_settlements": closed["settlement_count"],
            "institutions": closed["institution_count"],
            "medfee_fen": stated_medfee,
            "fund_pay_fen": stated_fund,
            "balanced": closed["settlement_count"] == len(outcome.accepted)
            and stated_fund == played_fund and stated_medfee == played_medfee,
        })  # fmt: skip
    by_family: dict[str, int] = {}
    for finding in findings:
        by_family[finding["family"]] = by_family.get(finding["family"], 0) + 1
    statements = reconciliation["statements"]
    return {
        "seed": city.seed,
        "persons": len(city.persons),
        "days": [d.isoformat() for d in city.day_dates],
        "loaded": loaded.counts,
        "load_seconds": {k: round(v, 1) for k, v in loaded.seconds.items()},
        "settlements": {
            "accepted": len(accepted),
            "refused": refused,
            "medfee_fen": sum(c.medfee_fen for c in accepted),
            "fund_pay_fen": sum(c.fund_pay_fen for c in accepted),
            "acct_pay_fen": sum(c.acct_pay_fen for c in accepted),
            "cash_fen": sum(c.cash_fen for c in accepted),
            "waiting_period": sum(1 for c in accepted if "WAITING_PERIOD" in c.warnings),
            "review_warned": sum(1 for c in accepted if c.review == "warned"),
            "review_skipped": sum(1 for c in accepted if c.review == "skipped"),
        },
        "day_closes": days,
        "month": {
            "month": reconciliation["month"],
            "status": reconciliation["status"],
            "balanced": reconciliation["balanced"],
            "institutions": len(statements),
            "setl_cnt": sum(s["settlements"]["setl_cnt"] for s in statements),
            "fund_pay_fen": sum(yuan_to_fen(s["settlements"]["fund_pay_sumamt"]) for s in statements),
            "deductions_fen": sum(yuan_to_fen(s["deductions"]) for s in statements),
            "penalties_fen": sum(yuan_to_fen(s.get("penalties") or "0") for s in statements),
            "quality_reserve_fen": sum(yuan_to_fen(s.get("quality_reserve") or "0") for s in statements),
            "net_adjustment_fen": sum(yuan_to_fen(s["net_adjustment"]) for s in statements),
            "computed_balanced": computed["balanced"],
        },
        "findings_by_family": by_family,
        "confirmed": confirmed,
        "scores": scores,
        "red_alerts": len(red_alerts),
        "red_alert_pharmacies": sorted({a["fixmedins_code"] for a in red_alerts}),
        "overpriced": list(city.overpriced),
        "price_index_listed": ranking["listed"],
        "price_index": {i["fixmedins_code"]: i["price_index"] for i in ranking["items"]},
        "fund_kpis": kpis,
        "ledger_balanced": ledger["balanced"],
        "timings": {k: round(v, 1) for k, v in timings.items()},
    }


def _ratio(value: float | None) -> str:
    return "  —  " if value is None else f"{value:5.2f}"


def print_report(report: dict[str, Any]) -> None:
    s = report["settlements"]
    print(
        f"\n== Demo report: {report['persons']:,} persons, days {', '.join(report['days'])} (seed {report['seed']}) =="
    )
    print(f"Settlements  {s['accepted']:,} accepted; refused {s['refused'] or 'none'}")
    print(
        f"  medfee {_yuan(s['medfee_fen'])}  fund pay {_yuan(s['fund_pay_fen'])}"
        f"  account {_yuan(s['acct_pay_fen'])}  cash {_yuan(s['cash_fen'])} yuan;"
        f" {s['waiting_period']} self-paid in the waiting period;"
        f" review warned {s['review_warned']}, skipped {s['review_skipped']}"
    )
    for day in report["day_closes"]:
        verdict = "balances" if day["balanced"] else "DOES NOT BALANCE"
        print(
            f"Day close {day['date']}: {day['closed_settlements']:,} settlements at {day['institutions']}"
            f" institutions, fund pay {_yuan(day['fund_pay_fen'])} — {verdict}"
            f" with the {day['claims_accepted']:,} claims accepted"
        )
    m = report["month"]
    print(
        f"Month {m['month']}: {m['status']}, {'balanced' if m['balanced'] else 'UNBALANCED'};"
        f" {m['setl_cnt']:,} settlements, fund pay {_yuan(m['fund_pay_fen'])},"
        f" recovered {_yuan(m['deductions_fen'])} ({report['confirmed']['count']} findings in"
        f" {report['confirmed']['cases']} decided cases), penalties {_yuan(m['penalties_fen'])},"
        f" quality reserve {_yuan(m['quality_reserve_fen'])}, net adjustment {_yuan(m['net_adjustment_fen'])}"
    )
    print("Detection against the ground truth:")
    print(f"  {'family':<22}{'planted':>8}{'found':>7}{'flagged':>9}{'precision':>11}{'recall':>8}")
    for row in report["scores"]:
        print(f"  {row['family']:<22}{row['planted']:>8}{row['found']:>7}{row['detections']:>9}"
              f"{_ratio(row['precision']):>11}{_ratio(row['recall']):>8}")  # fmt: skip
    print(f"Red alerts   {report['red_alerts']} at {', '.join(report['red_alert_pharmacies']) or 'none'}")
    index = report["price_index"]
    listed = ", ".join(f"{code} ({index[code]})" for code in report["price_index_listed"]) or "none"
    print(
        f"Above the index warning line: {listed} (overpriced as planted: {', '.join(report['overpriced'])})"
    )
    for insutype, kpi in report["fund_kpis"].items():
        print(
            f"Fund {insutype}: income {kpi['income']}, expenditure {kpi['expenditure']},"
            f" surplus {kpi['current_surplus']}, balance {kpi['accumulated_balance']},"
            f" months payable {kpi['months_payable']}, inpatient ratio {kpi['inpatient_reimbursement_ratio']},"
            f" settlements {kpi['settlement_count']}"
        )
    if "supervision" in report:
        print("\n".join(report_lines(report["supervision"])))
    if "points" in report:
        print_points(report["points"])
    after = " (after the year clearing)" if "points" in report else ""
    print(f"Ledger       {'balanced' if report['ledger_balanced'] else 'NOT BALANCED'}{after}")
    t = report["timings"]
    year = f", year {t['year']}s" if "year" in t else ""
    print(f"Timings      load {t['load']}s, play {t['play']}s, closes {t['close']}s{year}")


def _points(text: str | None) -> str:
    return "—" if text is None else f"{Decimal(text):,}"


def _signed(fen: int) -> str:
    return f"{'+' if fen > 0 else ''}{_yuan(fen)}"


def print_points(points: dict[str, Any]) -> None:
    """Payment by points: the budget execution on 31 March and each pool's year clearing, as tables."""
    lists = ", ".join(f"{count} by {how}" for how, count in sorted(points["lists"].items())) or "none"
    others = ", ".join(points["not_by_points"]) or "none"
    print(
        f"Payment by points {points['year']}: settlement lists {lists}; {points['month_locked']} locked, then"
        f" {points['closed_days']} more days closed to {points['year']}-12-31"
        f" ({points['settled_after_march']} settlements in them); paid item by item: {others}"
    )
    print(f"Budget execution on {MONTH_END} (before the clearing):")
    print(f"  {'pool':<9}{'budget':>14}{'F so far':>14}{'spent':>9}{'year gone':>11}  {'warning':<8}"
          f"{'prov. PV':>12}  colours")  # fmt: skip
    for pool in points["pools"]:
        run = pool["execution"]
        colours = {
            c: sum(1 for i in run["institutions"] if i["colour"] == c) for c in ("green", "yellow", "red")
        }
        print(
            f"  {pool['insutype']} {pool['method'].upper():<5}{_yuan(pool['budget_fen']):>14}{_yuan(run['f_fen']):>14}"
            f"{float(run['spent_share']):>9.2%}{float(run['year_share']):>11.2%}  "
            f"{'WARNING' if run['warning'] else 'no':<8}{run['provisional_point_value'] or '—':>12}  "
            + ", ".join(f"{n} {c}" for c, n in colours.items())
        )
    for pool in points["pools"]:
        provisional = {i["fixmedins_code"]: i["colour"] for i in pool["execution"]["institutions"]}
        print(
            f"Year clearing {points['year']} {pool['insutype']} ({pool['method'].upper()}), {pool['status']}:"
            f" budget {_yuan(pool['budget_fen'])}, {pool['cases']} cases, T {_points(pool['total_points'])} points,"
            f" N {_yuan(pool['n_fen'])}, F {_yuan(pool['f_fen'])}, PV {pool['point_value']} yuan a point"
        )
        print(f"  {'hospital':<14}{'lv':>3}{'cases':>6}{'points':>12}{'CMI':>10}{'E':>13}{'A':>13}{'W':>11}"
              f"{'s':>6}{'C':>13}  {'colour':<7}{'Mar 31':<7}{'low/high/ungr.':>15}")  # fmt: skip
        for line in pool["lines"]:
            deviations = f"{line['low_cases']}/{line['high_cases']}/{line['ungrouped_cases']}"
            print(
                f"  {line['fixmedins_code']:<14}{line['hosp_lv'] or '':>3}{line['cases']:>6}"
                f"{_points(line['points']):>12}{_points(line['cmi']):>10}{_yuan(line['e_fen']):>13}{_yuan(line['a_fen']):>13}"
                f"{_yuan(line['withheld_fen']):>11}{float(line['score']):>6.2f}{_signed(line['clearing_fen']):>13}"
                f"  {line['colour']:<7}{provisional.get(line['fixmedins_code'], '—'):<7}"
                f"{deviations:>15}"
            )
        lines = pool["lines"]
        total = sum(line["clearing_fen"] for line in lines)
        agrees = (
            total == sum(line["final_fen"] - line["paid_fen"] for line in lines) == pool["clearing_total_fen"]
        )
        print(
            f"  Σ C {_signed(total)} {'=' if agrees else '≠'} Σ (final − paid);"
            f" {sum(1 for line in lines if line['clearing_fen'] > 0)} paid out by disbursement,"
            f" {sum(1 for line in lines if line['clearing_fen'] < 0)} recovered in the next month"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench/demo.py", description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--persons", type=int, default=2000)
    parser.add_argument("--days", type=int, default=3, choices=range(1, 29), metavar="1..28")
    parser.add_argument("--var-dir", type=Path, default=Path("var/demo"), help="wiped and used for this run")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    start = MONTH_END - timedelta(days=args.days - 1)
    print(
        f"Generating a city of {args.persons:,} persons (seed {args.seed}), days {start} .. {MONTH_END} ...",
        flush=True,
    )
    city = generate_city(args.seed, args.persons, days=args.days, start=start)
    stack = SimulatedStack(args.var_dir, at=at(start - timedelta(days=1), 9))

    def stop_on_term(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop_on_term)
    try:
        print(
            f"Starting the platform in {args.var_dir}/ (SQLite, NATS from the wheel, simulated clock) ...",
            flush=True,
        )
        stack.start()
        print(f"  gateway     {stack.gateway_url} (docs {stack.gateway_url}/docs)", flush=True)
        report = asyncio.run(run(city, stack, progress=not args.quiet))
        (stack.var_dir / "report.json").write_text(json.dumps(report, ensure_ascii=False, indent=2))
        print_report(report)
        print(
            f"\nWritten: {args.var_dir}/report.json, {args.var_dir}/ground-truth.json; logs in {args.var_dir}/logs/"
        )
        return 0
    except KeyboardInterrupt:
        print("\nInterrupted.", file=sys.stderr, flush=True)
        return 130
    except Exception as exc:
        errors = list(exc.exceptions) if isinstance(exc, ExceptionGroup) else [exc]
        for error in errors[:3]:
            print(f"\nDemo failed: {type(error).__name__}: {error}", file=sys.stderr, flush=True)
        return 1
    finally:
        print("Stopping ...", flush=True)
        stack.stop()
        print("Stopped.", flush=True)


if __name__ == "__main__":
    sys.exit(main())
