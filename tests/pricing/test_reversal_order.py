"""A pharmacy settlement's reversal applied before the settlement (replicas, two relays): never observed.

Pricing cannot wait for the settlement as fraud does (no observation found is also what a settlement
without drug lines leaves), so the reversal is kept as a tombstone and the settlement records nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI

from common.app import running
from common.clock import FrozenClock
from common.events.contracts import Subject
from common.events.envelope import EventEnvelope, new_event
from common.events.tables import inbox_event
from common.testing.apps import app_client, wait_for
from pricing.events import on_settlement_event
from pricing.models import Observation, ReversedSettlement
from tests.pricing.conftest import put_drug
from tests.pricing.test_events import DRUG, institution, line, publish, reversed_, settled

EVENT_CLOCK = FrozenClock(datetime(2026, 3, 2, 1, 0, tzinfo=UTC))


def event(kind: str, subject: str, data: dict[str, Any]) -> EventEnvelope:
    return new_event(type=kind, source="settlement", subject=subject, data=data, clock=EVENT_CLOCK)


def settlement(setl_id: str, pharmacy: str = "P001", price: str = "10.00") -> EventEnvelope:
    return event(Subject.SETTLED, setl_id, settled(setl_id, pharmacy, "41", [line("1", DRUG, price, "1")]))


def reversal(setl_id: str, pharmacy: str = "P001", med_type: str = "41") -> EventEnvelope:
    return event(Subject.REVERSED, f"R{setl_id}", reversed_(setl_id, pharmacy, med_type=med_type))


@pytest.fixture
async def app(pricing_app: FastAPI) -> AsyncIterator[FastAPI]:
    async with running(pricing_app):
        yield pricing_app


async def handle(app: FastAPI, *events: EventEnvelope) -> None:
    """Apply each event in a transaction of its own, as the consumer's handler does."""
    for each in events:
        async with app.state.db.transaction() as session:
            await on_settlement_event(session, each, clock=app.state.clock)


async def state(app: FastAPI) -> tuple[list[str], list[str]]:
    """The sale_ids observed and the settlements kept as reversed."""
    async with app.state.db.transaction(readonly=True) as session:
        observed = (await session.scalars(sa.select(Observation.sale_id).order_by(Observation.sale_id))).all()
        tombstones = (
            await session.scalars(sa.select(ReversedSettlement.setl_id).order_by(ReversedSettlement.setl_id))
        ).all()
    return list(observed), list(tombstones)


async def test_a_settlement_whose_reversal_came_first_is_never_observed_and_a_second_reversal_is_a_no_op(
    app: FastAPI,
) -> None:
    async with app_client(app) as api:
        await put_drug(api, DRUG)
    await handle(app, reversal("S1"))
    assert await state(app) == ([], ["S1"])
    await handle(app, settlement("S1"), settlement("S2"))
    assert await state(app) == (["S2:1"], ["S1"])  # S2 was not reversed: observed as ever
    await handle(app, reversal("S1"))  # the same reversal again, under another event id
    assert await state(app) == (["S2:1"], ["S1"])
    # A settlement reversed after it was observed goes, and is kept as reversed too: seen again, it stays out.
    await handle(app, reversal("S2"), settlement("S2"))
    assert await state(app) == ([], ["S1", "S2"])
    # Only pharmacy settlements are observed, so only their reversals are kept.
    await handle(app, reversal("S9", "H001", med_type="11"))
    assert await state(app) == ([], ["S1", "S2"])


@pytest.mark.parametrize("first", ["settlement", "reversal"])
async def test_a_settlement_and_its_reversal_applied_at_once_take_turns(app: FastAPI, first: str) -> None:
    # Two consumer processes, one applying the settlement while the other applies its reversal: the
    # second waits for the first to commit, then sees what it did (the observations, or the tombstone).
    async with app_client(app) as api:
        await put_drug(api, DRUG)
    events = {"settlement": settlement("S1"), "reversal": reversal("S1")}
    second = "reversal" if first == "settlement" else "settlement"
    async with app.state.db.transaction() as session:
        await on_settlement_event(session, events[first], clock=app.state.clock)
        waiting = asyncio.create_task(handle(app, events[second]))
        await asyncio.sleep(0.3)
        assert not waiting.done()
    await waiting
    assert await state(app) == ([], ["S1"])


@pytest.fixture
async def live(pricing_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(pricing_app) as client:
        await wait_for(lambda: pricing_app.state.nats.connected, what="pricing connected to NATS")
        yield client


async def test_a_reversal_published_before_its_settlement_leaves_no_observation_on_jetstream(
    live: httpx.AsyncClient, pricing_app: FastAPI, nats_url: str
) -> None:
    await put_drug(live, DRUG)
    setup = [event(Subject.INSTITUTION_CHANGED, code, institution(code)) for code in ("P001", "P002")]
    await publish(
        nats_url,
        [*setup, reversal("S1"), settlement("S1"), settlement("S2", "P002", "12.00"), reversal("S1")],
    )

    async def consumed() -> bool:
        async with pricing_app.state.db.transaction(readonly=True) as session:
            return await session.scalar(sa.select(sa.func.count()).select_from(inbox_event)) == 6

    await wait_for(consumed, what="every event consumed")
    assert await state(pricing_app) == (["S2:1"], ["S1"])
    rows = (await live.get("/reference-prices", params={"med_list_codg": DRUG})).json()
    assert [(r["reference_pric"], r["pharmacies"]) for r in rows] == [("12.00", 1)]
