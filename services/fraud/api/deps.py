"""What every fraud route shares: the problems it declares, the clock, the rule book, the caller and its scope."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from common.deps import PROBLEMS as PROBLEMS
from common.deps import ClockDep as ClockDep
from common.deps import DatabaseDep as DatabaseDep
from common.principal import Principal, Role, require_principal
from common.principal import ensure_scope as ensure_scope
from fraud.service.rules import RuleBook


async def _rule_book(request: Request) -> RuleBook:
    book: RuleBook = request.app.state.rule_book
    return book


async def _max_claims(request: Request) -> int:
    return int(request.app.state.settings.backtest_max_claims)


RuleBookDep = Annotated[RuleBook, Depends(_rule_book)]
BacktestLimit = Annotated[int, Depends(_max_claims)]
InstitutionPrincipal = Annotated[Principal, Depends(require_principal(Role.OPS, Role.HIS, Role.POS))]
"""Bureau staff, or an institution's HIS/POS (which may act only for its own fixmedins_code)."""


def listing_scope(principal: Principal, fixmedins_code: str | None) -> str | None:
    """The institution a list is for: an institution's client sees only its own (another's code: 403)."""
    if principal.role is not Role.OPS:
        fixmedins_code = fixmedins_code or principal.scope or ""
    if fixmedins_code is not None:
        ensure_scope(principal, fixmedins_code)
    return fixmedins_code
