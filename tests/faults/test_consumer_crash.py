"""Fraud and pricing killed -9 while they drain a backlog of settlements, then started again: each event is
applied once (the inbox turns away what was applied but not acknowledged), none is skipped."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable

import pytest

from common.db import Database
from common.testing.apps import wait_for
from common.testing.processes import ServiceProcess
from pricing.events import observed
from tests.faults.platform import (
    FRAUD_CONSUMER,
    PRICING_CONSUMER,
    Platform,
    claim,
    consumer_redeliveries,
    duplicates_dropped,
    expected_observations,
    fraud_claims,
    inbox_settled,
    pricing_observations,
    seed_world,
    settled_event_ids,
    settlements,
    unpublished,
)

pytestmark = pytest.mark.faults

BACKLOG = 180
ACK_WAIT_S = 3  # how soon JetStream hands what the dead process held to the restarted one


async def test_consumers_killed_mid_backlog_apply_every_event_once_after_restart(platform: Platform) -> None:
    platform.add("settlement")
    fraud = platform.add("fraud", consumer_ack_wait_s=ACK_WAIT_S)
    pricing = platform.add("pricing", consumer_ack_wait_s=ACK_WAIT_S)
    await platform.start("settlement", "pricing")  # pricing first: its drugs must be known before the backlog
    await seed_world(platform)
    pricing.kill()  # both consumers down while the backlog builds
    settlement_db, fraud_db, pricing_db = (platform.db(s) for s in ("settlement", "fraud", "pricing"))

    api = platform.client("settlement")
    numbers = iter(range(1, BACKLOG + 1))

    async def post_claims() -> None:
        for n in numbers:
            response = await api.post("/settlements", json=claim(n))
            assert response.status_code == 201, response.text

    await asyncio.gather(*(post_claims() for _ in range(4)))
    await wait_for(lambda: _zero(unpublished(settlement_db)), timeout=60, what="the backlog in JetStream")
    committed = await settlements(settlement_db)
    events = sorted(await settled_event_ids(settlement_db))
    assert len(committed) == len(events) == BACKLOG

    killed_at = {}
    for process, db, consumer in ((fraud, fraud_db, FRAUD_CONSUMER), (pricing, pricing_db, PRICING_CONSUMER)):
        killed_at[consumer] = await _kill_mid_backlog(process, db, consumer, len(events))
    fraud.start()
    pricing.start()
    await asyncio.gather(fraud.wait_ready(), pricing.wait_ready())

    # Pricing acts on the pharmacy settlements only (its filter acks the others unread, with no inbox row).
    pharmacy_events = sorted(await settled_event_ids(settlement_db, wants=observed))
    assert len(pharmacy_events) == sum(1 for _, med_type in committed if med_type == "41")
    for db, consumer, wanted in (
        (fraud_db, FRAUD_CONSUMER, len(events)),
        (pricing_db, PRICING_CONSUMER, len(pharmacy_events)),
    ):
        await wait_for(lambda db=db, c=consumer, n=wanted: _applied(db, c, n), timeout=90, what=consumer)
    assert sorted(await inbox_settled(fraud_db, FRAUD_CONSUMER)) == events
    assert sorted(await inbox_settled(pricing_db, PRICING_CONSUMER)) == pharmacy_events
    assert sorted(await fraud_claims(fraud_db)) == sorted(setl_id for setl_id, _ in committed)
    assert sorted(await pricing_observations(pricing_db)) == expected_observations(committed)

    url = platform.nats.url
    redelivered = {c: await consumer_redeliveries(url, c) for c in (FRAUD_CONSUMER, PRICING_CONSUMER)}
    # Each died holding part of a fetched batch, which JetStream handed to the restarted process.
    assert all(n > 0 for n in redelivered.values()), redelivered
    dropped = {
        FRAUD_CONSUMER: await duplicates_dropped(fraud.url, FRAUD_CONSUMER),
        PRICING_CONSUMER: await duplicates_dropped(pricing.url, PRICING_CONSUMER),
    }
    pharmacy = sum(1 for _, med_type in committed if med_type == "41")
    print(
        f"\n[faults] backlog of {BACKLOG} settlements; fraud killed -9 after applying "
        f"{killed_at[FRAUD_CONSUMER]}, pricing after {killed_at[PRICING_CONSUMER]}; after restart: "
        f"{BACKLOG} in fraud's inbox, {pharmacy} (the pharmacy ones) in pricing's, {BACKLOG} fraud claim rows, "
        f"{2 * pharmacy} pricing observations "
        f"(no duplicate, none missing); redelivered by JetStream: {redelivered}; "
        f"turned away by the inbox as already applied: {dropped}"
    )


async def _kill_mid_backlog(process: ServiceProcess, db: Database, consumer: str, total: int) -> int:
    """Start the consumer and kill -9 it as soon as it has applied part of the backlog; how many it had."""
    process.start()
    await wait_for(lambda: _count(db, consumer), timeout=90, interval=0.01, what=f"{consumer} at work")
    # A fetched batch is applied in one transaction and acked after its commit: killed the moment the
    # first batch shows, the process may have just acked it. A moment later it holds the next batch,
    # fetched and not yet committed, which is what JetStream must hand to the restarted process.
    await asyncio.sleep(0.05)
    process.kill()
    done = len(await inbox_settled(db, consumer))
    assert 0 < done < total, f"{consumer} drained {done} of {total} before it could be killed"
    return done


async def _count(db: Database, consumer: str) -> int:
    return len(await inbox_settled(db, consumer))


async def _applied(db: Database, consumer: str, expected: int) -> bool:
    return len(await inbox_settled(db, consumer)) >= expected


async def _zero(value: Awaitable[int]) -> bool:
    return await value == 0
