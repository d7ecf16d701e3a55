"""The unit of work: one transaction of a use case, its repositories, and the events it publishes.

Every use case of every service takes a unit of work and nothing else of the database:

    async with SettlementUnitOfWork(db) as uow:          # BEGIN (BEGIN IMMEDIATE on SQLite)
        visit = await uow.visits.get_for_update(mdtrt_id)   # repositories query and flush, never commit
        ...
        await uow.publish(event)                          # an outbox row in the same transaction
    # the block ended normally: COMMIT, and the outbox relay is woken; an exception: ROLLBACK

A request handler gets one from `request_unit_of_work(...)` (read-only for GET/HEAD/OPTIONS), a consumer from the
runner, a CLI or a test builds one directly. `ReadOnly` variants never write and never take write locks.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from types import TracebackType
from typing import Self, TypeVar

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncSession

from common.db import Database
from common.events.envelope import EventEnvelope
from common.events.outbox import add_events

_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class UnitOfWork:
    """One transaction. Subclasses add their repositories in `bind(session)`."""

    def __init__(self, db: Database, *, readonly: bool = False) -> None:
        self.db = db
        self.readonly = readonly
        self._transaction: AbstractAsyncContextManager[AsyncSession] | None = None
        self._session: AsyncSession | None = None

    @classmethod
    def within(cls, session: AsyncSession) -> Self:
        """A unit of work inside a transaction its caller owns (the consumer runner's): it never commits.

        Not opened with `async with`: the runner commits the event's inbox row, the use case's writes and
        its outbox rows together, or rolls them all back.
        """
        uow = cls.__new__(cls)
        uow.db = None  # type: ignore[assignment]
        uow.readonly = False
        uow._transaction = None
        uow._session = session
        uow.bind(session)
        return uow

    @property
    def session(self) -> AsyncSession:
        """The transaction's session, for the repositories (use cases never touch it)."""
        if self._session is None:
            raise RuntimeError("the unit of work is not open: use `async with`")
        return self._session

    def bind(self, session: AsyncSession) -> None:
        """Create the repositories on the session; called once the transaction is open."""

    async def __aenter__(self) -> Self:
        if self._transaction is not None:
            raise RuntimeError("a unit of work is opened once")
        self._transaction = self.db.transaction(readonly=self.readonly)
        self._session = await self._transaction.__aenter__()
        self.bind(self._session)
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        assert self._transaction is not None
        try:
            await self._transaction.__aexit__(kind, error, trace)
        finally:
            self._session = None

    async def publish(self, *events: EventEnvelope, defer: bool = False) -> None:
        """Write events to the outbox in this transaction: they go out only if it commits.

        `defer`: written with the transaction's other deferred writes (common.db.DeferredWrites).
        """
        if self.readonly:
            raise RuntimeError("a read-only unit of work publishes nothing")
        await add_events(self.session, events, defer=defer)

    async def publish_all(self, events: Sequence[EventEnvelope]) -> None:
        await self.publish(*events)

    async def flush(self) -> None:
        await self.session.flush()


U = TypeVar("U", bound=UnitOfWork)


def request_unit_of_work(factory: Callable[..., U]) -> Callable[[Request], AsyncIterator[U]]:
    """A FastAPI dependency giving the request its unit of work, committed when the handler returns normally.

    Read-only for GET, HEAD and OPTIONS. Declare it with scope "function", so it closes before the response
    is sent and a failed commit becomes an error response instead of a success the database never kept:

        Uow = Annotated[PricingUnitOfWork, Depends(request_unit_of_work(PricingUnitOfWork), scope="function")]
    """

    async def dependency(request: Request) -> AsyncIterator[U]:
        db: Database = request.app.state.db
        async with factory(db, readonly=request.method in _SAFE_METHODS) as uow:
            yield uow

    return dependency
