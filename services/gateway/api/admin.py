"""Ops endpoints of the gateway itself: issue, list and revoke API keys."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from common.deps import ClockDep, DatabaseDep
from common.errors import Conflict, Forbidden, Unauthorized
from common.principal import Principal, Role
from gateway import signature
from gateway.config import Settings
from gateway.models import ApiClient
from gateway.service import keys
from gateway.service.keys import KeyStore
from gateway.uow import Uow

Scope = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=30, pattern=r"^[0-9A-Za-z]+$")
]
ClientName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


class ClientIn(BaseModel):
    """A new API client (接入方)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"name": "协和医院 HIS", "role": "his", "scope": "H42010200001"}]},
    )

    name: ClientName = Field(description="a unique, human name for the caller")
    role: Role = Field(description="his 医院 | pos 药店 | ops 经办 | public 公众")
    scope: Scope | None = Field(None, description="fixmedins_code of the hospital (his) or pharmacy (pos)")

    @model_validator(mode="after")
    def _scope_matches_role(self) -> ClientIn:
        if self.role in (Role.HIS, Role.POS) and not self.scope:
            raise ValueError("his and pos clients need the scope of their institution")
        if self.role in (Role.OPS, Role.PUBLIC) and self.scope:
            raise ValueError("ops and public clients have no scope")
        return self


class ClientOut(BaseModel):
    client_id: str
    name: str
    role: str
    scope: str | None
    key_prefix: str = Field(description="the public part of the key, to recognise it")
    created_at: datetime
    revoked_at: datetime | None


class IssuedOut(ClientOut):
    api_key: str = Field(description="the key itself: shown this once, never again")
    paas_id: str = Field(
        description="x-tif-paasid of the TIF signature headers, the other way to call (the client_id)"
    )
    pass_token: str = Field(
        description="passToken of the TIF signature headers: x-tif-signature = hex SHA-256 of "
        "timestamp + passToken + nonce + timestamp. Shown this once, never again"
    )


def _out(client: ApiClient) -> dict[str, Any]:
    return {
        "client_id": client.client_id,
        "name": client.name,
        "role": client.role,
        "scope": client.scope,
        "key_prefix": client.key_prefix,
        "created_at": client.created_at,
        "revoked_at": client.revoked_at,
    }


async def caller(request: Request) -> Principal:
    """The API client calling the gateway: a Bearer key, or else the TIF signature headers."""
    # A Bearer key wins when both are sent: clients that already send a key are read exactly as before.
    if not request.headers.get("authorization") and signature.presented(request):
        principal = await signature.signed_caller(request)
    else:
        principal = await _key_holder(request)
    request.state.principal = principal
    return principal


async def _key_holder(request: Request) -> Principal:
    scheme, _, key = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not key:
        raise Unauthorized(
            "An API key is required: Authorization: Bearer <key> (or the x-tif-* signature headers).",
            code="API_KEY_MISSING",
            headers={"WWW-Authenticate": "Bearer"},
        )
    store: KeyStore = request.app.state.keys
    principal = await store.authenticate(key.strip())
    if principal is None:
        raise Unauthorized(
            "The API key is not valid or has been revoked.",
            code="API_KEY_INVALID",
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )
    return principal


async def ops_caller(request: Request) -> Principal:
    principal = await caller(request)
    if principal.role is not Role.OPS:
        raise Forbidden("Only bureau staff (ops) manage API clients.", code="ROLE_FORBIDDEN")
    return principal


Ops = Annotated[Principal, Depends(ops_caller)]
router = APIRouter(prefix="/admin/clients", tags=["API clients 接入方"])


@router.post(
    "",
    status_code=201,
    response_model=IssuedOut,
    responses={409: {"description": "CLIENT_EXISTS: a client with this name exists already"}},
    summary="Issue an API key 发放密钥 and its TIF passToken (shown once)",
)
async def issue(body: ClientIn, request: Request, _ops: Ops, uow: Uow, clock: ClockDep) -> IssuedOut:
    """Register a caller of the platform and issue its API key, shown this once.

    The caller is a hospital's HIS or a pharmacy's POS (scoped to its own institution code), bureau staff
    (ops) or the public site (price comparison only). The key is in this answer and never again: the
    gateway keeps only its SHA-256 hash. Send it as `Authorization: Bearer <key>`. Names are unique (409
    CLIENT_EXISTS). Bureau staff (ops) only.
    """
    issued = await keys.register_client(
        uow=uow, name=body.name, role=body.role, scope=body.scope, now=clock.now()
    )
    settings: Settings = request.app.state.settings
    client_id = issued.client.client_id
    return IssuedOut(
        **_out(issued.client),
        api_key=issued.key,
        paas_id=client_id,
        pass_token=signature.pass_token(settings.pass_token_key(), client_id),
    )


@router.get("", response_model=list[ClientOut], summary="List API clients 接入方列表")
async def list_clients(_ops: Ops, uow: Uow) -> list[ClientOut]:
    """Every API client, newest first; the keys themselves are never shown again.

    Name, role, scope, the key's public prefix (to recognise it), when it was issued and whether it was
    revoked. Bureau staff (ops) only.
    """
    return [ClientOut(**_out(client)) for client in await keys.list_clients(uow=uow)]


@router.post(
    "/{client_id}/revoke",
    response_model=ClientOut,
    responses={
        404: {"description": "CLIENT_NOT_FOUND"},
        409: {"description": "CANNOT_REVOKE_SELF: a client cannot revoke its own key"},
    },
    summary="Revoke an API key 吊销密钥",
)
async def revoke(client_id: str, request: Request, ops: Ops, db: DatabaseDep, clock: ClockDep) -> ClientOut:
    """Revoke a client's API key: its calls are refused with 401 API_KEY_INVALID from then on.

    At once on this gateway, on other replicas within their short key cache. Revoking a revoked client
    answers it unchanged; a client cannot revoke its own key (409 CANNOT_REVOKE_SELF). 404
    CLIENT_NOT_FOUND. Bureau staff (ops) only.
    """
    if client_id == ops.client_id:
        raise Conflict("A client cannot revoke its own key.", code="CANNOT_REVOKE_SELF")
    client = await keys.revoke_client(
        db=db, keys=request.app.state.keys, client_id=client_id, now=clock.now()
    )
    return ClientOut(**_out(client))
