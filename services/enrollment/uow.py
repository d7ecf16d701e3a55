"""Enrollment's unit of work: one transaction with every repository of the service on its session."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from sqlalchemy.ext.asyncio import AsyncSession, AsyncSessionTransaction

from common.uow import UnitOfWork, request_unit_of_work
from enrollment.repository.claims import ClaimSettlementRepository, ClaimYearRepository
from enrollment.repository.contributions import ContributionRepository
from enrollment.repository.coverages import CoverageRepository, SuspensionRepository
from enrollment.repository.families import FamilyRepository
from enrollment.repository.persons import PersonRepository


class EnrollmentUnitOfWork(UnitOfWork):
    """What an enrollment use case works with: its repositories, and publish() to the outbox."""

    def bind(self, session: AsyncSession) -> None:
        self.persons = PersonRepository(session)
        self.coverages = CoverageRepository(session)
        self.suspensions = SuspensionRepository(session)
        self.contributions = ContributionRepository(session)
        self.families = FamilyRepository(session)
        self.claim_years = ClaimYearRepository(session)
        self.claim_settlements = ClaimSettlementRepository(session)

    def savepoint(self) -> AsyncSessionTransaction:
        """A nested transaction, so one item of a bulk load can fail and leave no trace (`async with`)."""
        return self.session.begin_nested()


Uow = Annotated[EnrollmentUnitOfWork, Depends(request_unit_of_work(EnrollmentUnitOfWork), scope="function")]
"""The request's unit of work: read-only for GET, committed when the handler returns normally."""
