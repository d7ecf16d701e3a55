"""Institution-level rules run over a month (诱导住院, 机构指标异常, 高套) and their backtest; bed_hold and high_burden
by assistance category on settled claims: exact findings, raised once, nothing written by a backtest."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import sqlalchemy as sa
from fastapi import FastAPI

from common.clock import SHANGHAI, FrozenClock
from common.events.contracts import Subject
from common.events.envelope import new_event
from common.events.settlement import CaseGrouped, SettlementSettled
from common.events.tables import outbox_event
from common.principal import Principal, Role
from common.testing.apps import app_client
from fraud.events import on_settlement_event
from fraud.models import CaseGrouping, ClaimRecord, Finding, Rule, RuleVersion
from tests.fraud.conftest import apply, reversed_, settled, settled_line

FEB = date(2026, 2, 1)


def admitted(
    setl_id: str,
    *,
    code: str = "H1",
    day: int = 0,
    days: int = 2,
    dise: str = "J06.900",
    medfee: str = "1000.00",
    fund: str = "600.00",
    hosp_lv: int | None = 2,
    assistance: str | None = None,
    lines: Any = None,
) -> SettlementSettled:
    begin = FEB + timedelta(days=day)
    data = settled(
        setl_id,
        psn_no=f"P-{setl_id}",
        begin=begin,
        end=begin + timedelta(days=days),
        code=code,
        hosp_lv=hosp_lv,
        dise=dise,
        medfee=medfee,
        fund=fund,
        lines=lines,
    )
    return data.model_copy(update={"assistance": assistance}) if assistance else data


async def rule_id(api: httpx.AsyncClient, family: str) -> int:
    return int(next(r["rule_id"] for r in (await api.get("/rules")).json() if r["family"] == family))


async def findings_of(app: FastAPI, family: str) -> list[tuple[Any, ...]]:
    async with app.state.db.transaction(readonly=True) as session:
        rows = (
            await session.scalars(
                sa.select(Finding).where(Finding.family == family).order_by(Finding.finding_id)
            )
        ).all()
    return [
        (
            r.finding_key,
            r.setl_id,
            r.psn_no,
            r.fixmedins_code,
            r.message,
            r.vola_fen,
            r.fund_pay_fen,
            r.rule_version,
        )
        for r in rows
    ]


async def counts(app: FastAPI) -> tuple[int, int, int, int]:
    async with app.state.db.transaction(readonly=True) as session:
        return tuple(  # type: ignore[return-value]
            [
                int(await session.scalar(sa.select(sa.func.count()).select_from(table)) or 0)
                for table in (Finding, Rule, RuleVersion, outbox_event)
            ]
        )


async def raised_events(app: FastAPI, family: str) -> list[dict[str, Any]]:
    async with app.state.db.transaction(readonly=True) as session:
        rows = (await session.execute(sa.select(outbox_event.c.type, outbox_event.c.payload))).all()
    found = [json.loads(payload)["data"] for kind, payload in rows if kind == Subject.FINDING_RAISED]
    return [data for data in found if data["family"] == family]


async def induced_month(app: FastAPI, *, mild: int = 5, others: int = 15) -> None:
    """H1 in February: `mild` two-day 1000-yuan J06 admissions and `others` eight-day stroke admissions."""
    await apply(
        app,
        *(admitted(f"M{n}", day=n) for n in range(mild)),
        *(
            admitted(f"O{n}", day=n, days=8, dise="I63.900", medfee="10000.00", fund="7000.00")
            for n in range(others)
        ),
    )


# --- induced_admission through the run ----------------------------------------------------------------------


async def test_a_month_run_raises_induced_admission_once_per_institution_and_month(
    fraud_app: FastAPI, api: httpx.AsyncClient
) -> None:
    await induced_month(fraud_app)
    first = await api.post("/institution-rules/run", json={"month": "2026-02"})
    assert first.status_code == 200, first.text
    body = first.json()
    assert (body["month"], body["institutions"], body["settlements"]) == ("2026-02", 1, 20)
    assert [(r["family"], r["version"], r["hits"], r["raised"]) for r in body["rules"]] == [
        ("induced_admission", 1, 1, 1),
        ("institution_outlier", 1, 0, 0),
        ("upcoding", 1, 0, 0),
    ]
    expected = (
        "H1:2026-02",
        None,
        None,
        "H1",
        "5 of 20 admissions in 2026-02 (25.00%) were short (≤ 3 days), low-cost (≤ 3000.00) and of mild "
        "diagnoses, above 20.00% (at least 5)",
        300_000,
        5 * 60_000 + 15 * 700_000,
        1,
    )
    assert await findings_of(fraud_app, "induced_admission") == [expected]
    assert [(e["setl_id"], e["psn_no"], e["fixmedins_code"], e["vola_amt"]) for e in await raised_events(
        fraud_app, "induced_admission"
    )] == [(None, None, "H1", "3000.00")]  # fmt: skip
    listed = (await api.get("/findings", params={"family": "induced_admission"})).json()["items"]
    assert [(f["setl_id"], f["fund_pay_sumamt"], f["vola_amt"]) for f in listed] == [
        (None, "108000.00", "3000.00")
    ]

    again = await api.post("/institution-rules/run", json={"month": "2026-02"})
    assert [(r["hits"], r["raised"]) for r in again.json()["rules"]] == [(1, 0), (0, 0), (0, 0)]
    assert again.json()["finding_ids"] == []
    assert await findings_of(fraud_app, "induced_admission") == [expected]
    assert len(await raised_events(fraud_app, "induced_admission")) == 1


async def test_exactly_a_fifth_of_the_admissions_raises_nothing(
    fraud_app: FastAPI, api: httpx.AsyncClient
) -> None:
    await induced_month(fraud_app, mild=5, others=20)
    run = await api.post("/institution-rules/run", json={"month": "2026-02"})
    assert [(r["family"], r["hits"]) for r in run.json()["rules"]][:1] == [("induced_admission", 0)]
    assert await findings_of(fraud_app, "induced_admission") == []


async def test_a_reversed_settlement_does_not_count_in_the_month(
    fraud_app: FastAPI, api: httpx.AsyncClient
) -> None:
    await induced_month(fraud_app, mild=6, others=20)  # 6 of 26: 23.08 %
    await apply(fraud_app, reversed_(admitted("M5", day=5), on=date(2026, 2, 27)))  # 5 of 25: 20 %
    run = await api.post("/institution-rules/run", json={"month": "2026-02"})
    assert run.json()["settlements"] == 25
    assert await findings_of(fraud_app, "induced_admission") == []


# --- institution_outlier: its own instance, versioned --------------------------------------------------------


async def test_an_outlier_instance_with_its_own_params_flags_the_cost_per_case(
    fraud_app: FastAPI, api: httpx.AsyncClient
) -> None:
    made = await api.post(
        "/rules",
        json={
            "family": "institution_outlier",
            "name": "次均费用 2家同级",
            "params": {"min_peers": 3, "min_cases": 1, "drug_prefixes": ["x"]},
        },
    )
    assert made.status_code == 201, made.text
    assert made.json()["params"] == {"multiple": "2", "min_peers": 3, "min_cases": 1, "drug_prefixes": ["X"]}
    edited = await api.put(f"/rules/{made.json()['rule_id']}", json={"params": {"min_peers": 2}})
    assert edited.json()["version"] == 2
    await apply(
        fraud_app,
        admitted("A1", code="H2", dise="I63.900"),
        admitted("A2", code="H3", dise="I63.900"),
        admitted("A3", code="H4", dise="I63.900", medfee="2000.01"),
        admitted("A4", code="H5", dise="I63.900", medfee="9000.00", hosp_lv=3),  # another level: no peer
    )
    run = await api.post("/institution-rules/run", json={"month": "2026-02"})
    assert [(r["family"], r["version"], r["raised"]) for r in run.json()["rules"]][-1] == (
        "institution_outlier",
        2,
        1,
    )
    assert await findings_of(fraud_app, "institution_outlier") == [
        (
            "H4:2026-02:cost_per_case",
            None,
            None,
            "H4",
            "cost per inpatient case 次均住院费用 2000.01 in 2026-02 above 2 × the mean 1000.00 of 2 level-2 peers",
            None,
            60_000,
            2,
        )
    ]


async def test_at_twice_the_peers_mean_the_cost_per_case_is_not_an_outlier(
    fraud_app: FastAPI, api: httpx.AsyncClient
) -> None:
    await api.post(
        "/rules", json={"family": "institution_outlier", "params": {"min_peers": 2, "min_cases": 1}}
    )
    await apply(
        fraud_app,
        admitted("A1", code="H2", dise="I63.900"),
        admitted("A2", code="H3", dise="I63.900"),
        admitted("A3", code="H4", dise="I63.900", medfee="2000.00"),
    )
    await api.post("/institution-rules/run", json={"month": "2026-02"})
    assert await findings_of(fraud_app, "institution_outlier") == []


# --- upcoding: from settlement.case.grouped -----------------------------------------------------------------


def grouped(setl_id: str, code: str, severity: str | None, *, revision: int = 1) -> CaseGrouped:
    return CaseGrouped(
        setl_id=setl_id,
        fixmedins_code=code,
        insutype="310",
        year=2026,
        method="drg",
        group_code=f"GB2{ {'mcc': 1, 'cc': 3}.get(severity or '', 5) }",
        group_name="胃切除术",
        severity=severity,
        base_points="120.0000",
        points="120.0000",
        deviation="normal",
        medfee_sumamt=Decimal("1000.00"),
        revision=revision,
        grouped_at=datetime(2026, 2, 20, 9, tzinfo=SHANGHAI),
    )


async def apply_grouped(app: FastAPI, clock: FrozenClock, *cases: CaseGrouped) -> None:
    for data in cases:
        event = new_event(
            type=Subject.CASE_GROUPED,
            source="settlement",
            subject=data.setl_id,
            data=data.model_dump(mode="json"),
            clock=clock,
        )
        async with app.state.db.transaction() as session:
            await on_settlement_event(session, event, clock=clock)


async def test_a_share_of_high_severity_groups_above_its_peers_is_upcoding(
    fraud_app: FastAPI, api: httpx.AsyncClient, clock: FrozenClock
) -> None:
    upcoding = await rule_id(api, "upcoding")
    await api.put(f"/rules/{upcoding}", json={"params": {"min_peers": 2, "min_cases": 2}})
    await apply(
        fraud_app,
        *(
            admitted(f"{code}-{n}", code=code, dise="K80.100", hosp_lv=3)
            for code in ("H1", "H2", "H3")
            for n in range(2)
        ),
    )
    await apply_grouped(
        fraud_app,
        clock,
        grouped("H1-0", "H1", "mcc"),
        grouped("H1-1", "H1", "none"),
        grouped("H1-1", "H1", "cc", revision=2),  # the list replaced: now a CC
        grouped("H2-0", "H2", "none"),
        grouped("H2-1", "H2", "cc"),
        grouped("H2-1", "H2", "none", revision=1),  # an earlier revision arriving again changes nothing
        grouped("H3-0", "H3", "none"),
        grouped("H3-1", "H3", "none"),
    )
    async with fraud_app.state.db.transaction(readonly=True) as session:
        kept = dict((await session.execute(sa.select(CaseGrouping.setl_id, CaseGrouping.severity))).all())
    assert kept == {"H1-0": "mcc", "H1-1": "cc", "H2-0": "none", "H2-1": "cc", "H3-0": "none", "H3-1": "none"}
    await api.post("/institution-rules/run", json={"month": "2026-02"})
    assert await findings_of(fraud_app, "upcoding") == [
        (
            "H1:2026-02",
            None,
            None,
            "H1",
            "high-severity (mcc, cc) share 100.00% of 2 grouped cases in 2026-02 above 1.5 × the mean 25.00% of 2 "
            "level-3 peers",
            None,
            120_000,
            2,
        )
    ]


# --- backtest of an institution-level family ----------------------------------------------------------------


async def test_a_backtest_of_an_institution_family_runs_whole_months_and_persists_nothing(
    fraud_app: FastAPI, api: httpx.AsyncClient
) -> None:
    await induced_month(fraud_app)
    induced = await rule_id(api, "induced_admission")
    before = await counts(fraud_app)
    as_is = await api.post(f"/rules/{induced}/backtest", json={"from": "2026-01-15", "to": "2026-02-10"})
    assert as_is.status_code == 200, as_is.text
    body = as_is.json()
    keys = ("settlements_examined", "settlements_flagged", "hits", "findings_it_would_raise", "vola_amt")
    assert {k: body[k] for k in keys} == {
        "settlements_examined": 20,
        "settlements_flagged": 0,
        "hits": 1,
        "findings_it_would_raise": 1,
        "vola_amt": "3000.00",
    }  # fmt: skip
    assert body["sample"] == [
        {
            "setl_id": None,
            "psn_no": None,
            "fixmedins_code": "H1",
            "setl_date": None,
            "month": "2026-02",
            "message": "5 of 20 admissions in 2026-02 (25.00%) were short (≤ 3 days), low-cost (≤ 3000.00) and of "
            "mild diagnoses, above 20.00% (at least 5)",
            "feedetl_sn": None,
            "vola_amt": "3000.00",
        }
    ]
    stricter = await api.post(
        f"/rules/{induced}/backtest",
        json={"from": "2026-02-01", "to": "2026-02-28", "params": {"max_share": "0.25"}},
    )
    assert (stricter.json()["hits"], stricter.json()["params"]["max_share"]) == (0, "0.25")
    assert await counts(fraud_app) == before


# --- bed_hold and high_burden by category, on settled claims ------------------------------------------------


async def test_a_stay_with_two_days_without_care_charges_is_a_bed_hold_finding(
    fraud_app: FastAPI, api: httpx.AsyncClient
) -> None:
    care = [
        settled_line(str(n), "001109000010000", amount="50.00", day=FEB + timedelta(days=n))
        for n in (0, 1, 4)
    ]
    await apply(fraud_app, admitted("B1", days=5, medfee="150.00", fund="90.00", dise="I63.900", lines=care))
    one_day = [
        settled_line(str(n), "120100003", amount="50.00", day=FEB + timedelta(days=n)) for n in (0, 1, 2)
    ]  # Ⅰ级护理 on three of four days
    await apply(
        fraud_app, admitted("B2", days=4, medfee="150.00", fund="90.00", dise="I63.900", lines=one_day)
    )
    assert [row[:5] for row in await findings_of(fraud_app, "bed_hold")] == [
        (
            "B1",
            "B1",
            "P-B1",
            "H1",
            "2 of 5 inpatient days with no bed, nursing or treatment charge (2026-02-03, 2026-02-04; threshold 2)",
        )
    ]


async def test_a_minimum_living_persons_burden_is_judged_on_the_threshold_of_the_category(
    fraud_app: FastAPI, api: httpx.AsyncClient
) -> None:
    burden = await rule_id(api, "high_burden")
    edited = await api.put(
        f"/rules/{burden}", json={"params": {"thresholds_by_category": {"minimum_living": "3999.99"}}}
    )
    assert edited.json()["params"] == {
        "threshold_yuan": "50000",
        "thresholds_by_category": {"minimum_living": "3999.99"},
    }
    await apply(
        fraud_app,
        admitted("L1", dise="I63.900", medfee="10000.00", fund="6000.00", assistance="minimum_living"),
        admitted("L2", dise="I63.900", medfee="9999.99", fund="6000.00", assistance="minimum_living"),
        admitted("N1", dise="I63.900", medfee="10000.00", fund="6000.00"),
        admitted("E1", dise="I63.900", medfee="10000.00", fund="6000.00", assistance="extreme_poverty"),
    )
    message = "personal burden 4000.00 in 2026 above 3999.99 (threshold of minimum_living)"
    assert [row[:5] for row in await findings_of(fraud_app, "high_burden")] == [
        ("P-L1:2026", "L1", "P-L1", "H1", message)
    ]
    async with fraud_app.state.db.transaction(readonly=True) as session:
        kept = dict((await session.execute(sa.select(ClaimRecord.setl_id, ClaimRecord.assistance))).all())
    assert kept == {"L1": "minimum_living", "L2": "minimum_living", "N1": None, "E1": "extreme_poverty"}
    replayed = await api.post(f"/rules/{burden}/backtest", json={"from": "2026-02-01", "to": "2026-02-28"})
    assert [(s["setl_id"], s["message"]) for s in replayed.json()["sample"]] == [("L1", message)]


# --- bad input ------------------------------------------------------------------------------------------------


async def test_bad_months_params_and_callers_are_refused_and_write_nothing(
    fraud_app: FastAPI, api: httpx.AsyncClient
) -> None:
    await induced_month(fraud_app)
    burden = await rule_id(api, "high_burden")
    before = await counts(fraud_app)
    refused = {
        "month 13": await api.post("/institution-rules/run", json={"month": "2026-13"}),
        "no month": await api.post("/institution-rules/run", json={}),
        "a day": await api.post("/institution-rules/run", json={"month": "2026-02-01"}),
        "not over": await api.post("/institution-rules/run", json={"month": "2026-03"}),
        "bad category": await api.put(
            f"/rules/{burden}", json={"params": {"thresholds_by_category": {"rich": "1"}}}
        ),
        "bad codes": await api.post(
            "/rules", json={"family": "bed_hold", "params": {"care_prefixes": "1109"}}
        ),
        "bad share": await api.post(
            "/rules", json={"family": "induced_admission", "params": {"max_share": 2}}
        ),
    }
    assert {name: (r.status_code, r.json()["code"]) for name, r in refused.items()} == {
        "month 13": (422, "VALIDATION_ERROR"),
        "no month": (422, "VALIDATION_ERROR"),
        "a day": (422, "VALIDATION_ERROR"),
        "not over": (409, "MONTH_NOT_OVER"),
        "bad category": (422, "INVALID_RULE_PARAMS"),
        "bad codes": (422, "INVALID_RULE_PARAMS"),
        "bad share": (422, "INVALID_RULE_PARAMS"),
    }
    assert refused["bad category"].json()["problems"] == [
        "thresholds_by_category: unknown key 'rich' (one of extreme_poverty, minimum_living, monitored)"
    ]
    async with app_client(fraud_app, principal=Principal("his-h1", Role.HIS, "H1")) as his:
        forbidden = await his.post("/institution-rules/run", json={"month": "2026-02"})
    assert (forbidden.status_code, forbidden.json()["code"]) == (403, "ROLE_FORBIDDEN")
    assert await counts(fraud_app) == before


async def test_the_new_families_are_documented_with_their_parameters(api: httpx.AsyncClient) -> None:
    families = {f["family"]: f for f in (await api.get("/rule-families")).json()}
    assert [p for p in families["high_burden"]["params"] if p["name"] == "thresholds_by_category"] == [
        {
            "name": "thresholds_by_category",
            "type": "yuan_map",
            "default": {},
            "minimum": "0",
            "maximum": "10000000",
            "description": families["high_burden"]["params"][1]["description"],
            "keys": ["extreme_poverty", "minimum_living", "monitored"],
        }
    ]
    assert families["bed_hold"]["params"][1] | {"description": ""} == {
        "name": "care_prefixes",
        "type": "codes",
        "default": ["1109", "12", "001109", "0012"],
        "minimum": 1,
        "maximum": 200,
        "description": "",
    }
