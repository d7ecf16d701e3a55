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
prints a report for the bureau, in Chinese (units 元/笔/家, thousands separators, a line saying what each
figure is, anomalies such as a negative surplus called out): settlements and fund pay, findings by rule
family with precision and recall against the planted ground truth, cases by state and the suspended
practitioners, red price alerts, the pharmacies above the price-index warning line, the fund KPIs, and per
pool the budget, T, N, F, the point value and per hospital its cases, points, CMI, E, A, W, s, C and colour
(report.json keeps the figures, keys in English). Writes var/demo/report.json and
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
    FAMILY_NAMES,
    Supervision,
    after_the_month,
    cell,
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
            # outpatient claims played through the national messages 2201 → 2204 → 2207 (accepted or refused)
            "national_claims": sum(outcome.national_claims for outcome in outcomes),
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
    return "—" if value is None else f"{value:.2f}"


def _n(value: int) -> str:
    return f"{value:,}"


def _amount(text: str | None) -> str:
    """An amount in yuan as the API gives it (a decimal string), with thousands separators and 2 places."""
    return "—" if text is None else f"{Decimal(text):,.2f}"


# What the refusal codes of the played claims mean, for the report.
REFUSALS = {
    "REVIEW_BLOCKED": "实时审核拦截",
    "PRACTITIONER_SUSPENDED": "医师/药师已暂停医保支付资格",
    "TRACE_CODE_REQUIRED": "缺少药品追溯码",
    "NO_COVERAGE": "无有效参保",
    "PERSON_DECEASED": "参保人已死亡",
}
MONTH_STATUS = {"draft": "草稿", "confirmed": "已确认", "locked": "已锁定"}
INSUTYPES = {"310": "职工基本医疗保险统筹基金", "390": "城乡居民基本医疗保险统筹基金"}
# 累计结余可支付月数: 6–9 months is the reasonable range of a pool's accumulated balance (人社部发〔2009〕67号);
# below 6 the demo calls it out as under the warning line, below 3 as short.
MONTHS_PAYABLE_WARNING = Decimal(6)
MONTHS_PAYABLE_SHORT = Decimal(3)


def print_report(report: dict[str, Any]) -> None:
    s = report["settlements"]
    print(
        f"\n== 演示报告：参保人 {_n(report['persons'])} 人，业务日 {'、'.join(report['days'])}"
        f"（随机种子 {report['seed']}）=="
    )
    refused = sum(s["refused"].values())
    why = "、".join(
        f"{REFUSALS.get(code, code)} {code} {_n(n)} 笔" for code, n in sorted(s["refused"].items())
    )
    print(
        f"结算：受理 {_n(s['accepted'])} 笔，拒付 {_n(refused)} 笔{'（' + why + '）' if why else ''}"
        "；拒付的结算不写入任何数据"
    )
    print(f"  其中经国家接口（2201/2204/2207）结算 {_n(s['national_claims'])} 笔")
    print(
        f"  医疗费总额 {_yuan(s['medfee_fen'])} 元 = 基金支付 {_yuan(s['fund_pay_fen'])} 元"
        f" + 个人账户支付 {_yuan(s['acct_pay_fen'])} 元 + 现金支付 {_yuan(s['cash_fen'])} 元"
    )
    print(
        f"  待遇等待期内的结算 {_n(s['waiting_period'])} 笔（按全自费结算，基金不支付）；"
        f"实时审核提示 {_n(s['review_warned'])} 笔，审核未及时应答而放行 {_n(s['review_skipped'])} 笔"
    )
    for day in report["day_closes"]:
        verdict = (
            f"与当日受理的 {_n(day['claims_accepted'])} 笔结算逐笔相符"
            if day["balanced"]
            else f"⚠ 与当日受理的 {_n(day['claims_accepted'])} 笔结算不符，须核查"
        )
        print(
            f"日结算 {day['date']}：结算 {_n(day['closed_settlements'])} 笔，涉及 {_n(day['institutions'])} 家机构，"
            f"基金支付 {_yuan(day['fund_pay_fen'])} 元；{verdict}"
        )
    m = report["month"]
    balanced = "各日结算单与结算明细相符" if m["balanced"] else "⚠ 日结算单与结算明细不符，不能确认"
    print(
        f"月核算 {m['month']}：{MONTH_STATUS.get(m['status'], m['status'])}，{balanced}；"
        f"结算 {_n(m['setl_cnt'])} 笔，基金支付 {_yuan(m['fund_pay_fen'])} 元"
    )
    print(
        f"  扣减：追回 {_yuan(m['deductions_fen'])} 元（{_n(report['confirmed']['count'])} 个疑点，"
        f"来自核算时已决定的 {_n(report['confirmed']['cases'])} 个案件），罚款 {_yuan(m['penalties_fen'])} 元，"
        f"质量保证金 {_yuan(m['quality_reserve_fen'])} 元；净调整 {_yuan(m['net_adjustment_fen'])} 元"
    )
    print(
        "  （净调整 = −(追回 + 罚款 + 预付款 + 质量保证金)，从拨付给机构的款项中扣减；"
        "核算确认之后才决定的案件在下一个月扣减）"
    )
    print("智能监控：疑点与埋设的违规案例对照")
    print(
        "  "
        + cell("规则", 34)
        + cell("埋设", 6, right=True)
        + cell("查出", 6, right=True)
        + cell("疑点", 7, right=True)
        + cell("精确率", 9, right=True)
        + cell("召回率", 9, right=True)
    )
    for row in report["scores"]:
        name = f"{FAMILY_NAMES.get(row['family'], '')} {row['family']}".strip()
        print(
            "  "
            + cell(name, 34)
            + cell(_n(row["planted"]), 6, right=True)
            + cell(_n(row["found"]), 6, right=True)
            + cell(_n(row["detections"]), 7, right=True)
            + cell(_ratio(row["precision"]), 9, right=True)
            + cell(_ratio(row["recall"]), 9, right=True)
        )
    print(
        "  埋设：演示故意制造的违规案例数；查出：其中被平台发现的案例数；疑点：平台为该规则产生的疑点数"
        "（追溯码重复为实时审核拦截的结算数，量价指数为超过警戒线的药店数，红灯预警为预警条数）；"
    )
    print("  精确率 = 疑点中属于埋设案例的比例；召回率 = 查出 ÷ 埋设。两者都为 1.00 即无漏报、无误报。")
    pharmacies, planted = report["red_alert_pharmacies"], report["overpriced"]
    per_pharmacy = f"，平均每家 {report['red_alerts'] / len(pharmacies):,.1f} 种药品" if pharmacies else ""
    print(
        f"价格监测：红灯预警 {_n(report['red_alerts'])} 条，来自 {_n(len(pharmacies))} 家药店"
        f"（{'、'.join(pharmacies) or '无'}）"
    )
    print(
        f"  每条预警是一家药店的一种药品：同一药店、同一药品、同一灯色在处理前只保留一条，"
        f"所以 {_n(report['red_alerts'])} 条 = 每家药店售价超标的药品种数之和{per_pharmacy}；"
        "差值比 = 售价 ÷ 参考价 − 1，超过 0.30（或超过集采中选价的 1.5 倍）亮红灯"
    )
    extra = sorted(set(pharmacies) - set(planted))
    print(
        f"  ⚠ 另有非埋设药店亮红灯：{'、'.join(extra)}"
        if extra
        else f"  亮红灯的药店均为埋设的 {_n(len(planted))} 家高价药店（{'、'.join(planted)}）"
    )
    index = report["price_index"]
    listed = "、".join(f"{code}（指数 {index[code]}）" for code in report["price_index_listed"]) or "无"
    print(f"  量价比较指数超过警戒线、应约谈的药店：{listed}")
    print(
        "  （量价比较指数 = Σ(售价 × 数量) ÷ Σ(参考价 × 数量)，1.00 即与参考价持平；"
        f"埋设的高价药店：{'、'.join(planted) or '无'}）"
    )
    for insutype, kpi in report["fund_kpis"].items():
        print_fund_kpis(insutype, kpi)
    if "supervision" in report:
        print("\n".join(report_lines(report["supervision"])))
    if "points" in report:
        print_points(report["points"])
    after = "（年度清算之后）" if "points" in report else ""
    verdict = "平衡" if report["ledger_balanced"] else "⚠ 不平衡，须核查"
    print(f"账务核对{after}：{verdict}——每笔凭证借贷相抵，个人账户、年度累计与结算记录一致")
    t = report["timings"]
    year = f"，年度清算 {t['year']:,} 秒" if "year" in t else ""
    print(f"耗时：加载 {t['load']:,} 秒，业务 {t['play']:,} 秒，日结算与月核算 {t['close']:,} 秒{year}")


def print_fund_kpis(insutype: str, kpi: dict[str, Any]) -> None:
    """基金运行 of one pool's month: each KPI with what it is, and what is out of line called out."""
    print(f"基金运行 {kpi['month']} · {insutype} {INSUTYPES.get(insutype, '')}：")
    print(f"  收入 {_amount(kpi['income'])} 元（当月记入统筹基金的缴费）")
    print(f"  支出 {_amount(kpi['expenditure'])} 元（当月结算的基金支付，扣除当月冲销）")
    surplus = Decimal(kpi["current_surplus"])
    print(f"  当期结余 {_amount(kpi['current_surplus'])} 元（收入 − 支出）")
    if surplus < 0:
        print(f"  ⚠ 当期结余为负：本月支出比收入多 {-surplus:,.2f} 元，动用了累计结余")
    balance = Decimal(kpi["accumulated_balance"])
    print(f"  累计结余 {_amount(kpi['accumulated_balance'])} 元（月末基金账户余额）")
    if balance < 0:
        print("  ⚠ 累计结余为负：基金付出的多于收到的（演示平台的基金账户从零起步，只记入了演示载入的缴费）")
    months = kpi["months_payable"]
    averaged = f"按 {_n(kpi['months_averaged'])} 个有记账的月份平均"
    if months is None:
        print("  累计结余可支付月数：无法计算（近 12 个月没有基金支出）")
    else:
        print(
            f"  累计结余可支付月数 {Decimal(months):,.2f} 个月（累计结余 ÷ 近 12 个月平均月支出，{averaged}）"
        )
        if Decimal(months) < MONTHS_PAYABLE_SHORT:
            print("  ⚠ 低于 6 个月的警戒线，且不足 3 个月：结余不足（合理区间为 6–9 个月）")
        elif Decimal(months) < MONTHS_PAYABLE_WARNING:
            print("  ⚠ 低于 6 个月的警戒线（合理区间为 6–9 个月）")
    ratio = kpi["inpatient_reimbursement_ratio"]
    shown = "—（当月无住院结算）" if ratio is None else f"{Decimal(ratio) * 100:,.2f}%"
    print(
        f"  政策范围内住院费用基金支付比例 {shown}"
        f"（住院基金支付 {_amount(kpi['inpatient_fund_pay'])} 元 ÷ 住院政策范围内费用"
        f" {_amount(kpi['inpatient_inscp_amt'])} 元）"
    )
    print(
        f"  结算 {_n(kpi['settlement_count'])} 笔，冲销 {_n(kpi.get('reversal_count', 0))} 笔（当月业务日）"
    )


def _points(text: str | None) -> str:
    return "—" if text is None else f"{Decimal(text):,}"


def _signed(fen: int) -> str:
    return f"{'+' if fen > 0 else ''}{_yuan(fen)}"


COLOURS = {"green": "绿", "yellow": "黄", "red": "红"}
CLEARING_STATUS = {"draft": "草稿", "confirmed": "已确认", "locked": "已锁定"}
HOW = {"4101A": "国家接口 4101A", "rest": "REST 接口"}


def print_points(points: dict[str, Any]) -> None:
    """Payment by points: the budget execution on 31 March and each pool's year clearing, as tables."""
    lists = (
        "、".join(f"{HOW.get(how, how)} {_n(count)} 份" for how, count in sorted(points["lists"].items()))
        or "无"
    )
    others = "、".join(points["not_by_points"]) or "无"
    print(
        f"按病组（DRG）/病种分值（DIP）点数付费 {points['year']} 年：医保结算清单 {lists}；"
        f"{points['month_locked']} 锁定后，又关闭了 {_n(points['closed_days'])} 个业务日至 {points['year']}-12-31"
        f"（其间结算 {_n(points['settled_after_march'])} 笔）；不按点数付费（按项目付费）的医院：{others}"
    )
    print(f"预算执行（{MONTH_END}，年度清算之前）：")
    print(
        "  "
        + cell("统筹基金", 10)
        + cell("年度预算（元）", 16, right=True)
        + cell("已支付 F（元）", 16, right=True)
        + cell("预算已用", 10, right=True)
        + cell("年度已过", 10, right=True)
        + "  "
        + cell("预警", 6)
        + cell("预估点值（元）", 16, right=True)
        + "  三色"
    )
    for pool in points["pools"]:
        run = pool["execution"]
        colours = {
            c: sum(1 for i in run["institutions"] if i["colour"] == c) for c in ("green", "yellow", "red")
        }
        print(
            "  "
            + cell(f"{pool['insutype']} {pool['method'].upper()}", 10)
            + cell(_yuan(pool["budget_fen"]), 16, right=True)
            + cell(_yuan(run["f_fen"]), 16, right=True)
            + cell(f"{float(run['spent_share']):.2%}", 10, right=True)
            + cell(f"{float(run['year_share']):.2%}", 10, right=True)
            + "  "
            + cell("⚠ 预警" if run["warning"] else "正常", 6)
            + cell(run["provisional_point_value"] or "—", 16, right=True)
            + "  "
            + "、".join(f"{COLOURS[c]} {_n(n)} 家" for c, n in colours.items())
        )
    print("  预算已用 = 已支付 F ÷ 年度预算；比年度已过的比例多出 5 个百分点以上即预警")
    for pool in points["pools"]:
        run = pool["execution"]
        if run["warning"]:
            print(
                f"  ⚠ {pool['insutype']}：预算已用 {float(run['spent_share']):.2%}，"
                f"年度才过 {float(run['year_share']):.2%}"
                "（演示只结算了 3 月的几天，预算按这些病例预期费用的 95% 设定，所以年初就已用尽）"
            )
    print("  三色：(F_i − E_i) ÷ E_i，即医院已获支付超出其按点数应得 E_i 的比例；≤ 0 绿，≤ 0.10 黄，超过为红")
    for pool in points["pools"]:
        provisional = {i["fixmedins_code"]: i["colour"] for i in pool["execution"]["institutions"]}
        print(
            f"年度清算 {points['year']} {pool['insutype']}（{pool['method'].upper()}），"
            f"{CLEARING_STATUS.get(pool['status'], pool['status'])}：预算 {_yuan(pool['budget_fen'])} 元，"
            f"病例 {_n(pool['cases'])} 例，总点数 T {_points(pool['total_points'])}，"
            f"统筹基金以外支付 N {_yuan(pool['n_fen'])} 元，统筹基金已付 F {_yuan(pool['f_fen'])} 元，"
            f"点值 PV {pool['point_value']} 元/点"
        )
        print(
            "  "
            + cell("医院", 14)
            + cell("级", 3, right=True)
            + cell("病例", 6, right=True)
            + cell("点数", 12, right=True)
            + cell("CMI", 10, right=True)
            + cell("应得 E", 13, right=True)
            + cell("核定 A", 13, right=True)
            + cell("保证金 W", 11, right=True)
            + cell("质量 s", 8, right=True)
            + cell("清算 C", 13, right=True)
            + "  "
            + cell("清算时", 7)
            + cell("3月31日", 8)
            + cell("低倍/高倍/未入组", 18, right=True)
        )
        for line in pool["lines"]:
            deviations = f"{_n(line['low_cases'])}/{_n(line['high_cases'])}/{_n(line['ungrouped_cases'])}"
            print(
                "  "
                + cell(line["fixmedins_code"], 14)
                + cell(line["hosp_lv"] or "", 3, right=True)
                + cell(_n(line["cases"]), 6, right=True)
                + cell(_points(line["points"]), 12, right=True)
                + cell(_points(line["cmi"]), 10, right=True)
                + cell(_yuan(line["e_fen"]), 13, right=True)
                + cell(_yuan(line["a_fen"]), 13, right=True)
                + cell(_yuan(line["withheld_fen"]), 11, right=True)
                + cell(f"{float(line['score']):.2f}", 8, right=True)
                + cell(_signed(line["clearing_fen"]), 13, right=True)
                + "  "
                + cell(COLOURS.get(line["colour"], line["colour"]), 7)
                + cell(COLOURS.get(provisional.get(line["fixmedins_code"], ""), "—"), 8)
                + cell(deviations, 18, right=True)
            )
        lines = pool["lines"]
        total = sum(line["clearing_fen"] for line in lines)
        agrees = (
            total == sum(line["final_fen"] - line["paid_fen"] for line in lines) == pool["clearing_total_fen"]
        )
        paid_out = sum(1 for line in lines if line["clearing_fen"] > 0)
        recovered = sum(1 for line in lines if line["clearing_fen"] < 0)
        print(
            f"  Σ C {_signed(total)} 元 {'=' if agrees else '≠ ⚠'} Σ (final_i − 已付 P_i)；"
            f"{_n(paid_out)} 家医院为正，由拨付单补付；{_n(recovered)} 家为负，在下一个月核算中追回"
        )
    print(
        "  点值 PV = (预算 + N) ÷ T；E = 点数 × PV − N_i（按点数应得的统筹基金）；A = 结余留用/超支分担后核定的金额；"
        "W = 各月预留的质量保证金；s = 年度质量考核得分；C = A × (1 − q × (1 − s)) − (F_i − W_i)，"
        "即年度应付与已付之差"
    )


def serve_console(stack: SimulatedStack) -> None:
    """Keep the platform up so staff can look at the same figures in the console, until Ctrl-C.

    The ops key is only named by its file (the bootstrap key the gateway wrote), never printed."""
    print(
        f"\n医保局工作台 console: {stack.gateway_url}/console — sign in with the ops key in "
        f"{stack.var_dir / 'bootstrap-ops-key'}\n(the clock stands after the year clearing: pick 2026-03 on each "
        "page). Ctrl-C stops it.",
        flush=True,
    )
    while True:
        time.sleep(3600)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench/demo.py", description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--persons", type=int, default=2000)
    parser.add_argument("--days", type=int, default=3, choices=range(1, 29), metavar="1..28")
    parser.add_argument("--var-dir", type=Path, default=Path("var/demo"), help="wiped and used for this run")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.add_argument(
        "--serve",
        action="store_true",
        help="after the report, keep the platform running for the console (/console) until Ctrl-C",
    )
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
        if args.serve:
            serve_console(stack)
        return 0
    except KeyboardInterrupt:
        if args.serve and (stack.var_dir / "report.json").exists():
            return 0  # Ctrl-C is how the console's viewing ends
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
