"""The gateway's unit of work: one transaction with every repository of the gateway on its session."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from sqlalchemy.ext.asyncio import AsyncSession

from common.uow import UnitOfWork, request_unit_of_work
from gateway.repository.clients import ApiClientRepository
from gateway.repository.messages import NationalMessageRepository
from gateway.repository.sign_ins import SignInRepository


class GatewayUnitOfWork(UnitOfWork):
    """What a gateway use case works with: API clients, stored national messages, sign-ins."""

    clients: ApiClientRepository
    messages: NationalMessageRepository
    sign_ins: SignInRepository

    def bind(self, session: AsyncSession) -> None:
        self.clients = ApiClientRepository(session)
        self.messages = NationalMessageRepository(session)
        self.sign_ins = SignInRepository(session)


Uow = Annotated[GatewayUnitOfWork, Depends(request_unit_of_work(GatewayUnitOfWork), scope="function")]
"""The request's unit of work: read-only for GET, committed when the handler returns normally."""
