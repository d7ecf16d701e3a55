"""The event backbone against a real nats-server: nothing lost, nothing applied twice, failures dead-lettered."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable

import nats
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from common.clock import FrozenClock
from common.db import Database
from common.embedded_nats import EmbeddedNats
from common.events.consumer import ConsumerRunner, Subscription
from common.events.contracts import STREAMS, Subject
from common.events.envelope import EventEnvelope, new_event
from common.events.nats import NatsClient
from common.events.outbox import OutboxRelay, add_event
from common.events.tables import inbox_event, outbox_event
from common.testing.apps import app_client, wait_for
from common.testing.databases import Databases
from tests.common.conftest import scratch_app

REGISTERED = Subject.PERSON_REGISTERED
EFFECT = "enrollment.person.counted"  # what the test handler writes: one outbox row per application


def person_event(clock: FrozenClock, psn_no: str = "P0001") -> EventEnvelope:
    return new_event(
        type=REGISTERED,
        source="enrollment",
        subject=psn_no,
        data={"psn_no": psn_no, "admdvs": "420100"},
        clock=clock,
    )


@contextlib.asynccontextmanager
async def backbone(url: str, nats_url: str) -> AsyncIterator[tuple[Database, NatsClient]]:
    db = Database.from_url(url)
    client = NatsClient(nats_url, name="test")
    client.start()
    try:
        yield db, client
    finally:
        await client.close()
        await db.dispose()


@contextlib.asynccontextmanager
async def running_task(work: Awaitable[None]) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.ensure_future(work)
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def counting_handler(
    fail_times: int = 0,
) -> tuple[Callable[[AsyncSession, EventEnvelope], Awaitable[None]], Counter[str]]:
    """A handler whose effect is an outbox row; it writes the effect, then fails its first `fail_times` calls."""
    calls: Counter[str] = Counter()

    async def handle(session: AsyncSession, event: EventEnvelope) -> None:
        calls[str(event.id)] += 1
        await add_event(
            session,
            new_event(
                type=EFFECT,
                source="test",
                subject=event.subject,
                data={"of": str(event.id)},
                clock=FrozenClock(event.time),
            ),
        )
        if calls[str(event.id)] <= fail_times:
            raise RuntimeError("the handler's dependency is down")

    return handle, calls


async def effects(db: Database) -> int:
    async with db.transaction(readonly=True) as session:
        return int(
            await session.scalar(
                sa.select(sa.func.count()).select_from(outbox_event).where(outbox_event.c.type == EFFECT)
            )
            or 0
        )


async def inbox_rows(db: Database) -> int:
    async with db.transaction(readonly=True) as session:
        return int(await session.scalar(sa.select(sa.func.count()).select_from(inbox_event)) or 0)


async def stream_messages(nats_url: str, stream: str) -> list[tuple[str, dict[str, str], bytes]]:
    client = await nats.connect(nats_url)
    try:
        js = client.jetstream()
        info = await js.stream_info(stream)
        found = []
        for seq in range(max(info.state.first_seq, 1), info.state.last_seq + 1):
            with contextlib.suppress(nats.js.errors.NotFoundError):
                raw = await js.get_msg(stream, seq)
                found.append((raw.subject or "", dict(raw.headers or {}), raw.data or b""))
        return found
    finally:
        await client.close()


def runner(
    db: Database,
    client: NatsClient,
    clock: FrozenClock,
    handler: Callable[..., Awaitable[None]],
    *,
    max_deliver: int = 5,
    durable: str = "test-persons",
    service: str = "scratch",
    wants: Callable[[EventEnvelope], bool] | None = None,
    batch_handler: Callable[..., Awaitable[None]] | None = None,
) -> ConsumerRunner:
    subscription = Subscription(
        durable=durable,
        stream="ENROLLMENT",
        subjects=(REGISTERED,),
        handler=handler,
        backoff_s=(0.05, 0.05, 0.05, 0.05),
        wants=wants,
        batch_handler=batch_handler,
    )
    return ConsumerRunner(
        service=service,
        db=db,
        nats=client,
        subscription=subscription,
        clock=clock,
        max_deliver=max_deliver,
        batch_size=10,
    )


async def test_an_event_is_stored_only_if_its_business_transaction_commits(
    databases: Databases, clock: FrozenClock
) -> None:
    db = Database.from_url(databases.url("scratch"))
    try:
        with pytest.raises(RuntimeError):
            async with db.transaction() as session:
                await add_event(session, person_event(clock))
                raise RuntimeError("the business rule refused")
        async with db.transaction() as session:
            await add_event(session, person_event(clock, "P0002"))
        async with db.transaction(readonly=True) as session:
            subjects = (await session.scalars(sa.select(outbox_event.c.subject))).all()
        assert subjects == ["P0002"]
        assert db.outbox_signal.is_set()  # the commit woke the relay
    finally:
        await db.dispose()


async def test_the_relay_publishes_in_order_with_the_event_id_as_msg_id(
    databases: Databases, nats_url: str, clock: FrozenClock
) -> None:
    async with backbone(databases.url("scratch"), nats_url) as (db, client):
        events = [person_event(clock, f"P{i:04d}") for i in range(3)]
        async with db.transaction() as session:
            for event in events:
                await add_event(session, event)
        await client.wait_connected()
        relay = OutboxRelay(service="test", db=db, nats=client, clock=clock)
        assert await relay.relay_once() == 3
        assert await relay.relay_once() == 0
        messages = await stream_messages(nats_url, "ENROLLMENT")
        assert [headers["Nats-Msg-Id"] for _, headers, _ in messages] == [str(event.id) for event in events]
        assert [EventEnvelope.from_bytes(data) for _, _, data in messages] == events
        assert {subject for subject, _, _ in messages} == {REGISTERED}
        async with db.transaction(readonly=True) as session:
            published = (await session.scalars(sa.select(outbox_event.c.published_at))).all()
        assert published == [clock.now()] * 3


async def test_an_event_written_while_nats_is_down_is_delivered_once_nats_is_back(
    databases: Databases, private_nats: EmbeddedNats, clock: FrozenClock
) -> None:
    handler, calls = counting_handler()
    async with backbone(databases.url("scratch"), private_nats.url) as (db, client):
        await client.wait_connected()
        relay = OutboxRelay(
            service="test", db=db, nats=client, clock=clock, poll_interval_s=0.05, publish_timeout_s=0.5
        )
        consumer = runner(db, client, clock, handler)
        async with running_task(relay.run()), running_task(consumer.run()):
            private_nats.stop()
            await wait_for(lambda: not client.connected, what="the client to notice NATS is gone")
            event = person_event(clock)
            async with db.transaction() as session:
                await add_event(session, event)
            await asyncio.sleep(0.5)
            async with db.transaction(readonly=True) as session:
                pending = await session.scalar(
                    sa.select(outbox_event.c.published_at).where(outbox_event.c.event_id == str(event.id))
                )
            assert pending is None  # nowhere to go: it waits in the outbox
            private_nats.start()
            await wait_for(lambda: calls[str(event.id)] == 1, timeout=20, what="delivery after NATS is back")
            await asyncio.sleep(0.3)
        assert calls == Counter({str(event.id): 1})
        assert await effects(db) == 1
    stored = await stream_messages(private_nats.url, "ENROLLMENT")
    assert [EventEnvelope.from_bytes(data).id for subject, _, data in stored if subject == REGISTERED] == [
        event.id
    ]
    # The handler's own effect event went out through the same outbox once NATS was back.
    assert [subject for subject, _, _ in stored] == [REGISTERED, EFFECT]


async def test_an_event_delivered_twice_is_applied_once(
    databases: Databases, nats_url: str, clock: FrozenClock
) -> None:
    handler, calls = counting_handler()
    event = person_event(clock)
    publisher = await nats.connect(nats_url)
    async with backbone(databases.url("scratch"), nats_url) as (db, client):
        await client.wait_connected()
        js = publisher.jetstream()
        # Two different message ids, so JetStream keeps both copies: only the inbox stands between them.
        await js.publish(REGISTERED, event.to_bytes(), headers={"Nats-Msg-Id": "copy-1"})
        await js.publish(REGISTERED, event.to_bytes(), headers={"Nats-Msg-Id": "copy-2"})
        consumer = runner(db, client, clock, handler)
        async with running_task(consumer.run()):
            await wait_for(lambda: _acked(nats_url, "test-persons", 2), what="both copies acked")
        assert calls == Counter({str(event.id): 1})
        assert await effects(db) == 1
        assert await inbox_rows(db) == 1
    await publisher.close()


async def _acked(nats_url: str, durable: str, count: int) -> bool:
    client = await nats.connect(nats_url)
    try:
        try:
            info = await client.jetstream().consumer_info("ENROLLMENT", durable)
        except nats.js.errors.NotFoundError:
            return False  # not bound yet
        return bool(info.ack_floor.stream_seq >= count and info.num_ack_pending == 0)
    finally:
        await client.close()


async def test_jetstream_drops_a_second_publish_with_the_same_msg_id(
    nats_url: str, clock: FrozenClock
) -> None:
    client = NatsClient(nats_url, name="test")
    client.start()
    await client.wait_connected()
    event = person_event(clock)
    js = client.jetstream()
    first = await js.publish(REGISTERED, event.to_bytes(), headers={"Nats-Msg-Id": str(event.id)})
    second = await js.publish(REGISTERED, event.to_bytes(), headers={"Nats-Msg-Id": str(event.id)})
    await client.close()
    assert (first.duplicate, second.duplicate) == (None, True)
    assert len(await stream_messages(nats_url, "ENROLLMENT")) == 1


async def test_a_failing_handler_is_retried_and_its_partial_effect_rolled_back(
    databases: Databases, nats_url: str, clock: FrozenClock
) -> None:
    handler, calls = counting_handler(fail_times=2)
    async with backbone(databases.url("scratch"), nats_url) as (db, client):
        await client.wait_connected()
        event = person_event(clock)
        await client.jetstream().publish(REGISTERED, event.to_bytes(), headers={"Nats-Msg-Id": str(event.id)})
        async with running_task(runner(db, client, clock, handler, max_deliver=5).run()):
            await wait_for(lambda: calls[str(event.id)] == 3, what="the third delivery")
            await wait_for(lambda: _acked(nats_url, "test-persons", 1), what="the ack")
        assert await effects(db) == 1  # the two failed attempts left nothing behind
        assert await inbox_rows(db) == 1
        assert await stream_messages(nats_url, "DEADLETTER") == []


async def test_a_batch_is_applied_in_one_transaction_and_a_failing_event_is_retried_alone(
    databases: Databases, nats_url: str, clock: FrozenClock
) -> None:
    # Four messages in one fetch: B (whose handler fails on its first call), A, C, and A again under another
    # message id. B fails alone and is applied after its backoff; A and C are applied once, in the batch's
    # one transaction, and the second copy of A is recognised by the inbox within the same batch.
    events = {name: person_event(clock, f"P000{n}") for n, name in enumerate("ABC", start=1)}
    calls: Counter[str] = Counter()
    counting, _ = counting_handler()

    async def handler(session: AsyncSession, event: EventEnvelope) -> None:
        calls[str(event.id)] += 1
        if event.id == events["B"].id and calls[str(event.id)] == 1:
            raise RuntimeError("B's dependency is down once")
        await counting(session, event)

    publisher = await nats.connect(nats_url)
    async with backbone(databases.url("scratch"), nats_url) as (db, client):
        await client.wait_connected()
        js = publisher.jetstream()
        for copy, name in enumerate(("B", "A", "C", "A")):
            await js.publish(REGISTERED, events[name].to_bytes(), headers={"Nats-Msg-Id": f"copy-{copy}"})
        async with running_task(runner(db, client, clock, handler).run()):
            await wait_for(lambda: _acked(nats_url, "test-persons", 4), what="all four acked")
        assert calls == Counter({str(events["A"].id): 1, str(events["B"].id): 2, str(events["C"].id): 1})
        assert await effects(db) == 3
        assert await inbox_rows(db) == 3
        assert await stream_messages(nats_url, "DEADLETTER") == []
    await publisher.close()


async def test_events_the_subscription_does_not_want_are_acked_with_no_transaction_or_inbox_row(
    databases: Databases, nats_url: str, clock: FrozenClock
) -> None:
    # Five messages in one fetch: P0001 and P0003 wanted, the others not (one of them twice). The wanted ones
    # are applied once each with their inbox rows; the unwanted are acked and leave nothing behind.
    handler, calls = counting_handler()
    wanted = {"P0001", "P0003"}
    names = ("P0001", "P0002", "P0003", "P0004", "P0002")
    events = {name: person_event(clock, name) for name in set(names)}
    publisher = await nats.connect(nats_url)
    async with backbone(databases.url("scratch"), nats_url) as (db, client):
        await client.wait_connected()
        js = publisher.jetstream()
        for copy, name in enumerate(names):
            await js.publish(REGISTERED, events[name].to_bytes(), headers={"Nats-Msg-Id": f"copy-{copy}"})
        consumer = runner(db, client, clock, handler, wants=lambda event: event.subject in wanted)
        async with running_task(consumer.run()):
            await wait_for(lambda: _acked(nats_url, "test-persons", 5), what="all five acked")
        assert calls == Counter({str(events[name].id): 1 for name in wanted})
        assert await effects(db) == 2
        assert await inbox_rows(db) == 2
        assert await stream_messages(nats_url, "DEADLETTER") == []
    await publisher.close()


async def test_a_batch_handler_applies_the_fresh_events_at_once_and_a_failed_batch_goes_one_by_one(
    databases: Databases, nats_url: str, clock: FrozenClock
) -> None:
    # A first consumer group gets A, B, A again and C in one fetch: the batch handler gets the fresh ones at
    # once, in order (the inbox leaves the copy of A out). A second group then reads the whole stream, BAD
    # and D included: its batch fails as a whole and is applied again one event at a time with the per-event
    # handler, where only BAD fails (twice, then its dependency answers).
    handler, calls = counting_handler()
    batches: list[list[str]] = []
    bad_failures = Counter[str]()

    async def one(session: AsyncSession, event: EventEnvelope) -> None:
        if event.subject == "BAD" and bad_failures["BAD"] < 2:
            bad_failures["BAD"] += 1
            raise RuntimeError("BAD's dependency is down")
        await handler(session, event)

    async def at_once(session: AsyncSession, events: list[EventEnvelope]) -> None:
        batches.append([event.subject for event in events])
        if any(event.subject == "BAD" for event in events):
            raise RuntimeError("a batch holding BAD fails")
        for event in events:
            await handler(session, event)

    publisher = await nats.connect(nats_url)
    async with backbone(databases.url("scratch"), nats_url) as (db, client):
        await client.wait_connected()
        js = publisher.jetstream()
        events = {name: person_event(clock, name) for name in ("A", "B", "C", "BAD", "D")}
        for copy, name in enumerate(("A", "B", "A", "C")):
            await js.publish(REGISTERED, events[name].to_bytes(), headers={"Nats-Msg-Id": f"copy-{copy}"})
        first = runner(db, client, clock, one, batch_handler=at_once, durable="group-1")
        async with running_task(first.run()):
            await wait_for(lambda: _acked(nats_url, "group-1", 4), what="the first group's four acked")
        assert batches == [["A", "B", "C"]]
        for name in ("BAD", "D"):
            await js.publish(REGISTERED, events[name].to_bytes(), headers={"Nats-Msg-Id": name})
        second = runner(db, client, clock, one, batch_handler=at_once, durable="group-2")
        async with running_task(second.run()):
            await wait_for(lambda: _acked(nats_url, "group-2", 6), what="the second group's six acked")
        assert batches == [["A", "B", "C"], ["A", "B", "C", "BAD", "D"]]
        # Once per consumer group: A, B and C in both, BAD and D in the second only.
        assert calls == Counter(
            {str(events[name].id): 2 for name in "ABC"} | {str(events[name].id): 1 for name in ("BAD", "D")}
        )
        assert await effects(db) == 8
        assert await inbox_rows(db) == 8
        assert bad_failures["BAD"] == 2
        assert await stream_messages(nats_url, "DEADLETTER") == []
    await publisher.close()


async def test_a_filter_that_fails_hands_the_event_to_the_handler(
    databases: Databases, nats_url: str, clock: FrozenClock
) -> None:
    handler, calls = counting_handler()
    event = person_event(clock)

    def broken(_: EventEnvelope) -> bool:
        raise KeyError("the payload lacks the field the filter reads")

    async with backbone(databases.url("scratch"), nats_url) as (db, client):
        await client.wait_connected()
        await client.jetstream().publish(REGISTERED, event.to_bytes(), headers={"Nats-Msg-Id": str(event.id)})
        async with running_task(runner(db, client, clock, handler, wants=broken).run()):
            await wait_for(lambda: _acked(nats_url, "test-persons", 1), what="the ack")
        assert calls == Counter({str(event.id): 1})
        assert await inbox_rows(db) == 1


async def test_a_handler_that_keeps_failing_is_dead_lettered_and_can_be_replayed(
    databases: Databases, nats_url: str, clock: FrozenClock
) -> None:
    handler, calls = counting_handler(fail_times=10**6)
    poison, healthy = person_event(clock, "P0001"), person_event(clock, "P0002")
    async with backbone(databases.url("scratch"), nats_url) as (db, client):
        await client.wait_connected()
        js = client.jetstream()
        for event in (poison, healthy):
            await js.publish(REGISTERED, event.to_bytes(), headers={"Nats-Msg-Id": str(event.id)})
        async with running_task(runner(db, client, clock, handler, max_deliver=3).run()):
            await wait_for(
                lambda: _acked(nats_url, "test-persons", 2), what="both settled one way or the other"
            )
        assert calls == Counter({str(poison.id): 3, str(healthy.id): 3})
        letters = await stream_messages(nats_url, "DEADLETTER")
        assert [subject for subject, _, _ in letters] == ["deadletter.scratch.test-persons"] * 2
        _, headers, data = letters[0]
        assert EventEnvelope.from_bytes(data) == poison
        assert headers["Ybj-Original-Subject"] == REGISTERED
        assert headers["Ybj-Deliveries"] == "3"
        assert headers["Ybj-Consumer"] == "test-persons"
        assert headers["Ybj-Error"] == "RuntimeError: the handler's dependency is down"
        assert await effects(db) == 0
        assert await inbox_rows(db) == 0

    # Ops see the dead letters through the service's own API and replay one once the cause is fixed.
    fixed_handler, fixed_calls = counting_handler()
    app = scratch_app(database_url=databases.url("scratch"), nats_url=nats_url, clock=clock)
    async with app_client(app) as api, backbone(databases.url("scratch"), nats_url) as (db, client):
        await wait_for(lambda: app.state.nats.connected and client.connected, what="connections")
        listed = await api.get("/dead-letters", params={"limit": 10})
        assert listed.status_code == 200, listed.text
        items = listed.json()["items"]
        assert [
            (item["event_id"], item["deliveries"], item["subject"], item["consumer"]) for item in items
        ] == [
            (str(poison.id), 3, REGISTERED, "test-persons"),
            (str(healthy.id), 3, REGISTERED, "test-persons"),
        ]
        assert listed.json()["next_cursor"] is None
        first_page = await api.get("/dead-letters", params={"limit": 1})
        assert [item["event_id"] for item in first_page.json()["items"]] == [str(poison.id)]
        assert first_page.json()["next_cursor"] == items[0]["seq"] + 1

        replayed = await api.post(f"/dead-letters/{items[0]['seq']}/replay")
        assert replayed.status_code == 200, replayed.text
        assert replayed.json()["subject"] == REGISTERED
        again = await api.post(f"/dead-letters/{items[0]['seq']}/replay")
        assert (again.status_code, again.json()["code"]) == (404, "DEAD_LETTER_NOT_FOUND")

        async with running_task(runner(db, client, clock, fixed_handler, service="scratch").run()):
            await wait_for(lambda: fixed_calls[str(poison.id)] == 1, what="the replayed event applied")
            await asyncio.sleep(0.2)
        assert fixed_calls == Counter({str(poison.id): 1})
        assert await effects(db) == 1
        remaining = await api.get("/dead-letters")
        assert [item["event_id"] for item in remaining.json()["items"]] == [str(healthy.id)]


async def test_streams_are_created_on_connect_when_missing(nats_url: str) -> None:
    client = NatsClient(nats_url, name="test")
    client.start()
    await client.wait_connected()
    infos = await client.jetstream().streams_info()
    await client.close()
    assert {info.config.name: tuple(info.config.subjects or ()) for info in infos} == {
        spec.name: spec.subjects for spec in STREAMS
    }


@pytest.mark.postgres_only
async def test_two_relays_side_by_side_publish_each_row_exactly_once(
    databases: Databases, nats_url: str, clock: FrozenClock
) -> None:
    if databases.backend != "postgres":
        pytest.skip("SKIP LOCKED is PostgreSQL's; on SQLite one relay serves one file")
    async with backbone(databases.url("scratch"), nats_url) as (db, client):
        await client.wait_connected()
        async with db.transaction() as session:
            for i in range(400):
                await add_event(session, person_event(clock, f"P{i:04d}"))
        relays = [
            OutboxRelay(service="test", db=db, nats=client, clock=clock, batch_size=25) for _ in range(2)
        ]

        async def drain(relay: OutboxRelay) -> int:
            total = 0
            while (published := await relay.relay_once()) > 0:
                total += published
            return total

        counts = await asyncio.gather(*(drain(relay) for relay in relays))
        assert sum(counts) == 400  # each row was claimed by exactly one relay
        assert min(counts) > 0  # and both did real work
    ids = {headers["Nats-Msg-Id"] for _, headers, _ in await stream_messages(nats_url, "ENROLLMENT")}
    assert len(ids) == 400
