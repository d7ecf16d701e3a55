"""The real-time review: POST /reviews and the NATS request/reply fraud.review, against the projection."""

from __future__ import annotations

import json
import time
from datetime import date
from typing import Any

import httpx
import nats
from fastapi import FastAPI

from common.events.contracts import FRAUD_REVIEW_SUBJECT
from common.principal import Principal, Role
from common.testing.apps import wait_for
from tests.fraud.conftest import apply, catalog, settled, settled_line
from tests.settlement.conftest import as_client


def review_body(
    *lines: dict[str, Any], psn_no: str = "P1", gend: str = "1", code: str = "Y1"
) -> dict[str, Any]:
    return {
        "psn_no": psn_no, "gend": gend, "brdy": "1960-03-10", "insutype": "310", "med_type": "41",
        "fixmedins_code": code, "fixmedins_type": "pharmacy", "hosp_lv": None, "admdvs": "420100",
        "begntime": "2026-03-10T09:30:00+08:00", "medfee_sumamt": "100.00", "lines": list(lines),
    }  # fmt: skip


def review_line(
    sn: str, item: str = "A01", *, cnt: str = "1", amount: str = "50.00", codes: list[str] | None = None
) -> dict[str, Any]:
    return {
        "feedetl_sn": sn, "med_list_codg": item, "cnt": cnt, "pric": amount, "det_item_fee_sumamt": amount,
        "fee_ocur_time": "2026-03-10T09:31:00+08:00", "drug_trac_codg": codes or [],
    }  # fmt: skip


async def history(app: FastAPI) -> None:
    day = date(2026, 3, 10)
    await apply(
        app,
        catalog("A01", max_cnt_per_visit="6"),
        catalog("W01", gend_lmt="2"),
        settled("S1", med_type="41", begin=day, code="Y1", hosp_lv=None, dise=None,
                lines=[settled_line("1", "B02", amount="30.00", day=day, codes=["T1"])]),
    )  # fmt: skip


async def test_a_reused_trace_code_blocks_and_names_the_rule_and_its_version(
    fraud_app: FastAPI, api: httpx.AsyncClient
) -> None:
    await history(fraud_app)
    response = await api.post(
        "/reviews", json=review_body(review_line("1", codes=["T9"]), review_line("2", "C03", codes=["T1"]))
    )
    assert response.status_code == 200, response.text
    assert response.json() == {
        "status": "blocked",
        "hits": [
            {"rule_id": 4, "rule_version": 1, "family": "trace_code_reuse", "severity": "block",
             "message": "traceability code T1 already settled in S1 at Y1 on 2026-03-10", "feedetl_sn": "2",
             "vola_amt": "50.00"}
        ],
    }  # fmt: skip


async def test_warn_and_block_hits_of_the_in_rules_come_back_together(
    fraud_app: FastAPI, api: httpx.AsyncClient
) -> None:
    await history(fraud_app)
    body = review_body(
        review_line("1", cnt="7", amount="70.00"), review_line("2", "B02"), review_line("3", "W01")
    )
    response = await api.post("/reviews", json=body)
    assert [(h["family"], h["severity"], h["feedetl_sn"]) for h in response.json()["hits"]] == [
        ("duplicate_billing", "warn", "2"),
        ("over_quantity", "warn", "1"),
        ("gender_age_limit", "block", "3"),
    ]
    clean = await api.post("/reviews", json=review_body(review_line("1", "C03")))
    assert clean.json() == {"status": "passed", "hits": []}


async def test_a_disabled_rule_stops_hitting_at_once(fraud_app: FastAPI, api: httpx.AsyncClient) -> None:
    await history(fraud_app)
    assert (await api.put("/rules/8", json={"enabled": False})).json()["family"] == "gender_age_limit"
    response = await api.post("/reviews", json=review_body(review_line("1", "W01")))
    assert response.json() == {"status": "passed", "hits": []}


async def test_a_pharmacy_reviews_only_its_own_claims_and_bad_claims_are_422(
    fraud_app: FastAPI, api: httpx.AsyncClient
) -> None:
    pos = as_client(fraud_app, Principal(client_id="pos-1", role=Role.POS, scope="Y1"))
    async with pos:
        own = await pos.post("/reviews", json=review_body(review_line("1")))
        other = await pos.post("/reviews", json=review_body(review_line("1"), code="Y2"))
    assert (own.status_code, other.status_code, other.json()["code"]) == (200, 403, "SCOPE_FORBIDDEN")
    bad = await api.post("/reviews", json=review_body(review_line("1", amount="1.001")))
    empty = await api.post("/reviews", json=review_body())
    assert [(r.status_code, r.json()["code"]) for r in (bad, empty)] == [
        (422, "VALIDATION_ERROR"),
        (422, "VALIDATION_ERROR"),
    ]


async def test_fraud_review_over_nats_answers_as_settlement_asks_within_the_budget(
    fraud_app: FastAPI, api: httpx.AsyncClient, nats_url: str
) -> None:
    await history(fraud_app)
    await wait_for(lambda: fraud_app.state.nats.connected, what="NATS")
    claim = review_body(review_line("1", codes=["T1"]))
    claim["mdtrt_id"], claim["endtime"], claim["dise_codg"] = None, None, None
    claim["lines"][0]["chrgitm_lv"] = "01"
    client = await nats.connect(nats_url)
    try:

        async def answered() -> Any:
            try:
                return await client.request(
                    FRAUD_REVIEW_SUBJECT, json.dumps({"stage": "in", "claim": claim}).encode(), timeout=0.5
                )
            except Exception:
                return None

        reply = await wait_for(answered, what="fraud.review answered")
        assert json.loads(reply.data) == {
            "hits": [
                {"rule_id": 4, "rule_version": 1, "family": "trace_code_reuse", "severity": "block",
                 "message": "traceability code T1 already settled in S1 at Y1 on 2026-03-10", "feedetl_sn": "1",
                 "vola_amt": "50.00"}
            ]
        }  # fmt: skip
        started = time.perf_counter()
        for _ in range(20):
            await client.request(
                FRAUD_REVIEW_SUBJECT, json.dumps({"stage": "in", "claim": claim}).encode(), timeout=0.15
            )
        assert time.perf_counter() - started < 20 * 0.15
        # A request that does not fit the contract gets no answer: the caller fails open at its budget.
        try:
            await client.request(FRAUD_REVIEW_SUBJECT, b"{}", timeout=0.2)
            answered_garbage = True
        except Exception:
            answered_garbage = False
        assert answered_garbage is False
    finally:
        await client.close()
