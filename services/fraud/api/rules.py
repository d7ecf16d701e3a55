"""Routes of the rule library (规则库): families, instances, versions, backtests."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from common.principal import OpsPrincipal
from fraud.api.deps import PROBLEMS, BacktestLimit, ClockDep, RuleBookDep
from fraud.domain.families import FAMILIES
from fraud.domain.params import param_to_json
from fraud.models import Rule, RuleVersion
from fraud.schemas.rules import (
    BacktestIn,
    BacktestOut,
    ParamDoc,
    RuleFamilyOut,
    RuleIn,
    RuleOut,
    RuleUpdate,
    RuleVersionOut,
)
from fraud.service import backtest as backtests
from fraud.service import rules
from fraud.uow import Uow

router = APIRouter(tags=["rules 规则库"], responses=PROBLEMS)
RuleId = Annotated[int, Path(ge=1, le=2**62, description="规则ID")]


def rule_families() -> list[RuleFamilyOut]:
    """Every built-in family with its parameters documented."""
    return [
        RuleFamilyOut(
            family=f.name,
            title=f.title,
            description=f.description,
            category=f.category,
            default_severity=f.severity,
            default_scope=f.scope,
            params=[
                ParamDoc(
                    name=p.name,
                    type=p.kind,
                    default=param_to_json(p.default),
                    minimum=param_to_json(p.minimum),
                    maximum=param_to_json(p.maximum),
                    description=p.description,
                    keys=list(p.keys) if p.kind == "yuan_map" else None,
                )
                for p in f.params
            ],
        )
        for f in FAMILIES.values()
    ]


def rule_out(row: Rule) -> RuleOut:
    return RuleOut(
        rule_id=row.rule_id,
        family=row.family,
        name=row.name,
        version=row.version,
        params=row.params,
        severity=row.severity,
        scope=row.scope,
        enabled=row.enabled,
        category=FAMILIES[row.family].category,
        builtin=row.builtin is not None,
        updated_at=row.updated_at,
        updated_by=row.updated_by,
    )


def version_out(row: RuleVersion) -> RuleVersionOut:
    return RuleVersionOut(
        rule_id=row.rule_id,
        version=row.version,
        name=row.name,
        params=row.params,
        severity=row.severity,
        scope=row.scope,
        enabled=row.enabled,
        note=row.note,
        created_at=row.created_at,
        created_by=row.created_by,
    )


@router.get(
    "/rule-families",
    response_model=list[RuleFamilyOut],
    response_model_exclude_none=True,
    summary="The built-in rule families and their parameters",
)
async def list_families(principal: OpsPrincipal) -> list[RuleFamilyOut]:
    """The rule families shipped with the service: what each flags and the parameters it takes.

    Each with its parameters (name, type, default, bounds), its default severity and scope, and whether it
    reports fraud or an assistance need. A rule instance is one family with chosen parameters: read this
    before `POST /rules`.
    """
    return rule_families()


@router.get("/rules", response_model=list[RuleOut], summary="Rule instances 规则, by id")
async def list_rules(
    uow: Uow,
    principal: OpsPrincipal,
    family: Annotated[str | None, Query(max_length=40, description="规则类别")] = None,
    enabled: Annotated[bool | None, Query(description="是否启用")] = None,
) -> list[RuleOut]:
    """The rule instances, by id, optionally of one family or only the enabled (or disabled) ones.

    Each as it now stands: version, parameters, severity (info, warn, block), scope (事前 pre, 事中 in, 事后
    post), whether enabled, and whether it was shipped with the service.
    """
    return [rule_out(row) for row in await rules.list_rules(uow=uow, family=family, enabled=enabled)]


@router.post(
    "/rules", status_code=201, response_model=RuleOut, summary="Add a rule instance of a family (version 1)"
)
async def create_rule(
    body: RuleIn, uow: Uow, principal: OpsPrincipal, clock: ClockDep, book: RuleBookDep
) -> RuleOut:
    """Add a rule instance of a built-in family, with its parameters, severity and scope; it starts at version 1.

    Parameters are checked against the family's (422 INVALID_RULE_PARAMS; 422 UNKNOWN_RULE_FAMILY for a
    family that does not exist). The real-time review uses it from the next claim on.
    """
    row = await rules.create_rule(uow=uow, body=body, by=principal.client_id, now=clock.now())
    book.invalidate()
    return rule_out(row)


@router.get("/rules/{rule_id}", response_model=RuleOut, summary="A rule instance as it now stands")
async def get_rule(rule_id: RuleId, uow: Uow, principal: OpsPrincipal) -> RuleOut:
    """One rule instance as it now stands: current version, parameters, severity, scope, enabled.

    404 RULE_NOT_FOUND.
    """
    return rule_out(await rules.get_rule(uow=uow, rule_id=rule_id))


@router.put("/rules/{rule_id}", response_model=RuleOut, summary="Edit a rule instance: a new version")
async def update_rule(
    rule_id: RuleId,
    body: RuleUpdate,
    uow: Uow,
    principal: OpsPrincipal,
    clock: ClockDep,
    book: RuleBookDep,
) -> RuleOut:
    """Edit a rule instance (parameters, severity, scope, name, enabled): every edit is a new version.

    Omitted fields keep their value; parameters are checked as on creation. Findings keep naming the version
    that raised them, so an edit never rewrites history. Disable a rule with `enabled: false` rather than
    deleting it. The real-time review uses the new version from the next claim on.
    """
    row = await rules.update_rule(
        uow=uow, rule_id=rule_id, body=body, by=principal.client_id, now=clock.now()
    )
    book.invalidate()
    return rule_out(row)


@router.get(
    "/rules/{rule_id}/versions", response_model=list[RuleVersionOut], summary="Every version, newest first"
)
async def list_versions(rule_id: RuleId, uow: Uow, principal: OpsPrincipal) -> list[RuleVersionOut]:
    """Every version of a rule instance, newest first: the audit trail behind the findings that name one.

    Each with its parameters, severity, scope, note, who made it and when. 404 RULE_NOT_FOUND.
    """
    return [version_out(row) for row in await rules.list_versions(uow=uow, rule_id=rule_id)]


@router.post(
    "/rules/{rule_id}/backtest",
    response_model=BacktestOut,
    response_model_by_alias=True,
    summary="Backtest 回测: what the rule (or new parameters) would flag over past settlements; writes nothing",
)
async def backtest(
    rule_id: RuleId, body: BacktestIn, uow: Uow, principal: OpsPrincipal, max_claims: BacktestLimit
) -> BacktestOut:
    """What a rule (as it stands, or with the parameters given) would have flagged over a date range.

    Runs over the settled, unreversed claims of the range and writes nothing: no finding is raised.

    For tuning a threshold before changing it: compare the hits of the current and the proposed parameters.
    The run covers at most the configured number of claims and says when it stopped short.
    """
    return await backtests.backtest(uow=uow, rule_id=rule_id, body=body, max_claims=max_claims)
