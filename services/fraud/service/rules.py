"""The rule library: families, rule instances and their versions, the defaults shipped, the active set."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi import FastAPI
from sqlalchemy.exc import IntegrityError

from common.clock import Clock
from common.db import Database
from common.errors import NotFound, Unprocessable
from fraud.domain.families import FAMILIES, Family
from fraud.domain.params import InvalidParams, ParamValue, params_to_json, validate_params
from fraud.models import Rule, RuleVersion
from fraud.schemas.rules import RuleIn, RuleUpdate
from fraud.uow import FraudUnitOfWork

SYSTEM = "fraud-service"


@dataclass(frozen=True, slots=True)
class ActiveRule:
    """An enabled rule instance, ready to run: its family's check with its parameters parsed."""

    rule_id: int
    version: int
    family: Family
    params: dict[str, ParamValue]
    severity: str
    scope: str


def family_named(name: str) -> Family:
    family = FAMILIES.get(name)
    if family is None:
        raise Unprocessable(
            f"No rule family {name!r}; GET /rule-families lists them.", code="UNKNOWN_RULE_FAMILY"
        )
    return family


def validated_params(
    family: Family, raw: dict[str, Any], base: dict[str, ParamValue] | None
) -> dict[str, Any]:
    try:
        return params_to_json(validate_params(family.params, raw, base=base))
    except InvalidParams as exc:
        raise Unprocessable(
            f"Invalid parameters for {family.name}: {exc}", code="INVALID_RULE_PARAMS", problems=exc.problems
        ) from exc


def parsed_params(family: Family, stored: dict[str, Any]) -> dict[str, ParamValue]:
    """Stored parameters back as numbers (what was stored was validated; defaults fill new parameters)."""
    return validate_params(
        family.params, {k: v for k, v in stored.items() if k in {p.name for p in family.params}}
    )


def _version_of(row: Rule, *, note: str | None, by: str, now: datetime) -> RuleVersion:
    return RuleVersion(
        rule_id=row.rule_id,
        version=row.version,
        name=row.name,
        params=row.params,
        severity=row.severity,
        scope=row.scope,
        enabled=row.enabled,
        note=note,
        created_at=now,
        created_by=by,
    )


async def create_rule(*, uow: FraudUnitOfWork, body: RuleIn, by: str, now: datetime) -> Rule:
    """A new rule instance of a family, version 1; its parameters checked against the family's schema."""
    family = family_named(body.family)
    row = Rule(
        family=family.name,
        name=body.name or family.title,
        version=1,
        params=validated_params(family, body.params, None),
        severity=body.severity or family.severity,
        scope=body.scope or family.scope,
        enabled=body.enabled,
        builtin=None,
        created_at=now,
        updated_at=now,
        updated_by=by,
    )
    uow.rules.add(row)
    await uow.rules.flush()
    uow.rules.add_version(_version_of(row, note=body.note, by=by, now=now))
    await uow.rules.flush()
    return row


async def get_rule(*, uow: FraudUnitOfWork, rule_id: int, for_update: bool = False) -> Rule:
    """The rule instance as it now stands; 404 RULE_NOT_FOUND."""
    row = await uow.rules.get(rule_id, for_update=for_update)
    if row is None:
        raise NotFound(f"No rule {rule_id}.", code="RULE_NOT_FOUND")
    return row


async def update_rule(
    *, uow: FraudUnitOfWork, rule_id: int, body: RuleUpdate, by: str, now: datetime
) -> Rule:
    """An edit: the next version, kept beside the earlier ones (hits name the version they ran)."""
    row = await get_rule(uow=uow, rule_id=rule_id, for_update=True)
    family = FAMILIES[row.family]
    params = row.params
    if body.params is not None:
        params = validated_params(family, body.params, parsed_params(family, row.params))
    row.params = params
    row.name = body.name or row.name
    row.severity = body.severity or row.severity
    row.scope = body.scope or row.scope
    if body.enabled is not None:
        row.enabled = body.enabled
    row.version += 1
    row.updated_at, row.updated_by = now, by
    uow.rules.add_version(_version_of(row, note=body.note, by=by, now=now))
    await uow.rules.flush()
    return row


async def list_rules(*, uow: FraudUnitOfWork, family: str | None, enabled: bool | None) -> Sequence[Rule]:
    """The rule instances by id, of a family and enabled (or not) when asked."""
    return await uow.rules.listed(family=family, enabled=enabled)


async def list_versions(*, uow: FraudUnitOfWork, rule_id: int) -> Sequence[RuleVersion]:
    """Every version of a rule instance, newest first; 404 RULE_NOT_FOUND."""
    await get_rule(uow=uow, rule_id=rule_id)
    return await uow.rules.versions(rule_id)


async def load_active_rules(*, uow: FraudUnitOfWork, scopes: Iterable[str]) -> list[ActiveRule]:
    """The enabled rule instances of the given scopes, in id order."""
    active = []
    for rule_id, version, name, params, severity, scope in await uow.rules.enabled_in(scopes):
        family = FAMILIES.get(name)
        if family is not None:
            active.append(
                ActiveRule(rule_id, version, family, parsed_params(family, params), severity, scope)
            )
    return active


class RuleBook:
    """The active pre/in rules, cached briefly: the review path's budget has no room for reading them each time.

    A rule edited on this replica is seen at once (the cache is dropped); on other replicas within `ttl_s`.
    """

    def __init__(self, *, ttl_s: float) -> None:
        self.ttl_s = ttl_s
        self._rules: list[ActiveRule] | None = None
        self._post: tuple[float, list[ActiveRule]] | None = None
        self._loaded = 0.0
        self._lock = asyncio.Lock()

    def invalidate(self) -> None:
        self._rules = None
        self._post = None

    async def post_rules(self, uow: FraudUnitOfWork) -> list[ActiveRule]:
        """The active post rules, read on the caller's unit of work when the cache is stale."""
        post = self._post
        if post is not None and time.monotonic() - post[0] < self.ttl_s:
            return post[1]
        rules = await load_active_rules(uow=uow, scopes=("post",))
        self._post = (time.monotonic(), rules)
        return rules

    async def realtime_rules(self, db: Database) -> list[ActiveRule]:
        rules = self._rules
        if rules is not None and time.monotonic() - self._loaded < self.ttl_s:
            return rules
        async with self._lock:
            # A local, not the attribute: an edit may invalidate the cache while this load is under way.
            rules = self._rules
            if rules is None or time.monotonic() - self._loaded >= self.ttl_s:
                async with FraudUnitOfWork(db, readonly=True) as uow:
                    rules = await load_active_rules(uow=uow, scopes=("pre", "in"))
                self._rules, self._loaded = rules, time.monotonic()
            return rules


async def ensure_default_rules(*, db: Database, now: datetime) -> int:
    """Ship one enabled instance of every family with the defaults of DESIGN §7 (idempotent; replica-safe)."""
    created = 0
    for family in FAMILIES.values():
        try:
            async with FraudUnitOfWork(db) as uow:
                if await uow.rules.builtin(family.name) is not None:
                    continue
                row = Rule(
                    family=family.name,
                    name=family.title,
                    version=1,
                    params=params_to_json({p.name: p.default for p in family.params}),
                    severity=family.severity,
                    scope=family.scope,
                    enabled=True,
                    builtin=family.name,
                    created_at=now,
                    updated_at=now,
                    updated_by=SYSTEM,
                )
                uow.rules.add(row)
                await uow.rules.flush()
                uow.rules.add_version(
                    _version_of(row, note="shipped default 系统默认规则", by=SYSTEM, now=now)
                )
            created += 1
        except IntegrityError:
            continue  # another replica shipped it first
    return created


def default_rules_resource(clock: Clock) -> Any:
    """A lifespan resource: the shipped rules exist before the service takes traffic."""

    @asynccontextmanager
    async def resource(app: FastAPI) -> AsyncIterator[None]:
        await ensure_default_rules(db=app.state.db, now=clock.now())
        yield

    return resource
