"""What every settlement route shares: the clock, the database, the caller and its scope."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request

from common.clock import Clock
from common.db import Database
from common.principal import Principal, Role, require_principal
from common.principal import ensure_scope as ensure_scope

PROBLEMS: dict[int | str, dict[str, Any]] = {
    code: {"description": "problem+json (RFC 9457) with a stable `code`"}
    for code in (401, 403, 404, 409, 422)
}


async def _clock(request: Request) -> Clock:
    clock: Clock = request.app.state.clock
    return clock


async def _database(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


ClockDep = Annotated[Clock, Depends(_clock)]
DatabaseDep = Annotated[Database, Depends(_database)]
"""The service's database, for routes that run more than one transaction (the settle path)."""

InstitutionPrincipal = Annotated[Principal, Depends(require_principal(Role.OPS, Role.HIS, Role.POS))]
"""Bureau staff, or an institution's HIS/POS (which may act only for its own fixmedins_code)."""
