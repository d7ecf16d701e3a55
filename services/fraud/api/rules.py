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
    return rules.rule_families()


@router.get("/rules", response_model=list[RuleOut], summary="Rule instances 规则, by id")
async def list_rules(
    session: DbSession,
    principal: OpsPrincipal,
    family: Annotated[str | None, Query(max_length=40, description="规则类别")] = None,
    enabled: Annotated[bool | None, Query(description="是否启用")] = None,
) -> list[RuleOut]:
    return await rules.list_rules(session, family=family, enabled=enabled)


@router.post(
    "/rules", status_code=201, response_model=RuleOut, summary="Add a rule instance of a family (version 1)"
)
async def create_rule(
    body: RuleIn, session: DbSession, principal: OpsPrincipal, clock: ClockDep, book: RuleBookDep
) -> RuleOut:
    row = await rules.create_rule(session, body, by=principal.client_id, now=clock.now())
    book.invalidate()
    return rules.rule_out(row)


@router.get("/rules/{rule_id}", response_model=RuleOut, summary="A rule instance as it now stands")
async def get_rule(rule_id: RuleId, session: DbSession, principal: OpsPrincipal) -> RuleOut:
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
    row = await rules.update_rule(session, rule_id, body, by=principal.client_id, now=clock.now())
    book.invalidate()
    return rules.rule_out(row)


@router.get(
    "/rules/{rule_id}/versions", response_model=list[RuleVersionOut], summary="Every version, newest first"
)
async def list_versions(rule_id: RuleId, session: DbSession, principal: OpsPrincipal) -> list[RuleVersionOut]:
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
    return await backtests.backtest(session, rule_id, body, max_claims=max_claims)
