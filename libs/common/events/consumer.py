"""Durable pull consumers: inbox in the handler's transaction, ack after commit, backoff, dead letters."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError
from pydantic import ValidationError
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from common.clock import Clock
from common.db import Database
from common.events.contracts import deadletter_subject
from common.events.envelope import EventEnvelope
from common.events.nats import NatsClient, raise_if_cancelled
from common.events.tables import inbox_event
from common.metrics import CONSUMER_PENDING, DEAD_LETTERS, EVENT_LAG, EVENTS_CONSUMED

log = logging.getLogger("common.consumer")

Handler = Callable[[AsyncSession, EventEnvelope], Awaitable[None]]
Wants = Callable[[EventEnvelope], bool]
BatchHandler = Callable[[AsyncSession, Sequence[EventEnvelope]], Awaitable[None]]

ORIGINAL_SUBJECT_HEADER = "Ybj-Original-Subject"
ERROR_HEADER = "Ybj-Error"
DELIVERIES_HEADER = "Ybj-Deliveries"
CONSUMER_HEADER = "Ybj-Consumer"
FAILED_AT_HEADER = "Ybj-Failed-At"


class _HandlerFailed(Exception):
    """A handler failed on the event at `index` of a batch (the batch's transaction is rolled back)."""

    def __init__(self, index: int, error: Exception) -> None:
        super().__init__(f"event {index} of the batch: {type(error).__name__}")
        self.index = index
        self.error = error


@dataclass(frozen=True)
class Subscription:
    """A durable consumer of a stream: which subjects it wants and what to do with each event."""

    durable: str
    stream: str
    subjects: tuple[str, ...]
    handler: Handler
    backoff_s: Sequence[float] = field(default=(1.0, 5.0, 15.0, 60.0))
    # Which events of the subjects the handler acts on; the others are acked as `ignored` with no transaction
    # and no inbox row (the handler would have done nothing with them, so nothing can be applied twice).
    # None: every event is handled.
    wants: Wants | None = None
    # The fresh events of a fetched batch at once, in delivery order, with the same effect as `handler` on
    # each in turn (set-based statements instead of a few per event). When it fails the batch is applied
    # again one event at a time with `handler`, so a failing event is retried or dead-lettered alone.
    batch_handler: BatchHandler | None = None


class ConsumerRunner:
    """Runs one durable pull consumer; each event is applied once, in one transaction with its inbox row."""

    def __init__(
        self,
        *,
        service: str,
        db: Database,
        nats: NatsClient,
        subscription: Subscription,
        clock: Clock,
        batch_size: int = 100,
        max_deliver: int = 5,
        ack_wait_s: float = 30.0,
        retention_days: int = 14,
    ) -> None:
        self.service = service
        self.db = db
        self.nats = nats
        self.sub = subscription
        self.clock = clock
        self.batch_size = batch_size
        self.max_deliver = max_deliver
        self.ack_wait_s = ack_wait_s
        self.retention = timedelta(days=retention_days)
        self._last_purge = 0.0
        self.pending_every_s = 15.0
        self._last_pending = float("-inf")
        # At 0 from the start: a counter that first appears at 1 shows no increase, and the alert on any dead
        # letter would miss the first one.
        DEAD_LETTERS.labels(service, subscription.durable)

    @property
    def consumer_name(self) -> str:
        return self.sub.durable

    async def run(self) -> None:
        """Fetch and handle forever; survives NATS outages and handler failures."""
        await self.nats.wait_connected()
        pull = None
        while True:
            raise_if_cancelled()
            try:
                if pull is None:
                    pull = await self._bind()
                await self._report_pending(pull)
                try:
                    messages = await pull.fetch(self.batch_size, timeout=1.0)
                except (TimeoutError, NatsTimeoutError):
                    await self._purge_inbox()
                    continue
                await self.handle_batch(messages)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("consumer %s interrupted (%s); resuming", self.consumer_name, type(exc).__name__)
                # Bind again: the connection may be a new one, or the consumer gone with a fresh server.
                pull = None
                await asyncio.sleep(0.5)
                await self.nats.wait_connected()

    async def _bind(self) -> Any:
        js = self.nats.jetstream()
        config = ConsumerConfig(
            durable_name=self.sub.durable,
            deliver_policy=DeliverPolicy.ALL,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=self.ack_wait_s,
            max_deliver=-1,  # the runner counts deliveries itself and dead-letters at max_deliver
            max_ack_pending=max(1000, self.batch_size * 4),
            filter_subjects=list(self.sub.subjects),
        )
        try:
            await js.consumer_info(self.sub.stream, self.sub.durable)
        except NotFoundError:
            await js.add_consumer(self.sub.stream, config)
        return await js.pull_subscribe_bind(self.sub.durable, stream=self.sub.stream)

    async def _report_pending(self, pull: Any) -> None:
        """Set the pending-messages gauge from the consumer's info, at most every `pending_every_s`."""
        loop_now = asyncio.get_running_loop().time()
        if loop_now - self._last_pending < self.pending_every_s:
            return
        self._last_pending = loop_now
        try:
            info = await pull.consumer_info()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the fetch that follows finds out whether NATS is really away
            log.debug("consumer %s: no consumer info (%s)", self.consumer_name, type(exc).__name__)
            return
        CONSUMER_PENDING.labels(self.service, self.consumer_name).set(
            (info.num_pending or 0) + (info.num_ack_pending or 0)
        )

    async def handle_batch(self, messages: Sequence[Msg]) -> None:
        """Apply a fetched batch in one transaction (one inbox statement, one commit), then ack each.

        Events are applied in delivery order, each once: the inbox insert returns the ids not seen before,
        and an id delivered twice in the batch is applied the first time only. When a handler fails, the
        transaction rolls back, that event's delivery fails as it would alone (retry with backoff, or the
        dead letter at max_deliver) and the rest of the batch is applied again without it (so a handler
        may run twice for the events before the failing one: the first run was rolled back). Anything
        else failing (the inbox, the commit) hands the batch to the one-at-a-time path.
        """
        pending: list[tuple[Msg, EventEnvelope]] = []
        ignored: list[tuple[Msg, EventEnvelope]] = []
        for message in messages:
            try:
                event = EventEnvelope.from_bytes(message.data)
            except ValidationError:
                # A malformed message: the whole batch goes the one-at-a-time path, which dead-letters it.
                for each in messages:
                    await self.handle(each)
                    raise_if_cancelled()
                return
            (pending if self._wanted(event) else ignored).append((message, event))
        for message, event in ignored:
            await self._ignored(message, event)
        while len(pending) > 1:
            try:
                applied = await self._apply_all([event for _, event in pending])
            except _HandlerFailed as failure:
                message, event = pending.pop(failure.index)
                await self._failed(message, event, failure.error)
                continue
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.info(
                    "consumer %s: a batch of %d failed (%s); applying one at a time",
                    self.consumer_name,
                    len(pending),
                    type(exc).__name__,
                )
                break
            for (message, event), fresh in zip(pending, applied, strict=True):
                await self._acked(message, event, applied=fresh)
            return
        for message, _ in pending:
            await self.handle(message)
            raise_if_cancelled()

    async def _apply_all(self, events: Sequence[EventEnvelope]) -> list[bool]:
        """The events' inbox rows and handlers in one transaction; per event, whether it was applied."""
        async with self.db.transaction() as session:
            new = set(
                (
                    await session.execute(self._inbox_insert(events).returning(inbox_event.c.event_id))
                ).scalars()
            )
            applied = []
            for event in events:
                fresh = str(event.id) in new
                if fresh:
                    new.discard(str(event.id))
                applied.append(fresh)
            if self.sub.batch_handler is not None:
                # A failure here is no one event's: the caller applies the batch again one at a time.
                await self.sub.batch_handler(
                    session, [event for event, fresh in zip(events, applied, strict=True) if fresh]
                )
                return applied
            for index, (event, fresh) in enumerate(zip(events, applied, strict=True)):
                if fresh:
                    try:
                        await self.sub.handler(session, event)
                    except asyncio.CancelledError:
                        raise
                    except Exception as exc:
                        raise _HandlerFailed(index, exc) from exc
        return applied

    async def handle(self, message: Msg) -> None:
        """Apply one delivered message exactly once, then ack; on failure retry with backoff or dead-letter."""
        deliveries = message.metadata.num_delivered if message.metadata else 1
        try:
            event = EventEnvelope.from_bytes(message.data)
        except ValidationError as exc:
            # A message that is not an envelope will never become one: straight to the dead letters.
            await self._dead_letter(
                message, None, f"not an event envelope: {exc.error_count()} errors", deliveries
            )
            return
        if not self._wanted(event):
            await self._ignored(message, event)
            return
        try:
            applied = await self._apply(event)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            await self._failed(message, event, exc)
            return
        await self._acked(message, event, applied=applied)

    def _wanted(self, event: EventEnvelope) -> bool:
        """Whether the handler acts on the event; a filter that fails hands the event to the handler."""
        if self.sub.wants is None:
            return True
        try:
            return bool(self.sub.wants(event))
        except Exception:  # a malformed payload: the handler's own validation decides (retry, dead letter)
            return True

    async def _ignored(self, message: Msg, event: EventEnvelope) -> None:
        await message.ack()
        EVENTS_CONSUMED.labels(self.service, self.consumer_name, event.type, "ignored").inc()

    async def _acked(self, message: Msg, event: EventEnvelope, *, applied: bool) -> None:
        await message.ack()
        EVENTS_CONSUMED.labels(
            self.service, self.consumer_name, event.type, "applied" if applied else "duplicate"
        ).inc()
        EVENT_LAG.labels(self.service, self.consumer_name).observe(
            max(0.0, (self.clock.now() - event.time).total_seconds())
        )

    async def _failed(self, message: Msg, event: EventEnvelope, exc: BaseException) -> None:
        """A delivery whose handling failed: redelivered after the backoff, or dead-lettered at max_deliver."""
        deliveries = message.metadata.num_delivered if message.metadata else 1
        EVENTS_CONSUMED.labels(self.service, self.consumer_name, event.type, "failed").inc()
        if deliveries >= self.max_deliver:
            log.error(
                "consumer %s gives up on event %s (%s) after %d deliveries: %s",
                self.consumer_name,
                event.id,
                event.type,
                deliveries,
                type(exc).__name__,
            )
            await self._dead_letter(message, event, f"{type(exc).__name__}: {exc}", deliveries)
        else:
            delay = self.sub.backoff_s[min(deliveries, len(self.sub.backoff_s)) - 1]
            log.warning(
                "consumer %s failed on event %s (%s), delivery %d; retry in %.1fs: %s",
                self.consumer_name,
                event.id,
                event.type,
                deliveries,
                delay,
                type(exc).__name__,
            )
            await message.nak(delay=delay)

    async def _apply(self, event: EventEnvelope) -> bool:
        """Record the event in the inbox and run the handler, in one transaction. False if seen before."""
        async with self.db.transaction() as session:
            result = await session.execute(self._inbox_insert([event]))
            if result.rowcount == 0:  # type: ignore[attr-defined]
                return False
            await self.sub.handler(session, event)
        return True

    def _inbox_insert(self, events: Sequence[EventEnvelope]) -> Any:
        now = self.clock.now()
        values = [
            {
                "consumer": self.consumer_name,
                "event_id": str(event.id),
                "type": event.type,
                "received_at": now,
            }
            for event in events
        ]
        dialect = postgresql if not self.db.is_sqlite else sqlite
        return dialect.insert(inbox_event).values(values).on_conflict_do_nothing()

    async def _dead_letter(
        self, message: Msg, event: EventEnvelope | None, error: str, deliveries: int
    ) -> None:
        headers = {
            "Nats-Msg-Id": f"dlq:{self.consumer_name}:{event.id if event else message.metadata.sequence.stream}",
            ORIGINAL_SUBJECT_HEADER: message.subject,
            CONSUMER_HEADER: self.consumer_name,
            ERROR_HEADER: error[:500].replace("\r", " ").replace("\n", " "),
            DELIVERIES_HEADER: str(deliveries),
            FAILED_AT_HEADER: self.clock.now().isoformat(),
        }
        try:
            await self.nats.jetstream().publish(
                deadletter_subject(self.service, self.consumer_name), message.data, headers=headers
            )
        except Exception as exc:
            log.warning("could not dead-letter (%s); the event will be redelivered", type(exc).__name__)
            await message.nak(delay=self.sub.backoff_s[-1])
            return
        DEAD_LETTERS.labels(self.service, self.consumer_name).inc()
        await message.term()

    async def _purge_inbox(self) -> None:
        loop_now = asyncio.get_running_loop().time()
        if loop_now - self._last_purge < 600:
            return
        self._last_purge = loop_now
        # Past the stream's retention an event can no longer be redelivered, so its inbox row has done its job.
        async with self.db.transaction() as session:
            await session.execute(
                sa.delete(inbox_event).where(
                    inbox_event.c.consumer == self.consumer_name,
                    inbox_event.c.received_at < self.clock.now() - self.retention - timedelta(days=1),
                )
            )
