"""The console's pages, each built on the services' own APIs.

Every page calls the services from the gateway under the signed principal of the ops client signed in, as
the overviews do; a service that does not answer leaves its part of the page marked unavailable.
"""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import date, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from common.clock import business_date
from common.errors import NotFound
from common.principal import Principal
from gateway.api.overview import Section, fetch_section, institution_overview, person_overview
from gateway.console.site import page

router = APIRouter(prefix="/console", include_in_schema=False)

INSUTYPES = {
    "310": "职工基本医疗保险统筹",
    "330": "职工大额医疗补助",
    "390": "城乡居民基本医疗保险",
    "392": "城乡居民大病保险",
}
POINTS_INSUTYPES = ("310", "390")
# 累计结余可支付月数 under this many months is called out (the usual reasonable range is 6 to 9 months).
MONTHS_PAYABLE_WARNING = Decimal(6)


# --- helpers for the pages ------------------------------------------------------------------------------


def _today(request: Request) -> date:
    return business_date(request.app.state.clock.now())


def _month_of(text: str | None, default: date) -> date:
    """The first day of a YYYY-MM month (the default's month when absent or malformed)."""
    try:
        year, month = (int(part) for part in (text or "").split("-"))
        return date(year, month, 1)
    except ValueError:
        return default.replace(day=1)


def _months_back(last: date, count: int) -> list[str]:
    months, year, month = [], last.year, last.month
    for _ in range(count):
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return months[::-1]


def _items(section: Section) -> list[dict[str, Any]]:
    if section.status != "ok":
        return []
    data = section.data
    if isinstance(data, dict):
        return list(data.get("items") or [])
    return list(data or [])


async def _pages(
    request: Request, principal: Principal, service: str, path: str, params: dict[str, Any], *, pages: int
) -> tuple[list[dict[str, Any]], Section]:
    """Up to `pages` pages of a cursor-paginated list, and the first failing (or the last) answer."""
    items: list[dict[str, Any]] = []
    cursor: Any = None
    section = Section(service=service, status="ok", data={"items": []})
    for _ in range(pages):
        section = await fetch_section(
            request, principal, service, path, params | ({"cursor": cursor} if cursor else {})
        )
        if section.status != "ok":
            break
        items.extend(_items(section))
        cursor = section.data.get("next_cursor") if isinstance(section.data, dict) else None
        if not cursor:
            break
    return items, section


def _chart(traces: list[dict[str, Any]], **layout: Any) -> dict[str, Any]:
    return {"data": traces, "layout": layout}


def _sum(values: Iterable[Any]) -> Decimal:
    return sum((Decimal(str(v)) for v in values if v is not None), Decimal(0))


# --- 基金运行 ---------------------------------------------------------------------------------------------


@router.get("/fund")
async def fund_page(request: Request) -> Response:
    return await page(request, "fund.html", _fund)


async def _fund(request: Request, principal: Principal) -> dict[str, Any]:
    insutype = request.query_params.get("insutype", "310")
    if insutype not in INSUTYPES:
        insutype = "310"
    month = _month_of(request.query_params.get("month"), _today(request))
    months = _months_back(month, 12)
    series, latest = await asyncio.gather(
        asyncio.gather(
            *(
                fetch_section(
                    request, principal, "settlement", "/fund-kpis", {"insutype": insutype, "month": m}
                )
                for m in months
            )
        ),
        asyncio.gather(
            *(
                fetch_section(
                    request, principal, "settlement", "/fund-kpis", {"insutype": i, "month": months[-1]}
                )
                for i in INSUTYPES
            )
        ),
    )
    rows = [s.data for s in series if s.status == "ok" and isinstance(s.data, dict)]
    cards = []
    for code, section in zip(INSUTYPES, latest, strict=True):
        kpi = section.data if section.status == "ok" and isinstance(section.data, dict) else None
        cards.append({"insutype": code, "name": INSUTYPES[code], "kpi": kpi, "warnings": _fund_warnings(kpi)})
    x = [row["month"] for row in rows]
    flow = _chart(
        [
            {"type": "bar", "name": "基金收入 income", "x": x, "y": [r["income"] for r in rows]},
            {"type": "bar", "name": "基金支出 expenditure", "x": x, "y": [r["expenditure"] for r in rows]},
            {
                "type": "scatter",
                "mode": "lines+markers",
                "name": "当期结余 surplus",
                "x": x,
                "y": [r["current_surplus"] for r in rows],
            },
        ],
        barmode="group",
        yaxis={"title": {"text": "元 yuan"}},
    )
    balance = _chart(
        [
            {
                "type": "bar",
                "name": "累计结余 balance",
                "x": x,
                "y": [r["accumulated_balance"] for r in rows],
            },
            {
                "type": "scatter",
                "mode": "lines+markers",
                "name": "可支付月数 months payable",
                "x": x,
                "y": [r["months_payable"] for r in rows],
                "yaxis": "y2",
            },
        ],
        yaxis={"title": {"text": "元 yuan"}},
        yaxis2={"title": {"text": "月 months"}, "overlaying": "y", "side": "right", "rangemode": "tozero"},
    )
    return {
        "title": "基金运行 Fund",
        "page": "fund",
        "insutype": insutype,
        "insutypes": INSUTYPES,
        "month": months[-1],
        "rows": rows,
        "cards": cards,
        "unavailable": any(s.status != "ok" for s in (*series, *latest)),
        "charts": {"fund-flow": flow, "fund-balance": balance},
        "warning_line": MONTHS_PAYABLE_WARNING,
    }


def _fund_warnings(kpi: dict[str, Any] | None) -> list[str]:
    if kpi is None:
        return []
    warnings = []
    if Decimal(kpi["current_surplus"]) < 0:
        warnings.append("当期收不抵支 (negative surplus)")
    payable = kpi.get("months_payable")
    if payable is not None and Decimal(str(payable)) < MONTHS_PAYABLE_WARNING:
        warnings.append(f"可支付月数低于 {MONTHS_PAYABLE_WARNING} 个月预警线")
    return warnings


# --- 日结算 -----------------------------------------------------------------------------------------------


@router.get("/daily")
async def daily_page(request: Request) -> Response:
    return await page(request, "daily.html", _daily)


async def _daily(request: Request, principal: Principal) -> dict[str, Any]:
    today = _today(request)
    try:
        day = date.fromisoformat(request.query_params.get("date", ""))
    except ValueError:
        day = today - timedelta(days=1)
    first = day - timedelta(days=13)
    month = f"{day:%Y-%m}"
    recent, statements, closed, pending, reconciliation = await asyncio.gather(
        fetch_section(request, principal, "settlement", "/daily-statements", {"limit": 5000}),
        fetch_section(request, principal, "settlement", "/daily-statements", {"date": day.isoformat()}),
        fetch_section(request, principal, "settlement", f"/day-closes/{day.isoformat()}"),
        fetch_section(
            request, principal, "settlement", "/disbursements", {"status": "pending", "limit": 1000}
        ),
        fetch_section(request, principal, "settlement", f"/monthly-reconciliations/{month}"),
    )
    by_day: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for row in _items(recent):
        if first.isoformat() <= row["business_date"] <= day.isoformat():
            totals = by_day[row["business_date"]]
            totals["setl_cnt"] += row["setl_cnt"]
            totals["fund_pay_sumamt"] += Decimal(str(row["fund_pay_sumamt"] or 0))
            totals["medfee_sumamt"] += Decimal(str(row["medfee_sumamt"] or 0))
    days = [(first + timedelta(days=n)).isoformat() for n in range(14)]
    chart = _chart(
        [
            {
                "type": "bar",
                "name": "结算笔数 settlements",
                "x": days,
                "y": [int(by_day[d]["setl_cnt"]) if d in by_day else 0 for d in days],
            },
            {
                "type": "scatter",
                "mode": "lines+markers",
                "name": "基金支付 fund pay (元)",
                "x": days,
                "y": [str(by_day[d]["fund_pay_sumamt"]) if d in by_day else "0" for d in days],
                "yaxis": "y2",
            },
        ],
        yaxis={"title": {"text": "笔 count"}, "rangemode": "tozero"},
        yaxis2={"title": {"text": "元 yuan"}, "overlaying": "y", "side": "right", "rangemode": "tozero"},
        xaxis={"type": "category"},
    )
    recon = reconciliation.data if reconciliation.status == "ok" else None
    return {
        "title": "日结算 Day close",
        "page": "daily",
        "day": day.isoformat(),
        "today": today.isoformat(),
        "month": month,
        "statements": _items(statements),
        "closed": closed.data if closed.status == "ok" else None,
        "pending": _items(pending),
        "pending_total": _sum(row["amount"] for row in _items(pending)),
        "reconciliation": recon,
        "reconciliation_state": _reconciliation_state(reconciliation),
        "unavailable": any(s.status == "unavailable" for s in (recent, statements, pending)),
        "charts": {"daily-trend": chart},
    }


def _reconciliation_state(section: Section) -> str:
    if section.status == "ok" and isinstance(section.data, dict):
        status = {"draft": "草稿 draft", "confirmed": "已确认 confirmed", "locked": "已锁定 locked"}
        text = status.get(section.data.get("status", ""), str(section.data.get("status")))
        return text + ("" if section.data.get("balanced") else "，有差异 mismatches")
    if section.status == "error" and (section.error or {}).get("status") == 404:
        return "未核算 not computed yet"
    return "不可用 unavailable"


# --- 价格监测 ---------------------------------------------------------------------------------------------


@router.get("/prices")
async def prices_page(request: Request) -> Response:
    return await page(request, "prices.html", _prices)


async def _prices(request: Request, principal: Principal) -> dict[str, Any]:
    month = _month_of(request.query_params.get("month"), _today(request))
    month_text = f"{month:%Y-%m}"
    (alerts, alerts_section), ranking = await asyncio.gather(
        _pages(request, principal, "pricing", "/alerts", {"status": "open", "limit": 200}, pages=10),
        fetch_section(request, principal, "pricing", "/price-index/ranking", {"month": month_text}),
    )
    by_drug: dict[str, Counter[str]] = defaultdict(Counter)
    by_pharmacy: dict[str, Counter[str]] = defaultdict(Counter)
    for alert in alerts:
        by_drug[alert["med_list_codg"]][alert["light"]] += 1
        by_pharmacy[alert["fixmedins_code"]][alert["light"]] += 1

    def lights(counts: dict[str, Counter[str]]) -> dict[str, Any]:
        keys = sorted(counts, key=lambda k: (-counts[k]["red"], -counts[k]["yellow"], k))[:20]
        return _chart(
            [
                {
                    "type": "bar",
                    "name": "红灯 red",
                    "x": keys,
                    "y": [counts[k]["red"] for k in keys],
                    "marker": {"color": "#d62728"},
                },
                {
                    "type": "bar",
                    "name": "黄灯 yellow",
                    "x": keys,
                    "y": [counts[k]["yellow"] for k in keys],
                    "marker": {"color": "#f2b701"},
                },
            ],
            barmode="stack",
            xaxis={"type": "category"},
            yaxis={"title": {"text": "未处理预警 open alerts"}},
        )

    rank = ranking.data if ranking.status == "ok" and isinstance(ranking.data, dict) else {}
    ranked = [row for row in rank.get("items") or [] if row.get("price_index") is not None][:20]
    charts = {"alerts-by-drug": lights(by_drug), "alerts-by-pharmacy": lights(by_pharmacy)}
    if ranked:
        names = [row.get("fixmedins_name") or row["fixmedins_code"] for row in ranked]
        charts["price-index"] = _chart(
            [
                {
                    "type": "bar",
                    "name": "量价比较指数 index",
                    "x": names,
                    "y": [row["price_index"] for row in ranked],
                    "marker": {
                        "color": ["#d62728" if row["above_warning_line"] else "#1f77b4" for row in ranked]
                    },
                },
                {
                    "type": "scatter",
                    "mode": "lines",
                    "name": "预警线 warning line",
                    "x": names,
                    "y": [rank.get("warning_line")] * len(ranked),
                    "line": {"dash": "dash", "color": "#d62728"},
                },
            ],
            xaxis={"type": "category"},
        )
    return {
        "title": "价格监测 Prices",
        "page": "prices",
        "month": month_text,
        "alert_count": Counter(alert["light"] for alert in alerts),
        "latest_alerts": alerts[:30],
        "ranking": rank,
        "listed": [row for row in rank.get("items") or [] if row.get("above_warning_line")],
        "unavailable": alerts_section.status != "ok" or ranking.status != "ok",
        "charts": charts,
    }


# --- 智能监控 ---------------------------------------------------------------------------------------------

FINDING_STATES = {"open": "待处理 open", "confirmed": "已确认 confirmed", "dismissed": "已排除 dismissed"}
CASE_STATES = {
    "notified": "已告知 notified",
    "appealed": "申诉中 appealed",
    "upheld": "维持 upheld",
    "decided": "已处理 decided",
    "closed": "已结案 closed",
}


@router.get("/fraud")
async def fraud_page(request: Request) -> Response:
    return await page(request, "fraud.html", _fraud)


async def _fraud(request: Request, principal: Principal) -> dict[str, Any]:
    (findings, findings_section), (cases, cases_section), rules = await asyncio.gather(
        _pages(request, principal, "fraud", "/findings", {"limit": 500}, pages=10),
        _pages(request, principal, "fraud", "/cases", {"limit": 500}, pages=4),
        fetch_section(request, principal, "fraud", "/rules"),
    )
    names = {rule["rule_id"]: rule["name"] for rule in _items(rules)}
    by_rule: dict[int, Counter[str]] = defaultdict(Counter)
    for finding in findings:
        by_rule[finding["rule_id"]][finding["status"]] += 1
    rule_ids = sorted(by_rule, key=lambda r: (-sum(by_rule[r].values()), r))[:20]
    labels = [f"{r} {names.get(r, '')}".strip() for r in rule_ids]
    colours = {"open": "#ff7f0e", "confirmed": "#d62728", "dismissed": "#7f7f7f"}
    by_rule_chart = _chart(
        [
            {
                "type": "bar",
                "orientation": "h",
                "name": label,
                "y": labels,
                "x": [by_rule[r][state] for r in rule_ids],
                "marker": {"color": colours[state]},
            }
            for state, label in FINDING_STATES.items()
        ],
        barmode="stack",
        yaxis={"type": "category", "automargin": True, "autorange": "reversed"},
        xaxis={"title": {"text": "疑点数 findings"}},
    )
    case_counts = Counter(case["status"] for case in cases)
    cases_chart = _chart(
        [
            {
                "type": "bar",
                "name": "案件 cases",
                "x": list(CASE_STATES.values()),
                "y": [case_counts[state] for state in CASE_STATES],
                "marker": {"color": "#1f77b4"},
            }
        ],
        xaxis={"type": "category"},
        yaxis={"title": {"text": "件 cases"}, "rangemode": "tozero", "dtick": 1},
    )
    return {
        "title": "智能监控 Supervision",
        "page": "fraud",
        "findings": findings[:50],
        "finding_total": len(findings),
        "finding_counts": Counter(f["status"] for f in findings),
        "rule_names": names,
        "states": FINDING_STATES,
        "case_states": CASE_STATES,
        "case_counts": case_counts,
        "cases": cases[:20],
        "unavailable": findings_section.status != "ok" or cases_section.status != "ok",
        "charts": {"findings-by-rule": by_rule_chart, "cases-by-state": cases_chart},
    }


@router.get("/findings/{finding_id}")
async def finding_page(finding_id: int, request: Request) -> Response:
    async def build(request: Request, principal: Principal) -> dict[str, Any]:
        section = await fetch_section(request, principal, "fraud", f"/findings/{finding_id}")
        if section.status == "error" and (section.error or {}).get("status") == 404:
            raise NotFound(f"没有疑点 {finding_id}。No finding {finding_id}.", code="FINDING_NOT_FOUND")
        finding = section.data if section.status == "ok" else None
        rule = None
        if finding is not None:
            answered = await fetch_section(request, principal, "fraud", f"/rules/{finding['rule_id']}")
            rule = answered.data if answered.status == "ok" else None
        return {
            "title": f"疑点 Finding {finding_id}",
            "page": "fraud",
            "finding_id": finding_id,
            "finding": finding,
            "rule": rule,
            "states": FINDING_STATES,
            "unavailable": section.status != "ok",
            "charts": {},
        }

    return await page(request, "finding.html", build)


# --- 按点数付费 -------------------------------------------------------------------------------------------

COLOURS = {"green": "#2ca02c", "yellow": "#f2b701", "red": "#d62728"}


@router.get("/points")
async def points_page(request: Request) -> Response:
    return await page(request, "points.html", _points)


async def _points(request: Request, principal: Principal) -> dict[str, Any]:
    today = _today(request)
    year_text = request.query_params.get("year", "")
    year = int(year_text) if year_text.isdigit() and 2000 <= int(year_text) <= 2100 else today.year
    executions, clearings = await asyncio.gather(
        asyncio.gather(
            *(
                fetch_section(
                    request, principal, "settlement", "/budget-execution", {"year": year, "insutype": i}
                )
                for i in POINTS_INSUTYPES
            )
        ),
        asyncio.gather(
            *(
                fetch_section(request, principal, "settlement", f"/annual-clearings/{year}/{i}")
                for i in POINTS_INSUTYPES
            )
        ),
    )
    pools, charts = [], {}
    for insutype, execution, clearing in zip(POINTS_INSUTYPES, executions, clearings, strict=True):
        if execution.status != "ok" or not isinstance(execution.data, dict):
            missing = (execution.error or {}).get("code") == "PAYMENT_YEAR_NOT_FOUND"
            pools.append(
                {"insutype": insutype, "name": INSUTYPES[insutype], "missing": missing, "data": None}
            )
            continue
        cleared = {
            line["fixmedins_code"]: line
            for line in (clearing.data or {}).get("lines", [])
            if clearing.status == "ok" and isinstance(clearing.data, dict)
        }
        lines = []
        for line in execution.data.get("institutions") or []:
            cases = line.get("cases") or 0
            cmi = cleared.get(line["fixmedins_code"], {}).get("cmi")
            if cmi is None and cases:
                cmi = str((Decimal(line["points"]) / cases).quantize(Decimal("0.0001")))
            lines.append(line | {"cmi": cmi})
        pools.append(
            {
                "insutype": insutype,
                "name": INSUTYPES[insutype],
                "missing": False,
                "data": execution.data,
                "lines": lines,
                "clearing": clearing.data if clearing.status == "ok" else None,
            }
        )
        if lines:
            codes = [line["fixmedins_code"] for line in lines]
            charts[f"points-{insutype}"] = _chart(
                [
                    {
                        "type": "bar",
                        "name": "点数 points",
                        "x": codes,
                        "y": [line["points"] for line in lines],
                        "marker": {
                            "color": [COLOURS.get(line.get("colour") or "", "#1f77b4") for line in lines]
                        },
                        "text": [line.get("colour") or "" for line in lines],
                    },
                    {
                        "type": "scatter",
                        "mode": "markers",
                        "name": "CMI",
                        "x": codes,
                        "y": [line["cmi"] for line in lines],
                        "yaxis": "y2",
                        "marker": {"size": 12, "symbol": "diamond", "color": "#333"},
                    },
                ],
                xaxis={"type": "category"},
                yaxis={"title": {"text": "点数 points"}, "rangemode": "tozero"},
                yaxis2={"title": {"text": "CMI"}, "overlaying": "y", "side": "right", "rangemode": "tozero"},
            )
    return {
        "title": "按点数付费 DRG/DIP",
        "page": "points",
        "year": year,
        "pools": pools,
        "unavailable": any(s.status == "unavailable" for s in executions),
        "charts": charts,
    }


# --- 机构与参保人 -----------------------------------------------------------------------------------------


@router.get("/institutions")
async def institutions_page(request: Request) -> Response:
    code = request.query_params.get("fixmedins_code", "").strip()
    if code:
        return RedirectResponse(f"/console/institutions/{quote(code, safe='')}", status_code=303)

    async def build(request: Request, principal: Principal) -> dict[str, Any]:
        listed, section = await _pages(
            request, principal, "settlement", "/institutions", {"limit": 200}, pages=5
        )
        return {
            "title": "机构 Institutions",
            "page": "institutions",
            "institutions": listed,
            "unavailable": section.status != "ok",
            "charts": {},
        }

    return await page(request, "institutions.html", build)


@router.get("/institutions/{fixmedins_code}")
async def institution_page(fixmedins_code: str, request: Request) -> Response:
    async def build(request: Request, principal: Principal) -> dict[str, Any]:
        overview = await institution_overview(fixmedins_code, request, principal)
        sections = overview.sections
        statements = sorted(_items(sections["last_statements"]), key=lambda row: row["business_date"])
        x = [row["business_date"] for row in statements]
        chart = _chart(
            [
                {
                    "type": "bar",
                    "name": "医疗费总额 medical fees",
                    "x": x,
                    "y": [r["medfee_sumamt"] for r in statements],
                },
                {
                    "type": "bar",
                    "name": "基金支付 fund pay",
                    "x": x,
                    "y": [r["fund_pay_sumamt"] for r in statements],
                },
                {
                    "type": "scatter",
                    "mode": "lines+markers",
                    "name": "结算笔数 settlements",
                    "x": x,
                    "y": [r["setl_cnt"] for r in statements],
                    "yaxis": "y2",
                },
            ],
            barmode="group",
            xaxis={"type": "category"},
            yaxis={"title": {"text": "元 yuan"}},
            yaxis2={"title": {"text": "笔 count"}, "overlaying": "y", "side": "right", "rangemode": "tozero"},
        )
        return {
            "title": f"机构 {fixmedins_code}",
            "page": "institutions",
            "code": fixmedins_code,
            "overview": overview,
            "institution": sections["institution"].data,
            "today": sections["today"].data if sections["today"].status == "ok" else None,
            "statements": statements,
            "findings": _items(sections["open_findings"]),
            "alerts": _items(sections["open_alerts"]),
            "points": sections["points"].data or [],
            "unavailable": overview.partial,
            "charts": {"institution-days": chart} if statements else {},
        }

    return await page(request, "institution.html", build)


@router.get("/persons")
async def persons_page(request: Request) -> Response:
    psn_no = request.query_params.get("psn_no", "").strip()
    if psn_no:
        return RedirectResponse(f"/console/persons/{quote(psn_no, safe='')}", status_code=303)

    async def build(request: Request, principal: Principal) -> dict[str, Any]:
        return {"title": "参保人 Persons", "page": "persons", "charts": {}, "unavailable": False}

    return await page(request, "persons.html", build)


def _masked(certno: str | None) -> str:
    if not certno or len(certno) < 10:
        return "—"
    return certno[:6] + "*" * (len(certno) - 10) + certno[-4:]


@router.get("/persons/{psn_no}")
async def person_page(psn_no: str, request: Request) -> Response:
    async def build(request: Request, principal: Principal) -> dict[str, Any]:
        overview = await person_overview(psn_no, request, principal)
        sections = overview.sections
        person = sections["person"].data if sections["person"].status == "ok" else {}
        settlements = sorted(_items(sections["recent_settlements"]), key=lambda row: row["setl_time"])
        x = [f"{row['business_date'][5:]} …{row['setl_id'][-4:]}" for row in settlements]
        chart = _chart(
            [
                {
                    "type": "bar",
                    "name": "基金支付 fund",
                    "x": x,
                    "y": [r["fund_pay_sumamt"] for r in settlements],
                },
                {
                    "type": "bar",
                    "name": "个人账户 account",
                    "x": x,
                    "y": [r["acct_pay"] for r in settlements],
                },
                {"type": "bar", "name": "现金 cash", "x": x, "y": [r["psn_cash_pay"] for r in settlements]},
            ],
            barmode="stack",
            xaxis={"type": "category", "tickangle": -45},
            yaxis={"title": {"text": "元 yuan"}},
            margin={"l": 60, "r": 20, "t": 10, "b": 80},
        )
        return {
            "title": f"参保人 {psn_no}",
            "page": "persons",
            "psn_no": psn_no,
            "person": person,
            "certno": _masked(person.get("certno")),
            "eligibility": sections["eligibility"].data if sections["eligibility"].status == "ok" else None,
            "account": sections["account"].data if sections["account"].status == "ok" else None,
            "settlements": settlements[::-1],
            "findings": _items(sections["open_findings"]),
            "sections": sections,
            "unavailable": overview.partial,
            "charts": {"person-settlements": chart} if settlements else {},
        }

    return await page(request, "person.html", build)
