"""What every pricing route shares: the clock, the database, the caller and its scope."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request

from common.clock import Clock
from common.principal import Principal, Role, require_principal
from common.principal import ensure_scope as ensure_scope

PROBLEMS: dict[int | str, dict[str, Any]] = {
    code: {"description": "problem+json (RFC 9457) with a stable `code`"}
    for code in (401, 403, 404, 409, 422)
}


async def _clock(request: Request) -> Clock:
    clock: Clock = request.app.state.clock
    return clock


ClockDep = Annotated[Clock, Depends(_clock)]

PharmacyPrincipal = Annotated[Principal, Depends(require_principal(Role.OPS, Role.POS))]
"""Bureau staff, or a pharmacy's POS (which may act only for its own fixmedins_code)."""

AnyPrincipal = Annotated[Principal, Depends(require_principal(Role.OPS, Role.POS, Role.HIS, Role.PUBLIC))]
"""Anyone the gateway lets through, the public included (comparison and drug search only)."""
