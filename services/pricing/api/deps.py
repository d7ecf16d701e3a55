"""What every pricing route shares: the clock, the database, the caller and its scope."""

from __future__ import annotations

import base64
from typing import Annotated, Any

from fastapi import Depends, Request

from common.clock import Clock
from common.errors import BadRequest, Forbidden
from common.principal import Principal, Role, require_principal

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


def ensure_scope(principal: Principal, fixmedins_code: str) -> None:
    """403 unless the caller may see or write this pharmacy's data."""
    if not principal.may_act_for(fixmedins_code):
        raise Forbidden(
            f"This client may only act for institution {principal.scope}, not {fixmedins_code}.",
            code="SCOPE_FORBIDDEN",
        )


def encode_cursor(value: str) -> str:
    return base64.urlsafe_b64encode(value.encode()).decode()


def decode_cursor(cursor: str) -> str:
    try:
        value = base64.b64decode(cursor.encode(), altchars=b"-_", validate=True).decode()
    except ValueError as exc:
        raise BadRequest("The cursor is not one this API gave out.", code="INVALID_CURSOR") from exc
    if not value:
        raise BadRequest("The cursor is not one this API gave out.", code="INVALID_CURSOR")
    return value
