"""NATS killed -9 in the middle of steady settlement traffic and started again on its port and store:
every settlement made meanwhile reaches fraud and pricing exactly once, and the outbox empties."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable

import pytest

from common.db import Database
from common.testing.apps import wait_for
from common.testing.processes import kill_nats
from pricing.events import observed
from tests.faults.platform import (
    FRAUD_CONSUMER,
    PRICING_CONSUMER,
    Platform,
    SettlementLoad,
    expected_observations,
    fraud_claims,
    inbox_settled,
    pricing_observations,
    seed_world,
    settled_event_ids,
    settlements,
    stream_settled_messages,
    unpublished,
)

pytestmark = pytest.mark.faults

OUTAGE_S = 4.0


async def test_settlements_made_while_nats_is_down_reach_fraud_and_pricing_exactly_once(
    platform: Platform,
) -> None:
    platform.add("settlement")
    platform.add("fraud")
    platform.add("pricing")
    await platform.start("settlement", "fraud", "pricing")
    await seed_world(platform)
    settlement_db, fraud_db, pricing_db = (platform.db(s) for s in ("settlement", "fraud", "pricing"))

    load = SettlementLoad(platform.client("settlement"), workers=4)
    load.start()
    await wait_for(lambda: load.count("before") >= 50, timeout=60, what="traffic before the outage")

    load.phase = "outage"  # answers from here on count as the outage's (those in flight at the kill too)
    kill_nats(platform.nats)
    began = time.monotonic()
    await asyncio.sleep(OUTAGE_S)  # the length of the outage, not an assertion
    await wait_for(lambda: load.count("outage") >= 30, timeout=60, what="traffic during the outage")
    outage_s = time.monotonic() - began
    # What was settled meanwhile waits in the outbox: NATS is gone.
    assert await unpublished(settlement_db) > 0

    await asyncio.to_thread(platform.nats.start)
    load.phase = "after"
    await wait_for(lambda: load.count("after") >= 50, timeout=60, what="traffic after the outage")
    await load.stop()

    assert load.failures == []
    answers = load.statuses()
    assert {status for (_, status, _) in answers} <= {201}, (
        answers,
        platform.services["settlement"].log_tail(),
    )
    committed = await settlements(settlement_db)
    assert len(committed) == len(load.answers)

    await wait_for(lambda: _zero(unpublished(settlement_db)), timeout=60, what="the outbox to empty")
    events = sorted(await settled_event_ids(settlement_db))
    assert len(events) == len(committed)

    # Pricing acts on the pharmacy settlements only (its filter acks the others unread, with no inbox row).
    pharmacy_events = sorted(await settled_event_ids(settlement_db, wants=observed))
    await wait_for(lambda: applied(fraud_db, FRAUD_CONSUMER, len(events)), timeout=90, what="fraud")
    await wait_for(
        lambda: applied(pricing_db, PRICING_CONSUMER, len(pharmacy_events)), timeout=90, what="pricing"
    )
    assert sorted(await inbox_settled(fraud_db, FRAUD_CONSUMER)) == events
    assert sorted(await inbox_settled(pricing_db, PRICING_CONSUMER)) == pharmacy_events
    assert sorted(await fraud_claims(fraud_db)) == sorted(setl_id for setl_id, _ in committed)
    assert sorted(await pricing_observations(pricing_db)) == expected_observations(committed)
    in_stream = await stream_settled_messages(platform.nats.url)
    assert in_stream >= len(events)

    pharmacy = sum(1 for _, med_type in committed if med_type == "41")
    assert len(pharmacy_events) == pharmacy
    print(
        f"\n[faults] NATS killed -9 for {outage_s:.1f}s during {len(committed)} settlements "
        f"({load.count('before')} before, {load.count('outage')} during: "
        f"{load.count('outage', 201)} answered 201, {load.count('after')} after; {pharmacy} at pharmacies): "
        f"{len(events)} in fraud's inbox and projection, {pharmacy} (the pharmacy ones) in pricing's inbox, "
        f"{2 * pharmacy} pricing observations, 0 unpublished, {in_stream} settled messages in the stream, "
        f"0 answers 5xx"
    )


async def _zero(value: Awaitable[int]) -> bool:
    return await value == 0


async def applied(db: Database, consumer: str, expected: int) -> bool:
    return len(await inbox_settled(db, consumer)) >= expected
