"""Settlement's unit of work: one transaction with every repository of the service on its session."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from sqlalchemy.ext.asyncio import AsyncSession

from common.uow import UnitOfWork, request_unit_of_work


class SettlementUnitOfWork(UnitOfWork):
    """What a settlement use case works with: its repositories, and publish() to the outbox."""

    def bind(self, session: AsyncSession) -> None:
        # One line per repository, e.g. `self.visits = VisitRepository(session)`.
        pass


Uow = Annotated[SettlementUnitOfWork, Depends(request_unit_of_work(SettlementUnitOfWork), scope="function")]
"""The request's unit of work: read-only for GET, committed when the handler returns normally."""
