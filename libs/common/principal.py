"""The signed internal principal: who the gateway says is calling, in an HMAC-SHA256 signed header."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from fastapi import Depends, Request

from common.errors import Forbidden, Unauthorized

PRINCIPAL_HEADER = "X-Internal-Principal"
SIGNATURE_HEADER = "X-Internal-Signature"


class Role(StrEnum):
    HIS = "his"  # a hospital's HIS, scoped to one fixmedins_code
    POS = "pos"  # a pharmacy's POS, scoped to one pharmacy code
    OPS = "ops"  # bureau staff, all data
    PUBLIC = "public"  # price comparison only


@dataclass(frozen=True, slots=True)
class Principal:
    client_id: str
    role: Role
    scope: str | None = None

    def may_act_for(self, fixmedins_code: str) -> bool:
        """Whether this caller may see or write the data of the given institution."""
        return self.role is Role.OPS or (self.role in (Role.HIS, Role.POS) and self.scope == fixmedins_code)


def _mac(secret: str, method: str, path: str, payload: str) -> str:
    message = f"{method.upper()}\n{path}\n{payload}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def sign_principal(
    principal: Principal, *, secret: str, method: str, path: str, now: datetime
) -> dict[str, str]:
    """Headers that carry `principal` for one request (method and path are part of the signature)."""
    claims = {
        "sub": principal.client_id,
        "role": principal.role.value,
        "scope": principal.scope,
        "iat": int(now.timestamp()),
    }
    payload = base64.urlsafe_b64encode(json.dumps(claims, separators=(",", ":")).encode()).decode()
    return {PRINCIPAL_HEADER: payload, SIGNATURE_HEADER: _mac(secret, method, path, payload)}


def verify_principal(
    headers: Mapping[str, str], *, secret: str, method: str, path: str, now: datetime, max_age_s: int
) -> Principal:
    """The principal of a request, or Unauthorized if the header is missing, forged, stale or malformed."""
    payload = headers.get(PRINCIPAL_HEADER)
    signature = headers.get(SIGNATURE_HEADER)
    if not payload or not signature:
        raise Unauthorized(
            "This service only answers requests that come through the gateway.", code="PRINCIPAL_MISSING"
        )
    if not hmac.compare_digest(_mac(secret, method, path, payload), signature):
        raise Unauthorized("The internal principal's signature is invalid.", code="PRINCIPAL_INVALID")
    try:
        claims: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload.encode()))
        principal = Principal(
            client_id=str(claims["sub"]), role=Role(claims["role"]), scope=claims.get("scope")
        )
        issued_at = int(claims["iat"])
    except (ValueError, KeyError, TypeError) as exc:
        raise Unauthorized("The internal principal is malformed.", code="PRINCIPAL_INVALID") from exc
    if abs(now.timestamp() - issued_at) > max_age_s:
        raise Unauthorized("The internal principal has expired.", code="PRINCIPAL_EXPIRED")
    return principal


def ensure_scope(principal: Principal, fixmedins_code: str) -> None:
    """403 SCOPE_FORBIDDEN unless the caller may see or write this institution's data."""
    if not principal.may_act_for(fixmedins_code):
        raise Forbidden(
            f"This client may only act for institution {principal.scope}, not {fixmedins_code}.",
            code="SCOPE_FORBIDDEN",
        )


def require_principal(*roles: Role) -> Callable[[Request], Awaitable[Principal]]:
    """A dependency that verifies the signed principal and, if roles are given, requires one of them."""
    allowed = frozenset(roles)

    # async on purpose: FastAPI runs a plain `def` dependency in a worker thread, a hop on every request.
    async def dependency(request: Request) -> Principal:
        settings = request.app.state.settings
        principal = verify_principal(
            request.headers,
            secret=settings.internal_secret,
            method=request.method,
            path=request.scope["path"],  # decoded, as the gateway signed it (url.path would split at "?")
            now=request.app.state.clock.now(),
            max_age_s=settings.principal_max_age_s,
        )
        if allowed and principal.role not in allowed:
            raise Forbidden(
                f"The role '{principal.role.value}' may not call this operation.", code="ROLE_FORBIDDEN"
            )
        return principal

    return dependency


OpsPrincipal = Annotated[Principal, Depends(require_principal(Role.OPS))]
"""A route parameter that admits bureau staff (ops) only."""
