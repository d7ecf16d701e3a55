"""The NATS connection of a service: connects in the background, reconnects forever, ensures streams."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import nats
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import BadRequestError

from common.events.contracts import STREAMS, StreamSpec

log = logging.getLogger("common.nats")
# nats-py's own reconnect attempts (0.5 s apart) before it closes the client and the supervisor starts over.
RECONNECT_ATTEMPTS = 20


def raise_if_cancelled() -> None:
    """Re-raise a cancellation that a library swallowed.

    On Python 3.11, asyncio.wait_for returns the result instead of raising when the awaited thing completes
    as the cancellation arrives (fixed in 3.12); nats-py's fetch uses it, so a loop around fetch would never
    learn it was cancelled. Task.cancelling() still counts the request.
    """
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


def stream_config(spec: StreamSpec, *, retention_days: int) -> StreamConfig:
    return StreamConfig(
        name=spec.name,
        subjects=list(spec.subjects),
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        discard=DiscardPolicy.OLD,
        max_age=retention_days * 86400.0,
        duplicate_window=300.0,
    )


async def ensure_streams(js: JetStreamContext, *, retention_days: int) -> None:
    """Create the platform's streams if missing (every service does this on connect; it is idempotent)."""
    for spec in STREAMS:
        config = stream_config(spec, retention_days=retention_days)
        try:
            await js.add_stream(config)
        except BadRequestError:
            # Exists with other settings (e.g. created by an older release): bring it in line.
            await js.update_stream(config)


class NatsClient:
    """A service's connection to NATS. The service starts and serves even while NATS is down."""

    def __init__(self, url: str, *, name: str, retention_days: int = 14) -> None:
        self.url = url
        self.name = name
        self.retention_days = retention_days
        self.client: Client | None = None
        self._js: JetStreamContext | None = None
        self._ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def connected(self) -> bool:
        return self.client is not None and self.client.is_connected and self._ready.is_set()

    def jetstream(self) -> JetStreamContext:
        if self._js is None:
            raise RuntimeError("NATS is not connected")
        return self._js

    async def wait_connected(self) -> None:
        await self._ready.wait()

    def start(self) -> None:
        self._task = asyncio.create_task(self._supervise(), name=f"nats-connect-{self.name}")

    async def _supervise(self) -> None:
        """Keep a connection: connect, and connect anew whenever nats-py gives up on reconnecting.

        nats-py is never asked to retry forever itself: its retry loop can lose a cancellation (Python 3.11's
        wait_for), which would leave the service unable to stop. Its own attempts are bounded; this loop,
        which checks for cancellation, does the waiting.
        """
        delay = 0.2
        while True:
            raise_if_cancelled()
            closed = asyncio.Event()

            async def on_closed(event: asyncio.Event = closed) -> None:
                event.set()

            try:
                client = await nats.connect(
                    self.url,
                    name=self.name,
                    connect_timeout=2,
                    allow_reconnect=True,
                    max_reconnect_attempts=RECONNECT_ATTEMPTS,
                    reconnect_time_wait=0.5,
                    reconnected_cb=self._on_reconnected,
                    disconnected_cb=self._on_disconnected,
                    error_cb=self._on_error,
                    closed_cb=on_closed,
                )
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("NATS at %s not reachable (%s); retrying", self.url, type(exc).__name__)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            delay = 0.2
            self.client = client
            self._js = client.jetstream(timeout=5)
            await self._prepare()
            await closed.wait()  # nats-py gave up reconnecting (or we are closing): start over
            self._ready.clear()
            self._js = None
            log.warning("NATS connection closed; connecting anew")

    async def _prepare(self) -> None:
        while True:
            raise_if_cancelled()
            try:
                await ensure_streams(self.jetstream(), retention_days=self.retention_days)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("could not ensure JetStream streams (%s); retrying", type(exc).__name__)
                await asyncio.sleep(1)
                continue
            self._ready.set()
            log.info("connected to NATS, streams ready")
            return

    async def _on_disconnected(self) -> None:
        log.warning("disconnected from NATS")

    async def _on_reconnected(self) -> None:
        log.info("reconnected to NATS")
        # A server that lost its store (a new node) has no streams: make sure they exist again.
        self._ready.clear()
        asyncio.get_running_loop().create_task(self._prepare())

    async def _on_error(self, exc: Exception) -> None:
        log.debug("NATS client error: %s", type(exc).__name__)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            done, _ = await asyncio.wait({self._task}, timeout=5)
            if not done:
                log.error("the NATS connection task did not stop within 5s")
        if self.client is not None and not self.client.is_closed:
            # close, not drain: drain waits up to 30s for pull subscriptions that have nothing left to give,
            # and anything unacked is redelivered to the next consumer anyway.
            with contextlib.suppress(Exception):
                await self.client.close()
        self._ready.clear()
