"""Duplicates and retries never charge or count twice: the same claim or sale sent many times at once, different
bodies racing for one key (409 / SALE_ID_CONFLICT), and settlement's own events delivered again to fraud and
pricing under new message ids (past JetStream's duplicate window only the inbox stands in the way).

Fast and in-process (real NATS, real databases): part of `make test`. What this adds to the neighbours:
tests/settlement/test_settle_api.py and tests/pricing/test_sales_api.py retry one at a time;
tests/common/test_event_backbone.py redelivers to a test handler; here the retries race and the redelivered
events are the real services' own.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import nats
import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from prometheus_client import REGISTRY

from common.clock import FrozenClock
from common.config import AppEnv
from common.events.contracts import Subject
from common.events.tables import inbox_event, outbox_event
from common.money import yuan_to_fen
from common.testing.apps import app_client, wait_for
from common.testing.databases import Databases
from fraud.app import create_app as create_fraud
from fraud.config import Settings as FraudSettings
from fraud.models import ClaimRecord
from pricing.app import create_app as create_pricing
from pricing.config import Settings as PricingSettings
from pricing.models import Observation, Pharmacy
from settlement.app import create_app as create_settlement
from settlement.config import Settings as SettlementSettings
from settlement.models import Settlement, YearAccumulator
from tests.faults.platform import (
    ACCOUNT_FEN,
    DRUGS,
    FRAUD_CONSUMER,
    HOSPITALS,
    ITEMS,
    PERSONS,
    PHARMACIES,
    PRICING_CONSUMER,
    claim,
)
from tests.settlement.conftest import at_shanghai
from tests.settlement.seed import credit_account, seed_person

RACERS = 8


@dataclass
class Services:
    settlement: FastAPI
    fraud: FastAPI
    pricing: FastAPI
    settle: httpx.AsyncClient
    market: httpx.AsyncClient


@pytest.fixture
async def services(databases: Databases, nats_url: str, clock: FrozenClock) -> AsyncIterator[Services]:
    clock.set(at_shanghai(2026, 3, 2, 10))
    common_settings: dict[str, Any] = {"nats_url": nats_url, "app_env": AppEnv.TEST}
    settlement = create_settlement(
        SettlementSettings(database_url=databases.url("settlement"), review_enabled=False, **common_settings),
        clock=clock,
    )
    fraud = create_fraud(FraudSettings(database_url=databases.url("fraud"), **common_settings), clock=clock)
    pricing = create_pricing(
        PricingSettings(database_url=databases.url("pricing"), **common_settings), clock=clock
    )
    async with (
        app_client(settlement) as settle,
        app_client(fraud),
        app_client(pricing) as market,
    ):
        await wait_for(
            lambda: all(app.state.nats.connected for app in (settlement, fraud, pricing)), what="NATS"
        )
        for code in HOSPITALS:
            body = {"fixmedins_name": f"医院{code}", "fixmedins_type": "hospital", "hosp_lv": 2,
                    "admdvs": "420100", "status": "active"}  # fmt: skip
            assert (await settle.put(f"/institutions/{code}", json=body)).status_code == 201
        for code in PHARMACIES:
            body = {"fixmedins_name": f"药店{code}", "fixmedins_type": "pharmacy", "admdvs": "420100",
                    "status": "active"}  # fmt: skip
            assert (await settle.put(f"/institutions/{code}", json=body)).status_code == 201
        for code in (*ITEMS, *DRUGS):
            answer = await settle.put(f"/catalog/{code}", json={"name": code, "chrgitm_lv": "01"})
            assert answer.status_code == 201
        for code in DRUGS:
            body = {"generic_name": f"药品{code}", "spec": "10mg*10片"}
            assert (await market.put(f"/drugs/{code}", json=body)).status_code == 201
        for n, psn_no in enumerate(PERSONS[:2], start=1):
            await seed_person(settlement.state.db, psn_no, coverage_id=n)
            await credit_account(settlement.state.db, psn_no, ACCOUNT_FEN)

        async def pharmacies_known() -> bool:
            return await _count(pricing, sa.select(sa.func.count()).select_from(Pharmacy)) == len(PHARMACIES)

        await wait_for(pharmacies_known, timeout=15, what="pricing to project the pharmacies")
        yield Services(settlement, fraud, pricing, settle, market)


def _claim(n: int, **changes: Any) -> dict[str, Any]:
    return claim(n, psn_no=PERSONS[0], at=at_shanghai(2026, 3, 2, 9, 30)) | changes


async def test_one_claim_sent_many_times_at_once_is_settled_and_charged_once(services: Services) -> None:
    body = _claim(1)  # an outpatient visit paid partly from the account
    answers = await asyncio.gather(*(services.settle.post("/settlements", json=body) for _ in range(RACERS)))
    assert sorted(a.status_code for a in answers) == [200] * (RACERS - 1) + [201]
    [original] = [a.json() for a in answers if a.status_code == 201]
    assert all(a.json() == original for a in answers)
    assert {a.headers.get("Idempotent-Replay") for a in answers if a.status_code == 200} == {"true"}
    acct_pay = yuan_to_fen(original["setlinfo"]["acct_pay"])
    assert acct_pay > 0
    await _assert_charged_once(services, settlements=1, acct_pay_fen=acct_pay)


async def test_different_claims_racing_for_one_medins_setl_id_settle_one_and_the_rest_are_409(
    services: Services,
) -> None:
    bodies = [_claim(1, acct_used_flag=1, psn_no=PERSONS[0] if n % 2 else PERSONS[1]) for n in range(RACERS)]
    for n, body in enumerate(bodies):
        body["feedetail"][0] |= {"cnt": "1", "pric": f"{20 + n}.00", "det_item_fee_sumamt": f"{20 + n}.00"}
    answers = await asyncio.gather(*(services.settle.post("/settlements", json=body) for body in bodies))
    assert sorted(a.status_code for a in answers) == [201] + [409] * (RACERS - 1)
    assert {a.json()["code"] for a in answers if a.status_code == 409} == {"SETTLEMENT_CONFLICT"}
    [winner] = [a.json() for a in answers if a.status_code == 201]
    await _assert_charged_once(
        services, settlements=1, acct_pay_fen=yuan_to_fen(winner["setlinfo"]["acct_pay"])
    )


async def test_one_sale_uploaded_many_times_at_once_is_one_observation(services: Services) -> None:
    line = {"sale_id": "POS-1", "med_list_codg": DRUGS[0], "finl_trns_pric": "12.00", "cnt": "1",
            "sel_time": at_shanghai(2026, 3, 2, 9).isoformat(), "drug_trac_codg": ["81000000000000000009"]}  # fmt: skip
    same = await asyncio.gather(*(_upload(services, line) for _ in range(RACERS)))
    assert sorted(r["replay"] for r in same) == [False] + [True] * (RACERS - 1)
    assert {(r["status"], r["light"], r["pric"]) for r in same} == {("accepted", "green", "12.00")}
    changed = [line | {"sale_id": "POS-2", "finl_trns_pric": f"{12 + n}.00"} for n in range(RACERS)]
    racing = await asyncio.gather(*(_upload(services, body) for body in changed))
    assert sorted((r["status"], r["reason"]) for r in racing) == [("accepted", None)] + [
        ("rejected", "SALE_ID_CONFLICT")
    ] * (RACERS - 1)
    observations = sa.select(Observation.sale_id).order_by(Observation.sale_id)
    async with services.pricing.state.db.transaction(readonly=True) as session:
        assert list((await session.scalars(observations)).all()) == ["POS-1", "POS-2"]


async def test_settlement_events_delivered_again_under_new_message_ids_are_applied_once(
    services: Services, nats_url: str, clock: FrozenClock
) -> None:
    body = _claim(3)  # claim 3 is a pharmacy purchase of both drugs
    assert body["med_type"] == "41"
    settled = await services.settle.post("/settlements", json=body)
    assert settled.status_code == 201, settled.text
    setl_id = settled.json()["setlinfo"]["setl_id"]
    await _until_applied(services, Subject.SETTLED, 1)
    assert await _observations(services) == [f"{setl_id}:1", f"{setl_id}:2"]

    before = _duplicates_counted()
    await _deliver_again(services, nats_url, Subject.SETTLED, copies=2)
    await wait_for(lambda: _duplicates_counted() == before + 4, timeout=15, what="the copies handled")
    assert await _count(services.fraud, sa.select(sa.func.count()).select_from(ClaimRecord)) == 1
    assert await _observations(services) == [f"{setl_id}:1", f"{setl_id}:2"]

    clock.advance(minutes=30)
    reversed_ = await services.settle.post(f"/settlements/{setl_id}/reversal", json={"reason": "退货"})
    assert reversed_.status_code == 201, reversed_.text
    await _until_applied(services, Subject.REVERSED, 1)
    assert await _observations(services) == []
    # The settlement comes again after its reversal, then the reversal: still reversed, still no price.
    await _deliver_again(services, nats_url, Subject.SETTLED, copies=1)
    await _deliver_again(services, nats_url, Subject.REVERSED, copies=1)
    await wait_for(lambda: _duplicates_counted() == before + 8, timeout=15, what="the copies handled")
    assert await _observations(services) == []
    async with services.fraud.state.db.transaction(readonly=True) as session:
        record = await session.get(ClaimRecord, setl_id)
    assert record is not None and record.reversed is True
    for app, consumer in ((services.fraud, FRAUD_CONSUMER), (services.pricing, PRICING_CONSUMER)):
        inbox = sa.select(inbox_event.c.type, sa.func.count()).where(inbox_event.c.consumer == consumer)
        async with app.state.db.transaction(readonly=True) as session:
            seen = dict((await session.execute(inbox.group_by(inbox_event.c.type))).all())
        assert (seen[Subject.SETTLED], seen[Subject.REVERSED]) == (1, 1)


# --- helpers -------------------------------------------------------------------------------------------


async def _count(app: FastAPI, query: Any) -> int:
    async with app.state.db.transaction(readonly=True) as session:
        return int(await session.scalar(query) or 0)


async def _assert_charged_once(services: Services, *, settlements: int, acct_pay_fen: int) -> None:
    db = services.settlement.state.db
    assert (
        await _count(services.settlement, sa.select(sa.func.count()).select_from(Settlement)) == settlements
    )
    settled_events = sa.select(sa.func.count()).where(outbox_event.c.type == Subject.SETTLED)
    assert await _count(services.settlement, settled_events) == settlements
    async with db.transaction(readonly=True) as session:
        years = (await session.scalars(sa.select(YearAccumulator.settlement_count))).all()
    assert sum(years) == settlements
    balances = [(await services.settle.get(f"/accounts/{psn_no}")).json()["balc"] for psn_no in PERSONS[:2]]
    assert sorted(yuan_to_fen(b) for b in balances) == sorted([ACCOUNT_FEN, ACCOUNT_FEN - acct_pay_fen])
    check = (await services.settle.get("/ledger/check")).json()
    assert check["balanced"] is True, check


async def _upload(services: Services, line: dict[str, Any]) -> dict[str, Any]:
    response = await services.market.post("/sales", json={"fixmedins_code": PHARMACIES[0], "sales": [line]})
    assert response.status_code == 200, response.text
    [result] = response.json()["results"]
    return dict(result)


async def _observations(services: Services) -> list[str]:
    async with services.pricing.state.db.transaction(readonly=True) as session:
        return list(
            (await session.scalars(sa.select(Observation.sale_id).order_by(Observation.sale_id))).all()
        )


async def _until_applied(services: Services, subject: str, expected: int) -> None:
    for app, consumer in ((services.fraud, FRAUD_CONSUMER), (services.pricing, PRICING_CONSUMER)):
        query = sa.select(sa.func.count()).where(
            inbox_event.c.consumer == consumer, inbox_event.c.type == subject
        )

        async def applied(app: FastAPI = app, query: Any = query) -> bool:
            return await _count(app, query) == expected

        await wait_for(applied, timeout=15, what=f"{consumer} to apply {subject}")


async def _deliver_again(services: Services, nats_url: str, subject: str, *, copies: int) -> None:
    """Publish settlement's own events of this subject again, each under a new message id: to JetStream they
    are new messages (as after its duplicate window), to the consumers the same events."""
    query = sa.select(outbox_event.c.event_id, outbox_event.c.payload).where(outbox_event.c.type == subject)
    async with services.settlement.state.db.transaction(readonly=True) as session:
        events = (await session.execute(query)).all()
    assert events
    client = await nats.connect(nats_url)
    try:
        js = client.jetstream()
        for _event_id, payload in events:
            for _ in range(copies):
                message_id = f"again:{uuid.uuid4().hex}"  # never the event id: a message JetStream keeps
                ack = await js.publish(subject, payload, headers={"Nats-Msg-Id": message_id})
                assert not ack.duplicate
    finally:
        await client.close()


def _duplicates_counted() -> float:
    """How many deliveries fraud's and pricing's inboxes turned away as already applied (this process)."""
    total = 0.0
    for consumer, service in ((FRAUD_CONSUMER, "fraud"), (PRICING_CONSUMER, "pricing")):
        for subject in (Subject.SETTLED, Subject.REVERSED):
            labels = {"service": service, "consumer": consumer, "type": subject, "outcome": "duplicate"}
            total += REGISTRY.get_sample_value("events_consumed_total", labels) or 0.0
    return total
