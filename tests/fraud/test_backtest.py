"""Backtests: a rule (or new parameters) over a range of settled history, counted, sampled, written nowhere."""

from __future__ import annotations

from datetime import date

import httpx
import sqlalchemy as sa
from fastapi import FastAPI

from common.events.tables import outbox_event
from fraud.models import Finding, Rule, RuleVersion
from tests.fraud.conftest import apply, reversed_, settled


async def admissions(app: FastAPI) -> None:
    """P1 admitted 5, 20 January and 10 February; P2 on 1 and 25 February (the second reversed)."""
    p2_second = settled("B2", psn_no="P2", begin=date(2026, 2, 25), end=date(2026, 2, 26), dise="J18.000")
    await apply(
        app,
        settled("A1", begin=date(2026, 1, 5), end=date(2026, 1, 8)),
        settled("A2", begin=date(2026, 1, 20), end=date(2026, 1, 22), dise="J18.000"),
        settled("A3", begin=date(2026, 2, 10), end=date(2026, 2, 12), dise="K35.000", fund="300.00"),
        settled("B1", psn_no="P2", begin=date(2026, 2, 1), end=date(2026, 2, 2)),
        p2_second,
        reversed_(p2_second, on=date(2026, 2, 27)),
    )


async def counts(app: FastAPI) -> tuple[int, int, int, int]:
    async with app.state.db.transaction(readonly=True) as session:
        return tuple(  # type: ignore[return-value]
            [
                int(await session.scalar(sa.select(sa.func.count()).select_from(table)) or 0)
                for table in (Finding, Rule, RuleVersion, outbox_event)
            ]
        )


async def test_a_backtest_with_new_params_counts_and_samples_and_persists_nothing(
    fraud_app: FastAPI, api: httpx.AsyncClient
) -> None:
    await admissions(fraud_app)
    before = await counts(fraud_app)
    as_is = await api.post("/rules/1/backtest", json={"from": "2026-01-01", "to": "2026-02-28"})
    assert as_is.status_code == 200, as_is.text
    assert {
        k: as_is.json()[k] for k in ("settlements_examined", "settlements_flagged", "hits", "vola_amt")
    } == {
        "settlements_examined": 4,
        "settlements_flagged": 1,
        "hits": 1,
        "vola_amt": "300.00",
    }
    looser = await api.post(
        "/rules/1/backtest", json={"from": "2026-01-01", "to": "2026-02-28", "params": {"min_admissions": 2}}
    )
    body = looser.json()
    assert (
        body["params"],
        body["settlements_flagged"],
        body["findings_it_would_raise"],
        body["from"],
        body["truncated"],
    ) == (
        {"min_admissions": 2, "window_days": 365},
        2,
        1,
        "2026-01-01",
        False,
    )
    assert [(s["setl_id"], s["psn_no"], s["setl_date"]) for s in body["sample"]] == [
        ("A2", "P1", "2026-01-22"),
        ("A3", "P1", "2026-02-12"),
    ]
    february = await api.post(
        "/rules/1/backtest", json={"from": "2026-02-01", "to": "2026-02-28", "params": {"min_admissions": 2}}
    )
    assert (february.json()["settlements_examined"], february.json()["settlements_flagged"]) == (2, 1)
    assert await counts(fraud_app) == before


async def test_bad_backtests_are_422(fraud_app: FastAPI, api: httpx.AsyncClient) -> None:
    cases = [
        await api.post("/rules/1/backtest", json={"from": "2026-03-01", "to": "2026-02-01"}),
        await api.post("/rules/1/backtest", json={"from": "2025-01-01", "to": "2026-06-01"}),
        await api.post(
            "/rules/1/backtest",
            json={"from": "2026-01-01", "to": "2026-02-01", "params": {"min_admissions": 0}},
        ),
        await api.post("/rules/77/backtest", json={"from": "2026-01-01", "to": "2026-02-01"}),
    ]
    assert [(r.status_code, r.json()["code"]) for r in cases] == [
        (422, "VALIDATION_ERROR"),
        (422, "VALIDATION_ERROR"),
        (422, "INVALID_RULE_PARAMS"),
        (404, "RULE_NOT_FOUND"),
    ]
