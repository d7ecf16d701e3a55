"""API keys: issued once, stored as a SHA-256 hash, looked up by their public prefix, cached briefly."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import re
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy.exc import IntegrityError

from common.db import Database
from common.errors import Conflict, NotFound
from common.principal import Principal, Role
from gateway.models import ApiClient
from gateway.uow import GatewayUnitOfWork

log = logging.getLogger("gateway.keys")
_KEY = re.compile(r"^ybj_([0-9a-f]{8})_([A-Za-z0-9_-]{32})$")
_CLIENT_ID = re.compile(r"^cli_[0-9a-f]{16}$")
BOOTSTRAP_NAME = "bootstrap-ops"
BOOTSTRAP_FILE = "bootstrap-ops-key"


@dataclass(frozen=True)
class IssuedKey:
    client: ApiClient
    key: str  # shown once, never stored


def _hash(key: str) -> str:
    # Keys carry 192 random bits: a fast hash is enough, a slow KDF would only slow every request.
    return hashlib.sha256(key.encode()).hexdigest()


async def issue_key(
    *, uow: GatewayUnitOfWork, name: str, role: Role, scope: str | None, now: datetime
) -> IssuedKey:
    """A new client with a fresh key; the key is returned once and only its hash is kept."""
    prefix, secret = secrets.token_hex(4), secrets.token_urlsafe(24)
    key = f"ybj_{prefix}_{secret}"
    client = ApiClient(
        client_id="cli_" + secrets.token_hex(8),
        name=name,
        role=role.value,
        scope=scope,
        key_prefix=prefix,
        key_hash=_hash(key),
        created_at=now,
        revoked_at=None,
    )
    uow.clients.add(client)
    await uow.clients.flush()
    return IssuedKey(client, key)


async def register_client(
    *, uow: GatewayUnitOfWork, name: str, role: Role, scope: str | None, now: datetime
) -> IssuedKey:
    """A new API client with its key (shown once); 409 CLIENT_EXISTS for a name taken."""
    try:
        return await issue_key(uow=uow, name=name, role=role, scope=scope, now=now)
    except IntegrityError as exc:
        raise Conflict("A client with this name exists already.", code="CLIENT_EXISTS") from exc


async def list_clients(*, uow: GatewayUnitOfWork) -> Sequence[ApiClient]:
    """Every API client, newest first."""
    return await uow.clients.newest_first()


async def revoke_client(*, db: Database, keys: KeyStore, client_id: str, now: datetime) -> ApiClient:
    """Revoke a client's key (a revoked one stays as it is), then drop it from this replica's cache."""
    # Its own unit of work: the cache is dropped once the revocation is committed, so no request in between
    # can cache the key as still valid.
    async with GatewayUnitOfWork(db) as uow:
        client = await uow.clients.get(client_id, for_update=True)
        if client is None:
            raise NotFound("No such API client.", code="CLIENT_NOT_FOUND")
        if client.revoked_at is None:
            client.revoked_at = now
    keys.forget(client_id)
    return client


class KeyStore:
    """Authenticates bearer keys against the database, with a short cache so most requests touch no table."""

    def __init__(self, db: Database, *, cache_s: float) -> None:
        self.db = db
        self.cache_s = cache_s
        self._cache: dict[str, tuple[float, Principal | None]] = {}

    def forget(self, client_id: str) -> None:
        """Drop a client from the cache at once (revocation in this process; others within cache_s)."""
        self._cache = {k: v for k, v in self._cache.items() if v[1] is None or v[1].client_id != client_id}

    async def authenticate(self, key: str) -> Principal | None:
        match = _KEY.match(key)
        if not match:
            return None
        digest = _hash(key)
        cached = self._cache.get(digest)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        async with GatewayUnitOfWork(self.db, readonly=True) as uow:
            client = await uow.clients.by_key_prefix(match[1])
        principal = None
        if client is not None and client.revoked_at is None and hmac.compare_digest(client.key_hash, digest):
            principal = Principal(client_id=client.client_id, role=Role(client.role), scope=client.scope)
        self._remember(digest, principal)
        return principal

    async def client(self, client_id: str) -> Principal | None:
        """The active client with this id (the paasid of signed requests), cached like keys."""
        if not _CLIENT_ID.match(client_id):
            return None
        entry = f"client:{client_id}"
        cached = self._cache.get(entry)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        async with GatewayUnitOfWork(self.db, readonly=True) as uow:
            client = await uow.clients.get(client_id)
        principal = None
        if client is not None and client.revoked_at is None:
            principal = Principal(client_id=client.client_id, role=Role(client.role), scope=client.scope)
        self._remember(entry, principal)
        return principal

    def _remember(self, entry: str, principal: Principal | None) -> None:
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[entry] = (time.monotonic() + self.cache_s, principal)


def _write_secret(path: Path, key: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.chmod(0o600)
    path.write_text(key + "\n")


async def ensure_bootstrap_key(*, db: Database, var_dir: Path, now: datetime) -> Path | None:
    """On a fresh install, issue an ops key and write it to var/bootstrap-ops-key (mode 600), once."""
    try:
        async with GatewayUnitOfWork(db) as uow:
            if await uow.clients.count_with_role(Role.OPS.value):
                return None
            issued = await issue_key(uow=uow, name=BOOTSTRAP_NAME, role=Role.OPS, scope=None, now=now)
    except IntegrityError:
        return None  # another replica did it a moment ago
    path = var_dir / BOOTSTRAP_FILE
    await asyncio.to_thread(_write_secret, path, issued.key)
    log.warning("fresh install: a bootstrap ops API key was written to %s", path)
    return path
