"""Routes of the rule library (规则库): families, instances, versions, backtests."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from common.db import DbSession
from common.principal import OpsPrincipal
from fraud.api.deps import PROBLEMS, BacktestLimit, ClockDep, RuleBookDep
from fraud.schemas.rules import (
    BacktestIn,
    BacktestOut,
    RuleFamilyOut,
    RuleIn,
    RuleOut,
    RuleUpdate,
    RuleVersionOut,
)
from fraud.service import backtest as backtests
from fraud.service import rules

router = APIRouter(tags=["rules 规则库"], responses=PROBLEMS)
RuleId = Annotated[int, Path(ge=1, le=2**62, description="规则ID")]


@router.get(
    "/rule-families",
    response_model=list[RuleFamilyOut],
    summary="The built-in rule families and their parameters",
)
async def list_families(principal: OpsPrincipal) -> list[RuleFamilyOut]:
    """The ten rule families shipped with the service: what each flags and the parameters it takes.

    Each with its parameters (name, type, default, bounds), its default severity and scope, and whether it
    reports fraud or an assistance need. A rule instance is one family with chosen parameters: read this
    before `POST /rules`.
    """
    return rules.rule_families()


@router.get("/rules", response_model=list[RuleOut], summary="Rule instances 规则, by id")
async def list_rules(
    session: DbSession,
    principal: OpsPrincipal,
    family: Annotated[str | None, Query(max_length=40, description="规则类别")] = None,
    enabled: Annotated[bool | None, Query(description="是否启用")] = None,
) -> list[RuleOut]:
    """The rule instances, by id, optionally of one family or only the enabled (or disabled) ones.

    Each as it now stands: version, parameters, severity (info, warn, block), scope (事前 pre, 事中 in, 事后
    post), whether enabled, and whether it was shipped with the service.
    """
    return await rules.list_rules(session, family=family, enabled=enabled)


@router.post(
    "/rules", status_code=201, response_model=RuleOut, summary="Add a rule instance of a family (version 1)"
)
async def create_rule(
    body: RuleIn, session: DbSession, principal: OpsPrincipal, clock: ClockDep, book: RuleBookDep
) -> RuleOut:
    """Add a rule instance of a built-in family, with its parameters, severity and scope; it starts at version 1.

    Parameters are checked against the family's (422 INVALID_RULE_PARAMS; 422 UNKNOWN_RULE_FAMILY for a
    family that does not exist). The real-time review uses it from the next claim on.
    """
    row = await rules.create_rule(session, body, by=principal.client_id, now=clock.now())
    book.invalidate()
    return rules.rule_out(row)


@router.get("/rules/{rule_id}", response_model=RuleOut, summary="A rule instance as it now stands")
async def get_rule(rule_id: RuleId, session: DbSession, principal: OpsPrincipal) -> RuleOut:
    """One rule instance as it now stands: current version, parameters, severity, scope, enabled.

    404 RULE_NOT_FOUND.
    """
    return rules.rule_out(await rules.get_rule(session, rule_id))


@router.put("/rules/{rule_id}", response_model=RuleOut, summary="Edit a rule instance: a new version")
async def update_rule(
    rule_id: RuleId,
    body: RuleUpdate,
    session: DbSession,
    principal: OpsPrincipal,
    clock: ClockDep,
    book: RuleBookDep,
) -> RuleOut:
    """Edit a rule instance (parameters, severity, scope, name, enabled): every edit is a new version.

    Omitted fields keep their value; parameters are checked as on creation. Findings keep naming the version
    that raised them, so an edit never rewrites history. Disable a rule with `enabled: false` rather than
    deleting it. The real-time review uses the new version from the next claim on.
    """
    row = await rules.update_rule(session, rule_id, body, by=principal.client_id, now=clock.now())
    book.invalidate()
    return rules.rule_out(row)


@router.get(
    "/rules/{rule_id}/versions", response_model=list[RuleVersionOut], summary="Every version, newest first"
)
async def list_versions(rule_id: RuleId, session: DbSession, principal: OpsPrincipal) -> list[RuleVersionOut]:
    """Every version of a rule instance, newest first: the audit trail behind the findings that name one.

    Each with its parameters, severity, scope, note, who made it and when. 404 RULE_NOT_FOUND.
    """
    return await rules.list_versions(session, rule_id)


@router.post(
    "/rules/{rule_id}/backtest",
    response_model=BacktestOut,
    response_model_by_alias=True,
    summary="Backtest 回测: what the rule (or new parameters) would flag over past settlements; writes nothing",
)
async def backtest(
    rule_id: RuleId, body: BacktestIn, session: DbSession, principal: OpsPrincipal, max_claims: BacktestLimit
) -> BacktestOut:
    """What a rule (as it stands, or with the parameters given) would have flagged over a date range.

    Runs over the settled, unreversed claims of the range and writes nothing: no finding is raised.

    For tuning a threshold before changing it: compare the hits of the current and the proposed parameters.
    The run covers at most the configured number of claims and says when it stopped short.
    """
    return await backtests.backtest(session, rule_id, body, max_claims=max_claims)
