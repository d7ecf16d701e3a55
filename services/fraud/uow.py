"""Fraud's unit of work: one transaction with every repository of the service on its session."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from sqlalchemy.ext.asyncio import AsyncSession

from common.uow import UnitOfWork, request_unit_of_work
from fraud.repository.cases import CaseRepository
from fraud.repository.catalog import CatalogLimitRepository
from fraud.repository.claims import ClaimRepository
from fraud.repository.findings import FindingRepository
from fraud.repository.institutions import InstitutionMonthRepository, WarningRepository
from fraud.repository.persons import PersonFactRepository
from fraud.repository.practitioners import PractitionerRepository
from fraud.repository.rules import RuleRepository
from fraud.repository.tracecodes import TraceCodeRepository


class FraudUnitOfWork(UnitOfWork):
    """What a fraud use case works with: its repositories, and publish() to the outbox."""

    rules: RuleRepository
    findings: FindingRepository
    claims: ClaimRepository
    persons: PersonFactRepository
    catalog: CatalogLimitRepository
    institution_months: InstitutionMonthRepository
    warnings: WarningRepository
    cases: CaseRepository
    practitioners: PractitionerRepository
    tracecodes: TraceCodeRepository

    def bind(self, session: AsyncSession) -> None:
        self.rules = RuleRepository(session)
        self.findings = FindingRepository(session)
        self.claims = ClaimRepository(session)
        self.persons = PersonFactRepository(session)
        self.catalog = CatalogLimitRepository(session)
        self.institution_months = InstitutionMonthRepository(session)
        self.warnings = WarningRepository(session)
        self.cases = CaseRepository(session)
        self.practitioners = PractitionerRepository(session)
        self.tracecodes = TraceCodeRepository(session)


Uow = Annotated[FraudUnitOfWork, Depends(request_unit_of_work(FraudUnitOfWork), scope="function")]
"""The request's unit of work: read-only for GET, committed when the handler returns normally."""
