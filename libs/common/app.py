"""The one way a service becomes a FastAPI app: middleware, errors, health, metrics, DB, NATS, workers."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse

from common.clock import Clock, SystemClock
from common.config import ServiceSettings
from common.db import Database
from common.docs import install_docs
from common.errors import install_error_handlers, problem_response
from common.events.consumer import ConsumerRunner, Subscription
from common.events.deadletter import dead_letter_router
from common.events.nats import NatsClient
from common.events.outbox import OutboxRelay
from common.logs import configure_logging
from common.metrics import metrics_endpoint
from common.middleware import ObservabilityMiddleware

log = logging.getLogger("common.app")

Worker = Callable[[FastAPI], Awaitable[None]]
Resource = Callable[[FastAPI], AbstractAsyncContextManager[None]]
QUIET_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


def create_service_app(
    *,
    settings: ServiceSettings,
    title: str,
    description: str,
    routers: Sequence[APIRouter] = (),
    subscriptions: Sequence[Subscription] = (),
    workers: Sequence[Worker] = (),
    resources: Sequence[Resource] = (),
    clock: Clock | None = None,
    openapi_tags: list[dict[str, Any]] | None = None,
    with_dead_letters: bool = True,
    openapi_url: str | None = "/openapi.json",
) -> FastAPI:
    """Build a service app; nothing touches the network or the disk until the lifespan starts."""
    service = settings.service_name

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(service, settings.log_level)
        db = Database.from_url(
            settings.database_url,
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
            busy_timeout_ms=settings.sqlite_busy_timeout_ms,
        )
        nats = NatsClient(settings.nats_url, name=service, retention_days=settings.event_retention_days)
        app.state.db, app.state.nats = db, nats
        nats.start()
        stack = AsyncExitStack()
        for resource in resources:
            await stack.enter_async_context(resource(app))
        tasks: list[asyncio.Task[None]] = []
        if settings.relay_enabled:
            relay = OutboxRelay(
                service=service,
                db=db,
                nats=nats,
                clock=app.state.clock,
                batch_size=settings.relay_batch_size,
                poll_interval_s=settings.relay_poll_interval_s,
                retention_days=settings.event_retention_days,
            )
            tasks.append(_supervised(f"{service}-relay", relay.run()))
        if settings.consumers_enabled:
            for subscription in subscriptions:
                runner = ConsumerRunner(
                    service=service,
                    db=db,
                    nats=nats,
                    subscription=subscription,
                    clock=app.state.clock,
                    batch_size=settings.consumer_batch_size,
                    max_deliver=settings.consumer_max_deliver,
                    ack_wait_s=settings.consumer_ack_wait_s,
                    retention_days=settings.event_retention_days,
                )
                tasks.append(_supervised(f"{service}-{subscription.durable}", runner.run()))
        for worker in workers:
            tasks.append(_supervised(f"{service}-{getattr(worker, '__name__', 'worker')}", worker(app)))
        log.info("%s started on %s", service, settings.base_url)
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            if tasks:
                _, stuck = await asyncio.wait(tasks, timeout=10)
                for task in stuck:
                    log.error("background task %s did not stop within 10s", task.get_name())
            await stack.aclose()
            await nats.close()
            await db.dispose()
            log.info("%s stopped", service)

    app = FastAPI(
        title=title,
        description=description,
        version="1.0.0",
        lifespan=lifespan,
        openapi_tags=openapi_tags,
        openapi_url=openapi_url,
        # Served by install_docs below, from an installed package: the bureau's network reaches no CDN.
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    # Readiness: what must be "ok" for the instance to take traffic; other probes are reported only.
    app.state.readiness_required = {"database", "nats"}
    app.state.readiness_probes = []
    app.state.clock = clock or SystemClock()
    app.add_middleware(
        ObservabilityMiddleware,
        service=service,
        quiet_paths=QUIET_PATHS,
        max_body_bytes=settings.max_body_bytes,
    )
    install_error_handlers(app)
    app.include_router(health_router())
    app.add_route("/metrics", metrics_endpoint, include_in_schema=False)
    for router in routers:
        app.include_router(router)
    if openapi_url:
        install_docs(app, title=title, openapi_url=openapi_url)
    if with_dead_letters:
        app.include_router(dead_letter_router(service))
    return app


def _supervised(name: str, work: Awaitable[None]) -> asyncio.Task[None]:
    task: asyncio.Task[None] = asyncio.create_task(work, name=name)  # type: ignore[arg-type]

    def report(done: asyncio.Task[None]) -> None:
        if not done.cancelled() and done.exception() is not None:
            log.error("background task %s died: %r", name, done.exception())

    task.add_done_callback(report)
    return task


async def database_ready(db: Database) -> bool:
    try:
        async with asyncio.timeout(2):
            async with db.transaction(readonly=True) as session:
                await session.execute(sa.text("SELECT 1"))
    except Exception:
        return False
    return True


def health_router() -> APIRouter:
    router = APIRouter(tags=["health 健康检查"])

    @router.get("/healthz", summary="Liveness 存活检查")
    async def healthz(request: Request) -> dict[str, str]:
        """The process is up and answering: 200 with the service's name, nothing else checked.

        For the orchestrator's liveness probe: a failure means restart the process. Through the gateway,
        `/<service>/healthz` asks the service behind it; a stopped service is 503 SERVICE_UNAVAILABLE there.
        """
        return {"status": "ok", "service": request.app.state.settings.service_name}

    @router.get(
        "/readyz",
        summary="Readiness 就绪检查: database and NATS reachable (the gateway also reports each service)",
        responses={503: {"description": "Not ready (problem+json with the failing checks)"}},
    )
    async def readyz(request: Request) -> JSONResponse:
        """Whether this instance should take traffic: each check `ok` or `unavailable`, in `checks`.

        200 `ready` when every check passes, 200 `degraded` when only a check that does not block traffic
        fails (the gateway stays up while one service behind it is down, and says which), 503 NOT_READY
        with the same `checks` when the database or NATS is unreachable.
        """
        state = request.app.state
        checks = {
            "database": "ok" if await database_ready(state.db) else "unavailable",
            "nats": "ok" if state.nats.connected else "unavailable",
        }
        for probe in state.readiness_probes:
            checks.update(await probe(request.app))
        service = state.settings.service_name
        failing = [name for name, value in checks.items() if value != "ok"]
        blocking = [name for name in failing if name in state.readiness_required]
        if not blocking:
            return JSONResponse(
                {"status": "degraded" if failing else "ready", "service": service, "checks": checks}
            )
        return problem_response(
            status=503,
            code="NOT_READY",
            title="Service unavailable",
            detail=f"{service} is not ready: " + ", ".join(blocking),
            checks=checks,
        )

    return router


@contextlib.asynccontextmanager
async def running(app: FastAPI) -> AsyncIterator[FastAPI]:
    """Run an app's lifespan around a block (tests and in-process tools).

    The lifespan runs in a task of its own, as under uvicorn: whoever enters and leaves the block may be
    different tasks (pytest fixtures are), and the lifespan's cancel scopes must open and close in one task.
    """
    started, stop = asyncio.Event(), asyncio.Event()

    async def lifespan() -> None:
        async with app.router.lifespan_context(app):
            started.set()
            await stop.wait()

    task = asyncio.create_task(lifespan(), name="lifespan")
    waiter = asyncio.create_task(started.wait())
    await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
    if not started.is_set():
        waiter.cancel()
        task.result()  # raises the startup failure
    try:
        yield app
    finally:
        stop.set()
        await task
