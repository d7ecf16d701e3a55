"""Two processes of each domain service on one PostgreSQL database, behind one gateway process that spreads
the requests over them (`make run-pg ARGS="--replicas 2"`): settlements and reversals through the gateway,
each reversal sent twice at once, the day close scheduler running in both settlement processes, a day close
asked through the gateway of both at once, and a close of the day in the middle of the traffic.

What must hold: the ledger check clean and every year and account exact; both relays, and both processes
of every consumer group, did part of the work, yet each settlement.settled event is applied exactly once
per consumer group (the inbox rows of each consumer are the settled events, none twice); each day closed
once, and each day's statements equal to its settlements and reversals.

Two relays and two processes of a consumer group do not keep the stream's order, so a reversal can be
applied before its settlement: fraud and enrollment refuse it until the settlement is in (the consumer
delivers it again after the backoff), pricing keeps it as a tombstone and never observes the settlement.
The last check holds them to it: every reversed claim marked in fraud, no observation of a reversed
pharmacy settlement kept in pricing.

The close of the day with the traffic runs in the test's own process, as in test_settlement_concurrency.py:
the API closes only a day that is over (DAY_NOT_OVER), and the processes run on the real clock.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from common.clock import SHANGHAI, FrozenClock, SystemClock, business_date
from common.events.consumer import Wants
from common.events.contracts import Subject
from common.events.envelope import EventEnvelope
from common.events.tables import inbox_event, outbox_event
from common.testing.apps import wait_for
from enrollment.events import is_resident
from fraud.models import ClaimRecord
from pricing.events import observed
from settlement.models import DailyStatement, DayClose, Settlement, SettlementReversal
from settlement.service.day_close import SCHEDULED_AT, close_day
from settlement.uow import SettlementUnitOfWork
from tests.faults.platform import (
    FRAUD_CONSUMER,
    PRICING_CONSUMER,
    Platform,
    assert_books_consistent,
    claim,
    column,
    expected_observations,
    fraud_claims,
    inbox_settled,
    pricing_observations,
    seed_world,
    settle_reverse_and_close,
    settled_event_ids,
    settlements,
    unpublished,
)

pytestmark = pytest.mark.faults

DOMAIN = ("settlement", "fraud", "pricing", "enrollment")
REPLICAS = 2
ENROLLMENT_CONSUMER = "enrollment-settlements"
CONSUMERS = {"fraud": FRAUD_CONSUMER, "pricing": PRICING_CONSUMER, "enrollment": ENROLLMENT_CONSUMER}
# Each consumer's own filter: the events it acts on (the others it acks unread, with no inbox row). Fraud
# wants every settlement, pricing the pharmacy ones, enrollment the residents' (here none: all are 310).
WANTS: dict[str, Wants | None] = {"fraud": None, "pricing": observed, "enrollment": is_resident}
CLAIMS = 120
SETTLERS, REVERSERS = 4, 2


def replica_names(service: str) -> list[str]:
    return [service if k == 1 else f"{service}-{k}" for k in range(1, REPLICAS + 1)]


def scheduled_day(now: datetime) -> date:
    """The last day the day close scheduler closes at `now`: yesterday once it is past 00:30 in Shanghai."""
    local = now.astimezone(SHANGHAI)
    return local.date() - timedelta(days=1 if local.time() >= SCHEDULED_AT else 2)


async def test_two_processes_of_each_service_behind_one_gateway_keep_the_books_and_apply_each_event_once(
    platform: Platform,
) -> None:
    if platform.backend != "postgres":
        pytest.skip(
            "two processes of a service on one database need PostgreSQL (set TEST_POSTGRES_URL); "
            "SQLite is one writer per file"
        )
    for service in DOMAIN:
        for name in replica_names(service):
            if service == "settlement":
                # Both schedulers look every half second: they race for every close.
                platform.add(service, name=name, day_close_schedule=True, day_close_check_interval_s=0.5)
            else:
                platform.add(service, name=name)
    platform.add(
        "gateway",
        rate_limit_per_s=1_000_000,
        rate_limit_burst=1_000_000,
        **{
            f"{service}_url": ",".join(platform.services[name].url for name in replica_names(service))
            for service in DOMAIN
        },
    )
    await platform.start(*platform.services)
    await seed_world(platform)
    db = platform.db("settlement")
    key = (platform.root / "bootstrap-ops-key").read_text().strip()
    gateway = httpx.AsyncClient(
        base_url=f"{platform.services['gateway'].url}/settlement",
        headers={"Authorization": f"Bearer {key}"},
        timeout=30,
        limits=httpx.Limits(max_connections=16, max_keepalive_connections=16),
    )
    try:
        await _run(platform, gateway, db)
    finally:
        await gateway.aclose()


async def _run(platform: Platform, gateway: httpx.AsyncClient, db: Any) -> None:
    # The two schedulers close the due day once between them; asked through the gateway of both replicas
    # at once, it is answered as closed (200) by each, with the same statements.
    due = scheduled_day(datetime.now(UTC))
    await wait_for(lambda: _closes(db), timeout=30, what="the scheduled day close")
    async with db.transaction(readonly=True) as session:
        closes = (await session.execute(sa.select(DayClose.business_date, DayClose.closed_by))).all()
    assert [tuple(row) for row in closes] == [(due, "scheduler")]
    asked = await asyncio.gather(
        *(gateway.post("/day-closes", json={"date": due.isoformat()}) for _ in range(REPLICAS))
    )
    assert [r.status_code for r in asked] == [200] * REPLICAS, [r.text for r in asked]
    assert all(r.json() == asked[0].json() for r in asked)

    day = business_date(datetime.now(UTC))
    closed_days = {due}
    while max(closed_days) + timedelta(days=1) < day:  # before 00:30 the scheduler leaves yesterday open
        async with SettlementUnitOfWork(db) as uow:
            gap = max(closed_days) + timedelta(days=1)
            await close_day(uow=uow, day=gap, closed_by="faults", clock=SystemClock())
        closed_days.add(gap)
    traffic = await settle_reverse_and_close(
        gateway,
        db,
        claims=CLAIMS,
        body_of=claim,
        reversed_if=lambda n: n % 4 == 1,
        settlers=SETTLERS,
        reversers=REVERSERS,
        day=day,
        half_timeout_s=60,
    )
    reversed_ids, reversal_pairs, closed_first = (
        traffic.reversed_ids,
        traffic.reversal_pairs,
        traffic.closed_first,
    )
    assert 0 < closed_first < CLAIMS

    # Each reversal sent twice at once, to either replica: one reverses, the other is told it happened.
    assert set(reversal_pairs) == {((201, None), (409, "ALREADY_REVERSED"))}
    assert len(reversal_pairs) == len(reversed_ids)
    check = await gateway.get("/ledger/check")
    assert (check.status_code, check.json()["balanced"]) == (200, True), check.text
    books = await assert_books_consistent(platform)
    assert books == {"settled": CLAIMS - len(reversed_ids), "reversed": len(reversed_ids)}

    # Every settled event published once by one of the two relays, applied once per consumer group.
    committed = await settlements(db)
    assert len(committed) == CLAIMS
    await wait_for(lambda: _zero(unpublished(db)), timeout=30, what="the outbox to empty")
    events = sorted(await settled_event_ids(db))
    assert len(events) == CLAIMS
    wanted = await _wanted(db)
    assert [len(wanted[service][Subject.SETTLED]) for service in CONSUMERS] == [CLAIMS, CLAIMS // 3, 0]
    for service, consumer in CONSUMERS.items():
        service_db = platform.db(service)
        expected = wanted[service][Subject.SETTLED]
        applies, ignores = len(expected), CLAIMS - len(expected)
        await wait_for(
            lambda db=service_db, consumer=consumer, n=applies: _count(inbox_settled(db, consumer), n),
            timeout=45,
            what=consumer,
        )
        await wait_for(
            lambda service=service, n=ignores: _ignored(platform, service, Subject.SETTLED, n),
            timeout=45,
            what=f"{consumer}: the events it does not act on acked",
        )
        inbox = await inbox_settled(service_db, consumer)
        assert sorted(inbox) == expected, consumer
    await wait_for(
        lambda: _count(
            inbox_of(platform, Subject.REVERSED),
            sum(len(wanted[service][Subject.REVERSED]) for service in CONSUMERS),
        ),
        timeout=30,
        what="the reversals",
    )
    assert sorted(await fraud_claims(platform.db("fraud"))) == sorted(setl_id for setl_id, _ in committed)

    # The work was shared: each settlement process settled and relayed, each consumer process applied.
    published = [
        await _metric(platform, name, "events_published_total", 'type="settlement.settled"')
        for name in replica_names("settlement")
    ]
    settled = [
        await _metric(
            platform, name, "http_request_duration_seconds_count", 'route="/settlements"', 'status="201"'
        )
        for name in replica_names("settlement")
    ]
    assert sum(published) == CLAIMS and all(published), published
    assert sum(settled) == CLAIMS and all(settled), settled
    for service, consumer in CONSUMERS.items():
        applied = [
            await _metric(
                platform,
                name,
                "events_consumed_total",
                f'consumer="{consumer}"',
                f'type="{Subject.SETTLED}"',
                'outcome="applied"',
            )
            for name in replica_names(service)
        ]
        expected = len(wanted[service][Subject.SETTLED])
        assert sum(applied) == expected, (consumer, applied)
        if expected == CLAIMS:
            assert all(applied), (consumer, applied)

    # The rest goes into the next day's close: every settlement and reversal in exactly one statement.
    later = FrozenClock(datetime.combine(day + timedelta(days=2), time(1), tzinfo=SHANGHAI))
    async with SettlementUnitOfWork(db) as uow:
        closed_next = (
            await close_day(uow=uow, day=day + timedelta(days=1), closed_by="faults", clock=later)
        ).day_close
    assert closed_first + closed_next.settlement_count == CLAIMS
    await _assert_statements_are_the_settlements(
        db, closed_days | {day, day + timedelta(days=1)}, len(reversed_ids)
    )
    print(
        f"\n[faults] postgres, {REPLICAS} processes of each service behind one gateway: {CLAIMS} settlements, "
        f"{len(reversed_ids)} reversals each sent twice at once; relayed {published}, settled {settled} per "
        f"settlement process; {closed_first} in the close of {day}, {closed_next.settlement_count} in the next; "
        f"each settled event applied once per consumer group; ledger balanced, statements = settlements"
    )
    await _assert_each_reversal_came_after_its_settlement(platform, committed, reversed_ids)


async def _assert_each_reversal_came_after_its_settlement(
    platform: Platform, committed: list[tuple[str, str]], reversed_ids: set[str]
) -> None:
    """Fraud marks every reversed claim reversed, and pricing keeps no observation of a reversed pharmacy
    settlement: each reversal took effect after its settlement, whichever processes took the two events.

    Two relays publishing side by side and two processes sharing a durable consumer do not keep stream
    order: fraud refuses a reversal of a settlement not projected yet (delivered again after the backoff),
    pricing keeps it as a tombstone so the settlement arriving later is never observed.
    """
    marked = set(
        await column(platform.db("fraud"), sa.select(ClaimRecord.setl_id).where(ClaimRecord.reversed))
    )
    standing = [(setl_id, med_type) for setl_id, med_type in committed if setl_id not in reversed_ids]
    observed = set(await pricing_observations(platform.db("pricing")))
    stale = sorted(observed - set(expected_observations(standing)))
    missing = sorted(set(expected_observations(standing)) - observed)
    assert missing == []
    assert marked == reversed_ids, f"fraud missed {sorted(reversed_ids - marked)}"
    assert stale == [], f"pricing kept observations of reversed settlements: {stale}"


async def _assert_statements_are_the_settlements(db: Any, days: set[date], reversals: int) -> None:
    async with db.transaction(readonly=True) as session:
        closes = {
            c.business_date: (c.settlement_count, c.reversal_count)
            for c in (await session.scalars(sa.select(DayClose))).all()
        }
        statements = {
            (s.business_date, s.fixmedins_code): (s.setl_cnt, s.reversal_cnt)
            for s in (await session.scalars(sa.select(DailyStatement))).all()
        }
        settled_in = Counter(
            (await session.execute(sa.select(Settlement.day_close_date, Settlement.fixmedins_code))).all()
        )
        reversed_in = Counter(
            (
                await session.execute(
                    sa.select(SettlementReversal.day_close_date, SettlementReversal.fixmedins_code)
                )
            ).all()
        )
    assert set(closes) == days
    assert sum(n for n, _ in closes.values()) == CLAIMS
    assert sum(r for _, r in closes.values()) == reversals
    assert {key: n for key, (n, _) in statements.items() if n} == dict(settled_in)
    assert {key: r for key, (_, r) in statements.items() if r} == dict(reversed_in)


async def inbox_of(platform: Platform, event_type: str) -> list[str]:
    """The ids of the events of a type that the consumer groups recorded, all of them together."""
    ids: list[str] = []
    for service, consumer in CONSUMERS.items():
        ids += await column(
            platform.db(service),
            sa.select(inbox_event.c.event_id).where(
                inbox_event.c.consumer == consumer, inbox_event.c.type == event_type
            ),
        )
    return ids


async def _closes(db: Any) -> int:
    async with db.transaction(readonly=True) as session:
        return int(await session.scalar(sa.select(sa.func.count()).select_from(DayClose)) or 0)


async def _zero(count: Any) -> bool:
    return bool(await count == 0)


async def _count(rows: Any, expected: int) -> bool:
    return len(await rows) >= expected


async def _wanted(db: Any) -> dict[str, dict[str, list[str]]]:
    """Per consumer and event type, the ids of the settled and reversed events its filter wants, sorted."""
    rows = await column(
        db,
        sa.select(outbox_event.c.payload).where(outbox_event.c.type.in_((Subject.SETTLED, Subject.REVERSED))),
    )
    events = [EventEnvelope.from_bytes(bytes(payload)) for payload in rows]
    return {
        service: {
            kind: sorted(str(e.id) for e in events if e.type == kind and (wants is None or wants(e)))
            for kind in (Subject.SETTLED, Subject.REVERSED)
        }
        for service, wants in WANTS.items()
    }


async def _ignored(platform: Platform, service: str, event_type: str, count: int) -> bool:
    """Whether the service's processes together acked `count` events of the type unread (outcome ignored)."""
    seen = [
        await _metric(platform, name, "events_consumed_total", f'type="{event_type}"', 'outcome="ignored"')
        for name in replica_names(service)
    ]
    return sum(seen) == count


async def _metric(platform: Platform, name: str, metric: str, *labels: str) -> int:
    """The sum of a process's counter over the series carrying every one of `labels`."""
    async with httpx.AsyncClient(timeout=5) as client:
        text = (await client.get(f"{platform.services[name].url}/metrics")).text
    total = 0.0
    for line in text.splitlines():
        if line.startswith(f"{metric}{{") and all(label in line for label in labels):
            total += float(line.rsplit(" ", 1)[1])
    return int(total)
