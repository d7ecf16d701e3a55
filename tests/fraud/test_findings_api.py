"""Findings over HTTP: listed by status, institution, rule, person, category; confirmed or dismissed once."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import httpx
import sqlalchemy as sa
from fastapi import FastAPI

from common.events.contracts import Subject
from common.events.tables import outbox_event
from common.principal import Principal, Role
from fraud.models import Finding
from tests.fraud.conftest import apply, settled
from tests.settlement.conftest import as_client


async def city(app: FastAPI) -> None:
    """P1: three admissions at H1 (one finding, on S3), P2: a high burden at H2 (assistance)."""
    await apply(
        app,
        settled("S1", begin=date(2026, 1, 5), end=date(2026, 1, 10)),
        settled("S2", begin=date(2026, 4, 5), end=date(2026, 4, 9), dise="J18.000"),
        settled("S3", begin=date(2026, 9, 5), end=date(2026, 9, 9), dise="K35.000", fund="1200.50"),
        settled(
            "S9",
            psn_no="P2",
            code="H2",
            begin=date(2026, 5, 1),
            end=date(2026, 5, 30),
            medfee="80000.00",
            fund="20000.00",
        ),
    )


async def confirmed_events(app: FastAPI) -> list[dict[str, Any]]:
    async with app.state.db.transaction(readonly=True) as session:
        rows = (await session.execute(sa.select(outbox_event.c.type, outbox_event.c.payload))).all()
    return [json.loads(payload)["data"] for kind, payload in rows if kind == Subject.FINDING_CONFIRMED]


async def test_findings_are_listed_newest_first_with_filters_and_pages(
    fraud_app: FastAPI, api: httpx.AsyncClient
) -> None:
    await city(fraud_app)
    everything = (await api.get("/findings")).json()
    assert [
        (f["finding_id"], f["family"], f["category"], f["fixmedins_code"], f["setl_id"])
        for f in everything["items"]
    ] == [
        (2, "high_burden", "assistance", "H2", "S9"),
        (1, "admission_frequency", "fraud", "H1", "S3"),
    ]
    assert everything["items"][1]["fund_pay_sumamt"] == "1200.50"
    queries = {
        "category=fraud": [1],
        "category=assistance": [2],
        "fixmedins_code=H2": [2],
        "rule_id=1": [1],
        "psn_no=P1": [1],
        "status=open": [2, 1],
        "status=confirmed": [],
    }
    for query, ids in queries.items():
        assert [f["finding_id"] for f in (await api.get(f"/findings?{query}")).json()["items"]] == ids, query
    first = (await api.get("/findings?limit=1")).json()
    second = (await api.get(f"/findings?limit=1&cursor={first['next_cursor']}")).json()
    assert ([f["finding_id"] for f in second["items"]], second["next_cursor"]) == ([1], None)
    bad = [await api.get(q) for q in ("/findings?status=closed", "/findings?cursor=zzz", "/findings/99")]
    assert [(r.status_code, r.json()["code"]) for r in bad] == [
        (422, "VALIDATION_ERROR"),
        (400, "INVALID_CURSOR"),
        (404, "FINDING_NOT_FOUND"),
    ]


async def test_confirming_records_who_and_why_and_deducts_nothing_until_a_case_is_decided(
    fraud_app: FastAPI, api: httpx.AsyncClient
) -> None:
    await city(fraud_app)
    too_much = await api.post(
        "/findings/1/confirm", json={"amount_to_recover": "1200.51", "note": "分解住院"}
    )
    assert (too_much.status_code, too_much.json()["code"], too_much.json()["fund_pay_sumamt"]) == (
        422,
        "AMOUNT_EXCEEDS_FUND_PAY",
        "1200.50",
    )
    confirmed = await api.post(
        "/findings/1/confirm", json={"amount_to_recover": "1200.50", "note": "核实违规"}
    )
    assert confirmed.status_code == 200, confirmed.text
    body = confirmed.json()
    assert (body["status"], body["amount_to_recover"], body["note"], body["decided_by"]) == (
        "confirmed",
        "1200.50",
        "核实违规",
        "ops-test",
    )
    # 疑点成立 is not a deduction: only a decided case publishes fraud.finding.confirmed (tests/fraud/test_cases_api).
    assert await confirmed_events(fraud_app) == []
    again = [
        await api.post("/findings/1/confirm", json={"amount_to_recover": "1.00", "note": "again"}),
        await api.post("/findings/1/dismiss", json={"note": "again"}),
    ]
    assert [(r.status_code, r.json()["code"]) for r in again] == [
        (409, "FINDING_NOT_OPEN"),
        (409, "FINDING_NOT_OPEN"),
    ]
    assert await confirmed_events(fraud_app) == []


async def test_an_assistance_finding_is_acknowledged_with_nothing_to_recover_or_dismissed(
    fraud_app: FastAPI, api: httpx.AsyncClient
) -> None:
    await city(fraud_app)
    recover = await api.post("/findings/2/confirm", json={"amount_to_recover": "10.00", "note": "x"})
    assert (recover.status_code, recover.json()["code"]) == (422, "NOTHING_TO_RECOVER")
    acknowledged = await api.post(
        "/findings/2/confirm", json={"amount_to_recover": "0", "note": "转医疗救助科"}
    )
    assert (acknowledged.status_code, acknowledged.json()["status"]) == (200, "confirmed")
    assert await confirmed_events(fraud_app) == []


async def test_dismissing_needs_a_reason(fraud_app: FastAPI, api: httpx.AsyncClient) -> None:
    await city(fraud_app)
    assert (await api.post("/findings/1/dismiss", json={})).json()["code"] == "VALIDATION_ERROR"
    assert (await api.post("/findings/1/dismiss", json={"note": "  "})).json()["code"] == "VALIDATION_ERROR"
    dismissed = await api.post("/findings/1/dismiss", json={"note": "病情需要"})
    assert (dismissed.json()["status"], dismissed.json()["note"], dismissed.json()["amount_to_recover"]) == (
        "dismissed",
        "病情需要",
        None,
    )
    async with fraud_app.state.db.transaction(readonly=True) as session:
        row = await session.get(Finding, 1)
    assert row is not None and (row.status, row.decided_by) == ("dismissed", "ops-test")


async def test_an_institution_sees_only_its_own_findings_and_cannot_decide_them(
    fraud_app: FastAPI, api: httpx.AsyncClient
) -> None:
    await city(fraud_app)
    his = as_client(fraud_app, Principal(client_id="his-h2", role=Role.HIS, scope="H2"))
    async with his:
        own = await his.get("/findings")
        other = await his.get("/findings?fixmedins_code=H1")
        other_one = await his.get("/findings/1")
        decide = await his.post("/findings/2/dismiss", json={"note": "不是我们的问题"})
    assert [f["finding_id"] for f in own.json()["items"]] == [2]
    assert [(r.status_code, r.json()["code"]) for r in (other, other_one, decide)] == [
        (403, "SCOPE_FORBIDDEN"),
        (403, "SCOPE_FORBIDDEN"),
        (403, "ROLE_FORBIDDEN"),
    ]
