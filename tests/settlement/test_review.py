"""The real-time review over the real NATS subject fraud.review: block, warn, and fail-open when silent.

The fraud service answers this subject in production; here a test double answers on the same subject.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import nats
import pytest
from fastapi import FastAPI
from nats.aio.msg import Msg

from common.clock import FrozenClock
from common.events.contracts import FRAUD_REVIEW_SUBJECT
from common.testing.apps import app_client, wait_for
from common.testing.databases import Databases
from settlement.app import create_app
from settlement.models import FeeDetail, Journal, Settlement, Visit
from tests.settlement.conftest import settlement_settings
from tests.settlement.seed import count, seed_catalog, seed_institution, seed_person
from tests.settlement.test_settle_api import HOSPITAL, claim, line

Responder = Callable[[dict[str, Any]], Awaitable[dict[str, Any] | None]]


@pytest.fixture
def reviewed_app(databases: Databases, nats_url: str, clock: FrozenClock) -> FastAPI:
    return create_app(settlement_settings(databases, nats_url, review_enabled=True), clock=clock)


@pytest.fixture
async def reviewed(reviewed_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(reviewed_app) as client:
        db = reviewed_app.state.db
        await seed_institution(db, HOSPITAL, hosp_lv=2)
        await seed_catalog(db, "A01", "01")
        await seed_person(db, "P1")
        await wait_for(lambda: reviewed_app.state.nats.connected, what="NATS")
        yield client


@pytest.fixture
async def fraud_double(
    nats_url: str,
) -> AsyncIterator[Callable[[Responder], Awaitable[list[dict[str, Any]]]]]:
    """Answer fraud.review with the given function; returns the requests it saw."""
    client = await nats.connect(nats_url)
    seen: list[dict[str, Any]] = []

    async def install(respond: Responder) -> list[dict[str, Any]]:
        async def handler(msg: Msg) -> None:
            request = json.loads(msg.data)
            seen.append(request)
            answer = await respond(request)
            if answer is not None:
                await msg.respond(json.dumps(answer).encode())

        await client.subscribe(FRAUD_REVIEW_SUBJECT, cb=handler)
        await client.flush()
        return seen

    yield install
    await client.close()


def hit(severity: str, family: str = "trace_code_reuse") -> dict[str, Any]:
    return {
        "rule_id": 7,
        "rule_version": 2,
        "family": family,
        "severity": severity,
        "message": "追溯码已被销售",
        "feedetl_sn": "1",
        "vola_amt": "50.00",
    }


async def test_a_block_hit_refuses_the_settlement_with_the_hits_and_writes_nothing(
    reviewed_app: FastAPI, reviewed: httpx.AsyncClient, fraud_double: Any
) -> None:
    async def block(request: dict[str, Any]) -> dict[str, Any]:
        return {"hits": [hit("block"), hit("warn", "duplicate_billing")]}

    seen = await fraud_double(block)
    body = claim("RB-1", [line("1", "A01", "1", "50", "50.00", drug_trac_codg=["81000000000000000009"])])
    response = await reviewed.post("/settlements", json=body)
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["code"] == "REVIEW_BLOCKED"
    assert [(h["family"], h["severity"]) for h in problem["hits"]] == [
        ("trace_code_reuse", "block"),
        ("duplicate_billing", "warn"),
    ]
    db = reviewed_app.state.db
    assert (
        await count(db, Settlement),
        await count(db, Journal),
        await count(db, Visit),
        await count(db, FeeDetail),
    ) == (
        0,
        0,
        0,
        0,
    )
    # What fraud was asked: the claim as settlement sees it, catalogue class and trace codes included.
    asked = seen[0]
    assert asked["stage"] == "in"
    assert (asked["claim"]["psn_no"], asked["claim"]["hosp_lv"], asked["claim"]["medfee_sumamt"]) == (
        "P1",
        2,
        "50.00",
    )
    assert asked["claim"]["lines"][0]["chrgitm_lv"] == "01"
    assert asked["claim"]["lines"][0]["drug_trac_codg"] == ["81000000000000000009"]


async def test_warn_hits_come_back_with_the_settlement(
    reviewed: httpx.AsyncClient, fraud_double: Any
) -> None:
    async def warn(request: dict[str, Any]) -> dict[str, Any]:
        return {"hits": [hit("warn", "duplicate_billing")]}

    await fraud_double(warn)
    response = await reviewed.post("/settlements", json=claim("RW-1", [line("1", "A01", "1", "50", "50.00")]))
    assert response.status_code == 201, response.text
    assert response.json()["review"]["status"] == "warned"
    assert [(w["code"], w["details"]["family"]) for w in response.json()["warnings"]] == [
        ("REVIEW_WARNING", "duplicate_billing")
    ]


async def test_no_hits_is_passed(reviewed: httpx.AsyncClient, fraud_double: Any) -> None:
    async def clean(request: dict[str, Any]) -> dict[str, Any]:
        return {"hits": []}

    await fraud_double(clean)
    response = await reviewed.post("/settlements", json=claim("RP-1", [line("1", "A01", "1", "50", "50.00")]))
    assert (response.status_code, response.json()["review"], response.json()["warnings"]) == (
        201,
        {"status": "passed", "hits": []},
        [],
    )


@pytest.mark.parametrize("behaviour", ["nobody listens", "too slow", "garbage"])
async def test_without_a_timely_answer_the_settlement_goes_through_marked_skipped(
    reviewed_app: FastAPI, reviewed: httpx.AsyncClient, fraud_double: Any, behaviour: str
) -> None:
    async def slow(request: dict[str, Any]) -> dict[str, Any]:
        await asyncio.sleep(0.5)  # past the 150 ms budget
        return {"hits": [hit("block")]}

    async def garbage(request: dict[str, Any]) -> dict[str, Any]:
        return {"hits": [{"severity": "catastrophic"}]}

    if behaviour == "too slow":
        await fraud_double(slow)
    elif behaviour == "garbage":
        await fraud_double(garbage)
    response = await reviewed.post("/settlements", json=claim("RS-1", [line("1", "A01", "1", "50", "50.00")]))
    assert response.status_code == 201, response.text
    assert response.json()["review"] == {"status": "skipped", "hits": []}
    assert [w["code"] for w in response.json()["warnings"]] == ["REVIEW_SKIPPED"]
    async with reviewed_app.state.db.transaction(readonly=True) as session:
        stored = await session.get(Settlement, response.json()["setlinfo"]["setl_id"])
    assert stored is not None and stored.review == "skipped"
