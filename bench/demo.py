"""`make demo`: the platform on embedded defaults, a synthetic city loaded and played, and what it all found.

    python bench/demo.py [--seed 1] [--persons 2000] [--days 3] [--var-dir var/demo] [--quiet]

Starts NATS and the five services (SQLite in a fresh var/demo/) on a simulated clock that stands on the
played days (the last `--days` days of March 2026), loads a city through the gateway's public API, plays each
day's claims and POS sales with each institution's own API key, closes each day (日结算), confirms the planted
findings it caught, closes the rest of the month, reconciles and confirms March (月核算), and prints a report:
settlements and fund pay, findings by rule family with precision and recall against the planted ground truth,
red price alerts, the pharmacies above the price-index warning line and the fund KPIs. Writes
var/demo/report.json and var/demo/ground-truth.json. Every process stops at the end, on error and on Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # `python bench/demo.py` from anywhere

from bench.city import generate_city
from bench.city.client import expect, send, wait_consumed
from bench.city.load import LoadedCity, gateway_client, load_city
from bench.city.model import City
from bench.city.play import DayOutcome, play_day
from bench.city.score import score
from bench.city.stack import SimulatedStack
from common.money import fen_to_yuan, yuan_to_fen

SHANGHAI = ZoneInfo("Asia/Shanghai")
MONTH_END = date(2026, 3, 31)


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
    async with gateway_client(stack.gateway_url, 4) as client:

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
                confirmed = await _confirm_planted(client, city, loaded, outcomes)
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
        ledger = expect(await send(client, "GET", "/settlement/ledger/check", ops), 200)
    findings = await _pages(loaded, "/fraud/findings", {"limit": "500"})
    red_alerts = await _pages(loaded, "/pricing/alerts", {"light": "red", "limit": "200"})
    scores = score(city, loaded.psn_no, outcomes, findings, ranking["listed"], red_alerts)
    return _report(city, loaded, outcomes, closes, computed, reconciliation, confirmed, findings, red_alerts,
                   ranking, kpis, ledger, [s.as_dict() for s in scores], timings)  # fmt: skip


async def _confirm_planted(
    client: Any, city: City, loaded: LoadedCity, outcomes: list[DayOutcome]
) -> dict[str, Any]:
    """Confirm the findings that belong to a planted case (the fund pay to be recovered); settlement deducts it."""
    findings = await _pages(
        loaded, "/fraud/findings", {"status": "open", "category": "fraud", "limit": "500"}
    )
    setl = {m: c.setl_id for o in outcomes for m, c in o.accepted.items()}
    planted_setl = {setl[m] for case in city.cases for m in case.medins_setl_ids if m in setl}
    planted_psn = {loaded.psn_no[p] for case in city.cases for p in case.persons}
    total = count = 0
    for finding in findings:
        if finding["setl_id"] not in planted_setl and finding["psn_no"] not in planted_psn:
            continue
        amount = finding["fund_pay_sumamt"]
        body = {
            "amount_to_recover": amount,
            "note": "演示: 核实为违规，追回基金 (planted case confirmed by the demo)",
        }
        expect(
            await send(
                client, "POST", f"/fraud/findings/{finding['finding_id']}/confirm", loaded.ops_key, json=body
            ),
            200,
        )
        count += 1
        total += yuan_to_fen(amount)
    await wait_consumed(client, loaded.ops_key, "settlement", {"fraud.finding.confirmed": count}, timeout_s=120,
                        what="the confirmed findings")  # fmt: skip
    return {"count": count, "amount_fen": total}


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
        f" deductions {_yuan(m['deductions_fen'])} ({report['confirmed']['count']} confirmed findings),"
        f" net adjustment {_yuan(m['net_adjustment_fen'])}"
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
    print(f"Ledger       {'balanced' if report['ledger_balanced'] else 'NOT BALANCED'}")
    t = report["timings"]
    print(f"Timings      load {t['load']}s, play {t['play']}s, closes {t['close']}s")


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
