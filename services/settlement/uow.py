"""Settlement's unit of work: one transaction with every repository of the service on its session."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from sqlalchemy.ext.asyncio import AsyncSession

from common.uow import UnitOfWork, request_unit_of_work
from settlement.repository.accounts import AccountRepository
from settlement.repository.accumulators import AccumulatorRepository
from settlement.repository.catalogue import CatalogueRepository
from settlement.repository.day_closes import DayCloseRepository
from settlement.repository.deductions import DeductionRepository
from settlement.repository.disbursements import DisbursementRepository
from settlement.repository.fee_lines import FeeLineRepository
from settlement.repository.institutions import InstitutionRepository
from settlement.repository.journal import JournalRepository
from settlement.repository.monthly import MonthlyRepository
from settlement.repository.persons import PersonRepository
from settlement.repository.points import PointsRepository
from settlement.repository.policies import PolicyVersionRepository
from settlement.repository.prepayments import PrepaymentRepository
from settlement.repository.projection import ProjectionRepository
from settlement.repository.reports import ReportRepository
from settlement.repository.settlements import SettlementRepository
from settlement.repository.suspensions import SuspensionRepository
from settlement.repository.trace_codes import TraceCodePolicyRepository
from settlement.repository.visits import VisitRepository


class SettlementUnitOfWork(UnitOfWork):
    """What a settlement use case works with: its repositories, and publish() to the outbox."""

    def bind(self, session: AsyncSession) -> None:
        # One line per repository, e.g. `self.visits = VisitRepository(session)`.
        self.visits = VisitRepository(session)
        self.fee_lines = FeeLineRepository(session)
        self.settlements = SettlementRepository(session)
        self.persons = PersonRepository(session)
        self.accounts = AccountRepository(session)
        self.accumulators = AccumulatorRepository(session)
        self.journal = JournalRepository(session)
        self.institutions = InstitutionRepository(session)
        self.catalogue = CatalogueRepository(session)
        self.policies = PolicyVersionRepository(session)
        self.day_closes = DayCloseRepository(session)
        self.disbursements = DisbursementRepository(session)
        self.months = MonthlyRepository(session)
        self.deductions = DeductionRepository(session)
        self.prepayments = PrepaymentRepository(session)
        self.reports = ReportRepository(session)
        self.projection = ProjectionRepository(session)
        self.points = PointsRepository(session)
        self.suspensions = SuspensionRepository(session)
        self.trace_code_policy = TraceCodePolicyRepository(session)


Uow = Annotated[SettlementUnitOfWork, Depends(request_unit_of_work(SettlementUnitOfWork), scope="function")]
"""The request's unit of work: read-only for GET, committed when the handler returns normally."""
