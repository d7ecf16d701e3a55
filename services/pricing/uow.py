"""Pricing's unit of work: one transaction with every repository of the service on its session."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from sqlalchemy.ext.asyncio import AsyncSession, AsyncSessionTransaction

from common.uow import UnitOfWork, request_unit_of_work
from pricing.repository.alerts import AlertRepository
from pricing.repository.drugs import DrugRepository
from pricing.repository.observations import ObservationRepository
from pricing.repository.pharmacies import PharmacyRepository
from pricing.repository.references import ReferenceRepository
from pricing.repository.reversals import ReversalRepository
from pricing.repository.settings import SettingsRepository


class PricingUnitOfWork(UnitOfWork):
    """What a pricing use case works with: its repositories, and publish() to the outbox."""

    def bind(self, session: AsyncSession) -> None:
        self.drugs = DrugRepository(session)
        self.pharmacies = PharmacyRepository(session)
        self.observations = ObservationRepository(session)
        self.references = ReferenceRepository(session)
        self.reversals = ReversalRepository(session)
        self.alerts = AlertRepository(session)
        self.settings = SettingsRepository(session)

    def savepoint(self) -> AsyncSessionTransaction:
        """A nested transaction (`async with`): what runs in it can fail and be retried, leaving no trace."""
        return self.session.begin_nested()


Uow = Annotated[PricingUnitOfWork, Depends(request_unit_of_work(PricingUnitOfWork), scope="function")]
"""The request's unit of work: read-only for GET, committed when the handler returns normally."""
