"""A small app on the common foundation, to test what every service inherits."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, ClassVar

import sqlalchemy as sa
from fastapi import APIRouter, Depends, FastAPI
from pydantic import BaseModel

from common.app import create_service_app
from common.clock import Clock
from common.config import AppEnv, ServiceSettings
from common.db import DbSession
from common.errors import Conflict
from common.events.envelope import new_event
from common.events.outbox import add_event
from common.events.tables import outbox_event
from common.money import Yuan
from common.principal import Principal, Role, require_principal


class ScratchSettings(ServiceSettings):
    service_name: ClassVar[str] = "scratch"
    default_port: ClassVar[int] = 8099


class Kind(StrEnum):
    OUTPATIENT = "outpatient"
    INPATIENT = "inpatient"


class ThingIn(BaseModel):
    amount: Yuan
    kind: Kind
    count: int


def scratch_router(clock: Clock) -> APIRouter:
    router = APIRouter()

    @router.post("/things/{thing_id}", status_code=201)
    async def create_thing(
        thing_id: int,
        body: ThingIn,
        session: DbSession,
        principal: Annotated[Principal, Depends(require_principal(Role.OPS, Role.HIS))],
        conflict: bool = False,
    ) -> dict[str, object]:
        await add_event(
            session,
            new_event(
                type="scratch.thing.created",
                source="scratch",
                subject=str(thing_id),
                data={"amount": str(body.amount)},
                clock=clock,
            ),
        )
        if conflict:
            raise Conflict("That thing exists already.", code="THING_EXISTS", existing_id=thing_id)
        return {"thing_id": thing_id, "amount": body.amount, "by": principal.client_id}

    @router.get("/things/count")
    async def count_things(session: DbSession) -> dict[str, int]:
        total = await session.scalar(sa.select(sa.func.count()).select_from(outbox_event))
        return {"count": int(total or 0)}

    @router.get("/boom")
    async def boom() -> None:
        raise RuntimeError("a bug, with certno 420102199003071234 in its message")

    return router


def scratch_app(*, database_url: str, nats_url: str, clock: Clock, **overrides: object) -> FastAPI:
    settings = ScratchSettings(
        database_url=database_url, nats_url=nats_url, app_env=AppEnv.TEST, relay_enabled=False, **overrides
    )
    return create_service_app(
        settings=settings,
        title="scratch",
        description="test app",
        routers=[scratch_router(clock)],
        clock=clock,
    )
