"""What every service's routes share: the problem responses they declare, the clock and the database."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request

from common.clock import Clock
from common.db import Database

PROBLEMS: dict[int | str, dict[str, Any]] = {
    code: {"description": "problem+json (RFC 9457) with a stable `code`"}
    for code in (401, 403, 404, 409, 422)
}
"""The 4xx answers every route may give, for `APIRouter(responses=PROBLEMS)`."""


async def _clock(request: Request) -> Clock:
    clock: Clock = request.app.state.clock
    return clock


async def _database(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


ClockDep = Annotated[Clock, Depends(_clock)]
DatabaseDep = Annotated[Database, Depends(_database)]
"""The service's database, for a route that runs more than one unit of work (the settle path)."""
