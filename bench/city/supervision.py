"""The demo's fund-supervision steps (基金监管) over a played city, through the gateway's public API.

What a bureau's supervision office does with the month's findings, driven with the ops key and, where the
institution answers (申诉, 自查自纠), with that institution's own key:

    supervision = Supervision()
    await register_practitioners(client, city, loaded, supervision)          # after load_city, before play
    ... play the days ...
    refunded = await open_claim_cases(client, city, loaded, outcomes, supervision)   # on the last played day
    ... close the days, reconcile March (the refunds are its deductions) ...
    report = await after_the_month(client, city, loaded, outcomes, supervision, month="2026-03",
                                   set_day=lambda day: stack.set_time(at(day, 10)))  # the month over

`open_claim_cases` puts each planted claim-level finding into a case (立案告知) and has the institution answer
as the ground truth says (`PlantedCase.resolution`): a voluntary refund (no penalty), or an appeal with its
statement and files' references; `after_the_month` sets the institution rules' parameters for the city
(`City.rule_params`, a new rule version), runs them over the month (诱导住院, 机构指标异常, 高套), publishes the
month's warnings (每月推送预警) and reads one back with an institution's key, opens the institution-level cases,
moves the clock past the appeal windows, reviews the appeals (upheld / overturned) and decides the rest:
recovery, penalty by the agreement's scale, points (记分) against the doctors who ordered the claims — one
reaches 12 (终止: its qualification ends), one stays at 8 (below the 9 that suspend) — waits until
settlement has the suspension, sends the suspended doctor's next claim (refused: 422
PRACTITIONER_SUSPENDED), and reads back the suspended practitioners and the cases by state. Every step
returns plain JSON-able dicts for the report; `report_lines(section)` prints `after_the_month`'s.

The decisions fall after the month (on `decided_on`, the day after the last appeal deadline): their recoveries
and penalties are deductions of that month, which must be reconciled (and confirmed) before the year's
clearing of the pools.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import httpx

from bench.city.client import expect, run_all, send, wait_consumed
from bench.city.load import LoadedCity
from bench.city.model import (
    APPEAL_OVERTURNED,
    APPEAL_UPHELD,
    DECIDE,
    INSTITUTION_FAMILIES,
    REFUND,
    City,
    PlantedCase,
    SuspendedClaim,
)
from bench.city.play import DayOutcome
from bench.city.score import belongs
from common.money import fen_to_yuan, yuan_to_fen

# An institution-level finding that names no amount concerned (institution_outlier, upcoding): the share of
# the fund's pay for the planted admissions the bureau notifies for recovery (高套: the points above the
# justified groups; 指标异常: the cost above the peers').
RECOVERY_SHARE = {"institution_outlier": Decimal("0.5"), "upcoding": Decimal("0.15")}
SUMMARY = {
    "admission_frequency": "频繁住院疑点核查，拟追回统筹基金",
    "split_admission": "分解住院疑点核查，拟追回统筹基金",
    "cost_outlier": "住院费用异常偏高核查，拟追回过度诊疗费用",
    "after_death": "死亡人员就医疑点核查，拟追回统筹基金",
    "bed_hold": "挂床住院疑点核查，拟追回虚记住院费用",
    "induced_admission": "诱导住院（低标准入院）疑点核查，拟追回统筹基金",
    "institution_outlier": "次均住院费用异常偏高核查，拟追回超出部分",
    "upcoding": "高套病组疑点核查，拟追回高套部分",
}
APPEAL = {
    "statement": "患者三次住院诊断不同，均有入院指征，病程记录及检查报告附后。",
    "files": [
        {"name": "病程记录.pdf", "ref": "his-docs://appeal/progress-notes"},
        {"name": "检查报告.pdf", "ref": "his-docs://appeal/reports"},
    ],
}
APPEAL_HIGH_SEVERITY = {
    "statement": "所报并发症均有诊断依据，病案首页编码规范，申请复核。",
    "files": [{"name": "病案首页.pdf", "ref": "his-docs://appeal/front-pages"}],
}


@dataclass
class OpenedCase:
    """A case opened over a planted case's finding(s), as the steps left it."""

    planted: str  # PlantedCase.case_id
    family: str
    resolution: str
    case_id: int
    fixmedins_code: str
    finding_ids: list[int]
    proposed_fen: int
    appeal_deadline: date
    status: str
    outcome: str | None = None
    recovery_fen: int | None = None
    penalty_fen: int | None = None
    points: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "planted": self.planted,
            "family": self.family,
            "resolution": self.resolution,
            "case_id": self.case_id,
            "fixmedins_code": self.fixmedins_code,
            "finding_ids": self.finding_ids,
            "proposed_fen": self.proposed_fen,
            "appeal_deadline": self.appeal_deadline.isoformat(),
            "status": self.status,
            "outcome": self.outcome,
            "recovery_fen": self.recovery_fen,
            "penalty_fen": self.penalty_fen,
            "points": self.points,
        }


@dataclass
class Supervision:
    """What the steps did so far (passed from one step to the next)."""

    registered: dict[str, int] = field(default_factory=dict)
    opened: list[OpenedCase] = field(default_factory=list)
    missed: list[str] = field(default_factory=list)  # planted cases with no finding to open a case on


# --- practitioners -----------------------------------------------------------------------------------------


async def register_practitioners(
    client: httpx.AsyncClient,
    city: City,
    loaded: LoadedCity,
    supervision: Supervision | None = None,
    *,
    concurrency: int = 8,
) -> dict[str, int]:
    """登记备案: every doctor of the hospitals and pharmacist of the pharmacies (POST /fraud/practitioners,
    ops key; one already registered answers 409 and counts as registered)."""
    counts: Counter[str] = Counter()

    async def register(practitioner: Any) -> None:
        answer = await send(client, "POST", "/fraud/practitioners", loaded.ops_key, json=practitioner.body())
        expect(answer, 201, 200, 409)
        counts[practitioner.prac_type] += 1

    await run_all(city.practitioners, register, concurrency=concurrency, bar=None)
    registered = {"registered": sum(counts.values()), **dict(sorted(counts.items()))}
    if supervision is not None:
        supervision.registered = registered
    return registered


# --- cases ---------------------------------------------------------------------------------------------------


async def _pages(
    client: httpx.AsyncClient, key: str, path: str, params: dict[str, str]
) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        page = expect(await send(client, "GET", path, key, params=query), 200)
        items += page["items"]
        cursor = page.get("next_cursor")
        if not cursor:
            return items


def _setl(outcomes: list[DayOutcome]) -> dict[str, str]:
    return {m: claim.setl_id for outcome in outcomes for m, claim in outcome.accepted.items()}


def _fund_pay_fen(case: PlantedCase, outcomes: list[DayOutcome]) -> int:
    accepted = {m: claim for outcome in outcomes for m, claim in outcome.accepted.items()}
    return sum(accepted[m].fund_pay_fen for m in case.medins_setl_ids if m in accepted)


def _share(fen: int, share: Decimal) -> int:
    return int((Decimal(fen) * share).quantize(Decimal(1), rounding=ROUND_HALF_UP))


async def _open_cases(
    client: httpx.AsyncClient,
    city: City,
    loaded: LoadedCity,
    outcomes: list[DayOutcome],
    supervision: Supervision,
    *,
    institution_level: bool,
) -> list[OpenedCase]:
    """A case per planted case (of one level) with a resolution and an open finding; the institution answers
    at once with its own key: a refund, or an appeal."""
    findings = await _pages(
        client, loaded.ops_key, "/fraud/findings", {"status": "open", "category": "fraud", "limit": "500"}
    )
    setl = _setl(outcomes)
    taken = {fid for opened in supervision.opened for fid in opened.finding_ids}
    opened_now: list[OpenedCase] = []
    for planted in city.cases:
        if planted.resolution is None or (planted.family in INSTITUTION_FAMILIES) != institution_level:
            continue
        mine = [
            f
            for f in findings
            if f["family"] == planted.family
            and f["finding_id"] not in taken
            and belongs(planted, f, setl, loaded.psn_no)
        ]
        if not mine:
            supervision.missed.append(planted.case_id)
            continue
        items: list[dict[str, Any]] = []
        for finding in mine:
            item: dict[str, Any] = {"finding_id": finding["finding_id"]}
            if finding.get("vola_amt") is None and planted.family in RECOVERY_SHARE:
                cap = yuan_to_fen(finding["fund_pay_sumamt"])
                amount = min(cap, _share(_fund_pay_fen(planted, outcomes), RECOVERY_SHARE[planted.family]))
                item["amount"] = str(fen_to_yuan(amount))
            items.append(item)
        body = {
            "findings": items,
            "summary": f"演示: {SUMMARY.get(planted.family, '疑点核查')} ({planted.case_id})",
        }
        case = expect(await send(client, "POST", "/fraud/cases", loaded.ops_key, json=body), 201)
        opened = OpenedCase(
            planted=planted.case_id,
            family=planted.family,
            resolution=planted.resolution,
            case_id=int(case["case_id"]),
            fixmedins_code=case["fixmedins_code"],
            finding_ids=[int(f["finding_id"]) for f in mine],
            proposed_fen=yuan_to_fen(case["proposed_amount"]),
            appeal_deadline=date.fromisoformat(case["appeal_deadline"]),
            status=case["status"],
        )
        taken.update(opened.finding_ids)
        key = loaded.keys.get(opened.fixmedins_code, loaded.ops_key)
        path = f"/fraud/cases/{opened.case_id}"
        if planted.resolution == REFUND:
            statement = {"statement": "演示: 经自查确认违规，同意退回全部违规费用 (自查自纠)"}
            answer = expect(await send(client, "POST", f"{path}/refund", key, json=statement), 200)
            _update(opened, answer)
        elif planted.resolution in (APPEAL_UPHELD, APPEAL_OVERTURNED):
            body = APPEAL if planted.resolution == APPEAL_OVERTURNED else APPEAL_HIGH_SEVERITY
            _update(opened, expect(await send(client, "POST", f"{path}/appeal", key, json=body), 200))
        opened_now.append(opened)
    supervision.opened += opened_now
    return opened_now


def _update(opened: OpenedCase, answer: dict[str, Any]) -> None:
    opened.status, opened.outcome = answer["status"], answer.get("outcome")
    if answer.get("recovery") is not None:
        opened.recovery_fen = yuan_to_fen(answer["recovery"])
    if answer.get("penalty_amount") is not None:
        opened.penalty_fen = yuan_to_fen(answer["penalty_amount"])


async def open_claim_cases(
    client: httpx.AsyncClient,
    city: City,
    loaded: LoadedCity,
    outcomes: list[DayOutcome],
    supervision: Supervision,
    *,
    timeout_s: float = 120.0,
) -> dict[str, Any]:
    """On the last played day: a case over each planted claim-level finding; the institutions that refund
    (自查自纠) do so at once, the one that appeals files its statement; settlement then holds the refunds'
    recoveries (the month's deductions). Returns the refunds, in the shape of the demo's `confirmed`."""
    opened = await _open_cases(client, city, loaded, outcomes, supervision, institution_level=False)
    refunded = [case for case in opened if case.resolution == REFUND]
    # A refund decides the case (fraud.case.decided) and confirms each finding with something to recover.
    recovering = 0
    for case in refunded:
        detail = expect(await send(client, "GET", f"/fraud/cases/{case.case_id}", loaded.ops_key), 200)
        recovering += sum(1 for f in detail["findings"] if yuan_to_fen(f["recovery"] or "0") > 0)
    # Totals since the services started: the demo decides nothing before this step.
    decided = sum(1 for case in supervision.opened if case.outcome is not None)
    await wait_consumed(client, loaded.ops_key, "settlement",
                        {"fraud.case.decided": decided, "fraud.finding.confirmed": recovering},
                        timeout_s=timeout_s, what="the refunded cases")  # fmt: skip
    return {
        "count": sum(len(case.finding_ids) for case in refunded),
        "amount_fen": sum(case.recovery_fen or 0 for case in refunded),
        "cases": len(refunded),
        "recovering_findings": recovering,
        "opened": len(opened),
        "appealed": sum(1 for case in opened if case.status == "appealed"),
    }


# --- the month's institution rules and warnings -------------------------------------------------------------


async def set_rule_params(client: httpx.AsyncClient, city: City, loaded: LoadedCity) -> dict[str, Any]:
    """The parameters the bureau sets for a city this size (`City.rule_params`) on the shipped rule of each
    family named: a new version (PUT /fraud/rules/{id}); nothing when the rule already has them."""
    rules = expect(await send(client, "GET", "/fraud/rules", loaded.ops_key), 200)
    versions: dict[str, Any] = {}
    for family, params in sorted(city.rule_params.items()):
        rule = next((r for r in rules if r["family"] == family and r.get("builtin")), None)
        if rule is None:
            versions[family] = None
            continue
        if all(str(rule["params"].get(name)) == str(value) for name, value in params.items()):
            versions[family] = {"rule_id": rule["rule_id"], "version": rule["version"], "params": params}
            continue
        body = {
            "params": params,
            "note": f"演示: 按本市同级机构数设定 (city of {len(city.hospitals)} hospitals)",
        }
        updated = expect(
            await send(client, "PUT", f"/fraud/rules/{rule['rule_id']}", loaded.ops_key, json=body), 200
        )
        versions[family] = {"rule_id": updated["rule_id"], "version": updated["version"], "params": params}
    return versions


async def run_institution_rules(
    client: httpx.AsyncClient, city: City, loaded: LoadedCity, *, month: str
) -> dict[str, Any]:
    """The institution-level rules over the (finished) month, with the city's parameters set first."""
    versions = await set_rule_params(client, city, loaded)
    run = expect(
        await send(client, "POST", "/fraud/institution-rules/run", loaded.ops_key, json={"month": month}), 200
    )
    return {"rule_versions": versions, **run}


async def publish_warnings(
    client: httpx.AsyncClient, city: City, loaded: LoadedCity, *, month: str
) -> dict[str, Any]:
    """每月推送预警: the month's warnings published, then each planted institution-level case's institution
    reads its own with its own key (an institution's key sees only its warnings)."""
    published = expect(
        await send(client, "POST", "/fraud/warnings/publish", loaded.ops_key, json={"month": month}), 200
    )
    read: dict[str, Any] = {}
    codes = {c.fixmedins_code for c in city.cases if c.family in INSTITUTION_FAMILIES and c.fixmedins_code}
    for code in sorted(str(c) for c in codes):
        key = loaded.keys[code]
        page = expect(await send(client, "GET", "/fraud/warnings", key, params={"month": month}), 200)
        own = [item for item in page["items"] if item["fixmedins_code"] == code]
        latest = own[0] if own else None
        read[code] = {
            "warnings": len(page["items"]),
            "only_own": len(own) == len(page["items"]),
            "open_findings": latest["open_findings"]["count"] if latest else None,
            "by_family": {f["family"]: f["count"] for f in latest["open_findings"]["by_family"]}
            if latest
            else {},
            "deviations_above": [d["metric"] for d in latest["deviations"] if d["above"]] if latest else [],
            "scan_rate": latest["scan_rate"]["rate"] if latest and latest.get("scan_rate") else None,
        }
    return {
        "month": month,
        "published": len(published["published"]),
        "unchanged": published["unchanged"],
        "read_by_institutions": read,
    }


# --- deciding ----------------------------------------------------------------------------------------------


def decide_on(supervision: Supervision) -> date | None:
    """The first day every case still notified may be decided: the day after the latest appeal deadline."""
    pending = [case.appeal_deadline for case in supervision.opened if case.status == "notified"]
    return max(pending) + timedelta(days=1) if pending else None


def _decision(planted: PlantedCase) -> dict[str, Any]:
    points = (
        [
            {
                "prac_codg": planted.practitioner,
                "points": planted.points,
                "reason": planted.points_reason or "记分",
            }
        ]
        if planted.practitioner and planted.points
        else []
    )
    basis = planted.penalty_basis or "none"
    return {
        "penalty_basis": basis,
        "penalty_multiple": planted.penalty_multiple or "0",
        "points": points,
        "referral": False,
        "note": f"演示: 责令退回违规费用{'' if basis == 'none' else f'，并处{planted.penalty_multiple}倍'}"
        f"{'，对责任医师记分' if points else ''}",
    }


async def review_and_decide(
    client: httpx.AsyncClient,
    city: City,
    loaded: LoadedCity,
    supervision: Supervision,
    *,
    timeout_s: float = 120.0,
) -> dict[str, Any]:
    """Ops reviews the appeals (upheld → decided; overturned → findings dismissed) and decides every case
    still notified (the clock must stand past its appeal deadline: see `decide_on`), with the penalty and the
    points of the ground truth; then waits until settlement has every suspension the points began."""
    planted = {case.case_id: case for case in city.cases}
    for opened in supervision.opened:
        path = f"/fraud/cases/{opened.case_id}"
        case = planted[opened.planted]
        if opened.status == "appealed":
            outcome = "overturned" if opened.resolution == APPEAL_OVERTURNED else "upheld"
            note = "申诉理由成立，撤销疑点" if outcome == "overturned" else "申诉理由不成立，维持原核查意见"
            body = {"outcome": outcome, "note": f"演示: {note}"}
            _update(
                opened,
                expect(await send(client, "POST", f"{path}/appeal-review", loaded.ops_key, json=body), 200),
            )
        if opened.status in ("notified", "upheld") and opened.resolution in (DECIDE, APPEAL_UPHELD):
            decision = _decision(case)
            answer = expect(await send(client, "POST", f"{path}/decide", loaded.ops_key, json=decision), 200)
            _update(opened, answer)
            opened.points = decision["points"]
    suspended = city.expected_suspended()
    if suspended:
        await wait_consumed(client, loaded.ops_key, "settlement",
                            {"fraud.practitioner.suspended": len(suspended)},
                            timeout_s=timeout_s, what="the suspensions")  # fmt: skip
    practitioners = {}
    for code in city.practitioner_points():
        detail = expect(await send(client, "GET", f"/fraud/practitioners/{code}", loaded.ops_key), 200)
        practitioners[code] = {
            "fixmedins_code": detail["fixmedins_code"],
            "status": detail["status"],
            "year_points": detail["year_points"],
            "suspensions": [
                {"from": s["suspended_from"], "until": s["suspended_until"], "points": s["points"]}
                for s in detail["suspensions"]
            ],
        }
    return {
        "decided": sum(1 for c in supervision.opened if c.status == "decided"),
        "overturned": sum(1 for c in supervision.opened if c.outcome == "overturned"),
        "practitioners": practitioners,
    }


# --- the suspended doctor's next claim -------------------------------------------------------------------


def dated(suspended: SuspendedClaim, on: date) -> dict[str, Any]:
    """The claim's body with its times moved from the template's day to `on` (same hours)."""
    old, new = suspended.template_date.isoformat(), on.isoformat()
    body = dict(suspended.claim.body)
    for name in ("begntime", "endtime"):
        if name in body:
            body[name] = re.sub(f"^{old}", new, body[name])
    body["feedetail"] = [
        {**line, "fee_ocur_time": re.sub(f"^{old}", new, line["fee_ocur_time"])} for line in body["feedetail"]
    ]
    return body


async def refuse_after_suspension(
    client: httpx.AsyncClient, city: City, loaded: LoadedCity, *, on: date
) -> dict[str, Any]:
    """The suspended doctor orders one more visit on `on` (the clock past 10:00 that day): settlement must
    refuse it, 422 PRACTITIONER_SUSPENDED naming the line. Returns what it answered (never raises on it)."""
    suspended = city.suspended_claim
    if suspended is None:
        return {"sent": False}
    claim = suspended.claim
    body = {**dated(suspended, on), "psn_no": loaded.psn_no[claim.person]}
    answer = await send(
        client, "POST", "/settlement/settlements", loaded.keys[claim.fixmedins_code], json=body
    )
    problem = answer.json() if "json" in answer.headers.get("content-type", "") else {}
    return {
        "sent": True,
        "medins_setl_id": claim.medins_setl_id,
        "fixmedins_code": claim.fixmedins_code,
        "prac_codg": suspended.prac_codg,
        "on": on.isoformat(),
        "status": answer.status_code,
        "code": problem.get("code") if answer.status_code >= 400 else None,
        "detail": problem.get("detail") if answer.status_code >= 400 else None,
        "refused": answer.status_code == 422 and problem.get("code") == "PRACTITIONER_SUSPENDED",
    }


# --- reading back ------------------------------------------------------------------------------------------


async def read_back(client: httpx.AsyncClient, loaded: LoadedCity) -> dict[str, Any]:
    """The practitioners not paid (suspended 暂停, terminated 终止) and every case by state and outcome, as ops
    sees them."""
    by_status = {
        status: await _pages(
            client, loaded.ops_key, "/fraud/practitioners", {"status": status, "limit": "500"}
        )
        for status in ("suspended", "terminated")
    }
    cases = await _pages(client, loaded.ops_key, "/fraud/cases", {"limit": "500"})
    return {
        "suspended_practitioners": sorted(p["prac_codg"] for p in by_status["suspended"]),  # 暂停
        "terminated_practitioners": sorted(p["prac_codg"] for p in by_status["terminated"]),  # 终止
        "cases_by_status": dict(sorted(Counter(c["status"] for c in cases).items())),
        "cases_by_outcome": dict(sorted(Counter(c["outcome"] or "pending" for c in cases).items())),
        "recovery_fen": sum(yuan_to_fen(c["recovery"]) for c in cases if c["recovery"] is not None),
        "penalty_fen": sum(
            yuan_to_fen(c["penalty_amount"]) for c in cases if c["penalty_amount"] is not None
        ),
    }


# --- all of it, once the month is over ------------------------------------------------------------------


async def after_the_month(
    client: httpx.AsyncClient,
    city: City,
    loaded: LoadedCity,
    outcomes: list[DayOutcome],
    supervision: Supervision,
    *,
    month: str,
    set_day: Callable[[date], None],
) -> dict[str, Any]:
    """Once the month is over (the clock on a later day): the institution rules run and the warnings
    published, the institution-level cases opened and answered, then — the clock moved by `set_day` to the
    day after the last appeal deadline — appeals reviewed and cases decided, the suspended doctor's claim
    refused, and everything read back. Returns the report's `supervision` section."""
    run = await run_institution_rules(client, city, loaded, month=month)
    warnings = await publish_warnings(client, city, loaded, month=month)
    await _open_cases(client, city, loaded, outcomes, supervision, institution_level=True)
    day = decide_on(supervision)
    if day is not None:
        set_day(day)
    decided = await review_and_decide(client, city, loaded, supervision)
    refused = await refuse_after_suspension(client, city, loaded, on=day or city.day_dates[-1])
    state = await read_back(client, loaded)
    return {
        "registered_practitioners": supervision.registered,
        "institution_rules": run,
        "warnings": warnings,
        "decided_on": day.isoformat() if day else None,
        "cases": [case.as_dict() for case in supervision.opened],
        "missed": supervision.missed,
        **decided,
        "refused_after_suspension": refused,
        **state,
        "expected": {
            "points": city.practitioner_points(),
            "suspended": city.expected_suspended(),
        },
    }


# --- printing ----------------------------------------------------------------------------------------------


def _fen_text(fen: int | None) -> str:
    return "—" if fen is None else f"{fen_to_yuan(fen):,}"


# Rule families in the bureau's words, for the printed report.
FAMILY_NAMES = {
    "admission_frequency": "频繁住院",
    "split_admission": "分解住院",
    "cost_outlier": "住院费用异常",
    "trace_code_reuse": "追溯码重复使用",
    "after_death": "死亡后就医",
    "duplicate_billing": "重复收费",
    "over_quantity": "超量开药",
    "gender_age_limit": "性别年龄限制",
    "visit_frequency": "异常频繁就医",
    "high_burden": "个人负担过高",
    "bed_hold": "挂床住院",
    "induced_admission": "诱导住院",
    "institution_outlier": "机构指标异常",
    "upcoding": "高套病组",
    "price_index": "量价比较指数",
    "red_alerts": "价格红灯预警",
}
CASE_STATUS = {
    "notified": "已告知",
    "appealed": "申诉中",
    "upheld": "申诉成立",
    "decided": "已决定",
    "closed": "已结案",
}
CASE_OUTCOME = {"decided": "处理决定", "refunded": "自查自纠退回", "overturned": "申诉成立撤销"}
PRACTITIONER_STATUS = {"active": "正常", "suspended": "暂停", "terminated": "终止"}
DEVIATIONS = {"cost_per_case": "次均费用", "admissions_per_insured": "人次人头比", "drug_share": "药占比"}


def display_width(text: str) -> int:
    """Columns a terminal gives the text: two for each wide (CJK) character."""
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)


def cell(value: object, width: int, *, right: bool = False) -> str:
    """The value padded to `width` terminal columns, so tables with Chinese headings line up."""
    text = str(value)
    pad = " " * max(0, width - display_width(text))
    return pad + text if right else text + pad


def _count(n: int | None) -> str:
    return f"{n or 0:,}"


def report_lines(section: dict[str, Any]) -> list[str]:
    """The report's supervision section as printed lines (what `after_the_month` returned)."""
    lines = ["基金监管："]
    registered = section.get("registered_practitioners") or {}
    lines.append(
        f"  登记医保医师、药师 {_count(registered.get('registered'))} 人（医师 {_count(registered.get('doctor'))} 人，"
        f"药师 {_count(registered.get('pharmacist'))} 人）：每条医院费用明细写明开单医生，每条药店明细写明药师"
    )
    run = section.get("institution_rules") or {}
    if run:
        rules = "、".join(
            f"{FAMILY_NAMES.get(r['family'], r['family'])} {r['family']}"
            f"（第 {r['version']:,} 版）{_count(r['raised'])} 个"
            for r in run.get("rules", [])
        )
        lines.append(
            f"  机构级规则 {run.get('month')}：检查 {_count(run.get('institutions'))} 家机构，新增疑点 {rules or '无'}"
            "（每条规则对每家机构每月至多一个疑点）"
        )
    warnings = section.get("warnings") or {}
    if warnings:
        read = warnings.get("read_by_institutions", {})
        seen = "；".join(
            f"{code}（疑点：{'、'.join(FAMILY_NAMES.get(f, f) for f in sorted(w['by_family'])) or '无'}"
            + (
                f"；高于同级机构：{'、'.join(DEVIATIONS.get(d, d) for d in w['deviations_above'])}"
                if w["deviations_above"]
                else ""
            )
            + (f"；扫码率 {Decimal(w['scan_rate']) * 100:,.2f}%" if w.get("scan_rate") is not None else "")
            + "）"
            for code, w in read.items()
        )
        lines.append(
            f"  每月推送预警 {warnings.get('month')}：向 {_count(warnings.get('published'))} 家机构推送；"
            f"机构用自己的密钥读到：{seen or '无'}"
        )
    lines.append(f"  案件（{section.get('decided_on') or '—'} 作出处理决定）：")
    lines.append(
        "    "
        + cell("案件", 5, right=True)
        + "  "
        + cell("埋设的违规", 24)
        + cell("机构", 14)
        + cell("结果", 14)
        + cell("追回（元）", 13, right=True)
        + cell("罚款（元）", 13, right=True)
        + "  记分"
    )
    for case in section.get("cases", []):
        points = "、".join(f"{p['prac_codg']} +{p['points']:,} 分" for p in case.get("points", [])) or "—"
        ended = CASE_OUTCOME.get(case["outcome"], case["outcome"]) if case["outcome"] else None
        lines.append(
            "    "
            + cell(f"{case['case_id']:,}", 5, right=True)
            + "  "
            + cell(case["planted"], 24)
            + cell(case["fixmedins_code"], 14)
            + cell(ended or CASE_STATUS.get(case["status"], case["status"]), 14)
            + cell(_fen_text(case["recovery_fen"]), 13, right=True)
            + cell(_fen_text(case["penalty_fen"]), 13, right=True)
            + f"  {points}"
        )
    by_status = "、".join(
        f"{CASE_STATUS.get(s, s)} {_count(n)} 件" for s, n in section.get("cases_by_status", {}).items()
    )
    by_outcome = "、".join(
        f"{CASE_OUTCOME.get(o, o)} {_count(n)} 件" for o, n in section.get("cases_by_outcome", {}).items()
    )
    lines.append(
        f"  案件状态：{by_status or '无'}（{by_outcome or '—'}）；"
        f"追回合计 {_fen_text(section.get('recovery_fen', 0))} 元，"
        f"罚款合计 {_fen_text(section.get('penalty_fen', 0))} 元"
    )
    lines.append(
        "  （自查自纠：机构主动退回告知的金额，不罚款；申诉成立：疑点撤销，不追回；罚款按协议幅度的倍数计。"
        "月核算确认时已决定的案件在当月扣减，其余在下一个月扣减）"
    )
    for code, practitioner in section.get("practitioners", {}).items():
        periods = (
            "；".join(f"{s['from']} 至 {s['until']}" for s in practitioner["suspensions"])
            or "医保支付资格正常"
        )
        status = PRACTITIONER_STATUS.get(practitioner["status"], practitioner["status"])
        lines.append(
            f"  医师 {code}（{practitioner['fixmedins_code']}）：本年记分 {_count(practitioner['year_points'])} 分，"
            f"{status}（{periods}）"
        )
    lines.append(
        "  （记分按自然年累计：满 9 分暂停医保支付资格，满 12 分终止；暂停或终止期内其开具的费用医保不予支付）"
    )
    lines.append(
        f"  暂停支付资格的医师：{'、'.join(section.get('suspended_practitioners', [])) or '无'}；"
        f"终止支付资格的：{'、'.join(section.get('terminated_practitioners', [])) or '无'}"
    )
    refused = section.get("refused_after_suspension") or {}
    if refused.get("sent"):
        answer = (
            f"被拒付 {refused['status']} {refused['code']}" if refused.get("code") else "⚠ 被受理（应拒付）"
        )
        lines.append(
            f"  {refused['prac_codg']} 被终止后，{refused['on']} 再开具的结算 {refused['medins_setl_id']}：{answer}"
        )
    if section.get("missed"):
        lines.append(f"  ⚠ 没有疑点可以立案的埋设案例：{'、'.join(section['missed'])}")
    return lines
