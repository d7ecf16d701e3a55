"""Fraud's unit of work: one transaction with every repository of the service on its session."""

from __future__ import annotations

from typing import Annotated, Self

from fastapi import Depends
from sqlalchemy.ext.asyncio import AsyncSession

from common.uow import UnitOfWork, request_unit_of_work
from fraud.repository.catalog import CatalogLimitRepository
from fraud.repository.claims import ClaimRepository
from fraud.repository.findings import FindingRepository
from fraud.repository.persons import PersonFactRepository
from fraud.repository.rules import RuleRepository


class FraudUnitOfWork(UnitOfWork):
    """What a fraud use case works with: its repositories, and publish() to the outbox."""

    rules: RuleRepository
    findings: FindingRepository
    claims: ClaimRepository
    persons: PersonFactRepository
    catalog: CatalogLimitRepository

    def bind(self, session: AsyncSession) -> None:
        self.rules = RuleRepository(session)
        self.findings = FindingRepository(session)
        self.claims = ClaimRepository(session)
        self.persons = PersonFactRepository(session)
        self.catalog = CatalogLimitRepository(session)

    @classmethod
    def joining(cls, session: AsyncSession) -> Self:
        """A unit of work on a transaction someone else owns: the consumer runner's, for a consumed event.

        The runner opens that transaction, writes the inbox row in it and commits after the handler (then
        acks), so this one is never entered (`async with`): it lends the repositories and publish() only.
        """
        uow = cls.__new__(cls)
        uow.readonly, uow._transaction, uow._session = False, None, session
        uow.bind(session)
        return uow


Uow = Annotated[FraudUnitOfWork, Depends(request_unit_of_work(FraudUnitOfWork), scope="function")]
"""The request's unit of work: read-only for GET, committed when the handler returns normally."""
