"""The transactional outbox: events written with the state change, published after commit by the relay."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from common.clock import Clock
from common.db import Database, DeferredWrites
from common.events.envelope import EventEnvelope
from common.events.nats import NatsClient, raise_if_cancelled
from common.events.tables import outbox_event
from common.metrics import EVENTS_PUBLISHED, OUTBOX_BACKLOG

log = logging.getLogger("common.outbox")


_INSERT = sa.insert(outbox_event)


async def add_event(session: AsyncSession, event: EventEnvelope) -> None:
    """Write an event in the caller's transaction; it is published only if that transaction commits."""
    await add_events(session, [event])


async def add_events(session: AsyncSession, events: Sequence[EventEnvelope], *, defer: bool = False) -> None:
    """Write many events in few statements (bulk loads), in the caller's transaction.

    `defer`: with the transaction's other deferred writes (common.db.DeferredWrites), at the latest at commit.
    """
    if not events:
        return
    rows = [
        {
            "event_id": str(event.id),
            "type": event.type,
            "subject": event.subject,
            "payload": event.to_bytes(),
            "created_at": event.time,
        }
        for event in events
    ]
    if defer:
        writes = DeferredWrites.of(session)
        for row in rows:
            await writes.insert(outbox_event, row)
    elif len(rows) == 1:
        # Parameters, not inline values: the statement compiles once and is cached (the settle path's budget).
        await session.execute(_INSERT, rows[0])
    else:
        for start in range(0, len(rows), 2000):
            await session.execute(sa.insert(outbox_event), rows[start : start + 2000])
    session.info["outbox_pending"] = True


class OutboxRelay:
    """Publishes unpublished outbox rows to JetStream in batches, Nats-Msg-Id = event id.

    On PostgreSQL the batch is claimed with FOR UPDATE SKIP LOCKED, so several replicas relay side by
    side without publishing the same row twice at once; a row whose publish was not acknowledged stays
    unpublished and is retried (JetStream drops the duplicate by its Nats-Msg-Id, the consumer's inbox
    drops anything older than the duplicate window).
    """

    def __init__(
        self,
        *,
        service: str,
        db: Database,
        nats: NatsClient,
        clock: Clock,
        batch_size: int = 500,
        poll_interval_s: float = 0.5,
        publish_timeout_s: float = 5.0,
        retention_days: int = 14,
        coalesce_s: float = 0.02,
        backlog_every_s: float = 5.0,
    ) -> None:
        self.service = service
        self.db = db
        self.nats = nats
        self.clock = clock
        self.batch_size = batch_size
        self.poll_interval_s = poll_interval_s
        self.publish_timeout_s = publish_timeout_s
        self.retention = timedelta(days=retention_days)
        self.coalesce_s = coalesce_s
        self.backlog_every_s = backlog_every_s
        self._last_purge = 0.0
        self._last_backlog = -math.inf

    async def run(self) -> None:
        """Relay forever: wake on commit signals or every poll interval.

        Woken by a commit, the relay first waits `coalesce_s`: under load the commits of that moment go out
        in one round (one claim, one publish burst, one mark) instead of one round each.
        """
        while True:
            raise_if_cancelled()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.db.outbox_signal.wait(), timeout=self.poll_interval_s)
                if self.coalesce_s > 0:
                    await asyncio.sleep(self.coalesce_s)
            self.db.outbox_signal.clear()
            try:
                while self.nats.connected and await self.relay_once() == self.batch_size:
                    pass
                if not self.nats.connected:
                    # No rounds while NATS is away, and that is when the backlog grows: count it all the same.
                    loop_now = asyncio.get_running_loop().time()
                    if loop_now - self._last_backlog >= self.backlog_every_s:
                        self._last_backlog = loop_now
                        await self._update_backlog()
                await self._purge_published()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("outbox relay round failed; retrying")
                await asyncio.sleep(self.poll_interval_s)

    async def relay_once(self) -> int:
        """Publish one batch; returns how many rows were published."""
        if not self.nats.connected:
            return 0
        if self.db.is_sqlite:
            # One relay per SQLite file: read without holding the write lock during the network round trip.
            async with self.db.transaction(readonly=True) as session:
                rows = (await session.execute(self._pending_query())).all()
            published = await self._publish(rows)
            async with self.db.transaction() as session:
                await self._mark(session, rows, published)
        else:
            async with self.db.transaction() as session:
                rows = (await session.execute(self._pending_query().with_for_update(skip_locked=True))).all()
                published = await self._publish(rows)
                await self._mark(session, rows, published)
        loop_now = asyncio.get_running_loop().time()
        if len(rows) == self.batch_size or loop_now - self._last_backlog >= self.backlog_every_s:
            # Counted when it may be large, else every few seconds: a count per round would cost each round
            # another query (the gauge is for the alert on a backlog that keeps growing, not per event).
            self._last_backlog = loop_now
            await self._update_backlog()
        elif not rows:
            OUTBOX_BACKLOG.labels(self.service).set(0)
        return len(published)

    def _pending_query(self) -> sa.Select[Any]:
        return (
            sa.select(
                outbox_event.c.seq, outbox_event.c.event_id, outbox_event.c.type, outbox_event.c.payload
            )
            .where(outbox_event.c.published_at.is_(None))
            .order_by(outbox_event.c.seq)
            .limit(self.batch_size)
        )

    async def _publish(self, rows: Any) -> set[int]:
        if not rows:
            return set()
        js = self.nats.jetstream()
        futures = []
        for row in rows:
            futures.append(
                await js.publish_async(row.type, row.payload, headers={"Nats-Msg-Id": row.event_id})
            )
        done = await asyncio.gather(
            *(asyncio.wait_for(future, self.publish_timeout_s) for future in futures), return_exceptions=True
        )
        published: set[int] = set()
        for row, outcome in zip(rows, done, strict=True):
            if isinstance(outcome, BaseException):
                log.warning(
                    "publish of outbox row %s (%s) failed: %s", row.seq, row.type, type(outcome).__name__
                )
                continue
            published.add(row.seq)
            EVENTS_PUBLISHED.labels(self.service, row.type).inc()
        return published

    async def _mark(self, session: AsyncSession, rows: Any, published: set[int]) -> None:
        if published:
            await session.execute(
                sa.update(outbox_event)
                .where(outbox_event.c.seq.in_(published))
                .values(published_at=self.clock.now())
            )
        failed = [row.seq for row in rows if row.seq not in published]
        if failed:
            await session.execute(
                sa.update(outbox_event)
                .where(outbox_event.c.seq.in_(failed))
                .values(attempts=outbox_event.c.attempts + 1)
            )

    async def _update_backlog(self) -> None:
        async with self.db.transaction(readonly=True) as session:
            backlog = await session.scalar(
                sa.select(sa.func.count())
                .select_from(outbox_event)
                .where(outbox_event.c.published_at.is_(None))
            )
        OUTBOX_BACKLOG.labels(self.service).set(backlog or 0)

    async def _purge_published(self) -> None:
        loop_now = asyncio.get_running_loop().time()
        if loop_now - self._last_purge < 600:
            return
        self._last_purge = loop_now
        async with self.db.transaction() as session:
            await session.execute(
                sa.delete(outbox_event).where(outbox_event.c.published_at < self.clock.now() - self.retention)
            )
