"""What every fraud route shares: the clock, the database, the rule book, the caller and its scope."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request

from common.clock import Clock
from common.db import Database
from common.principal import Principal, Role, require_principal
from common.principal import ensure_scope as ensure_scope
from fraud.service.rules import RuleBook

PROBLEMS: dict[int | str, dict[str, Any]] = {
    code: {"description": "problem+json (RFC 9457) with a stable `code`"}
    for code in (401, 403, 404, 409, 422)
}


async def _clock(request: Request) -> Clock:
    clock: Clock = request.app.state.clock
    return clock


async def _database(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


async def _rule_book(request: Request) -> RuleBook:
    book: RuleBook = request.app.state.rule_book
    return book


async def _max_claims(request: Request) -> int:
    return int(request.app.state.settings.backtest_max_claims)


ClockDep = Annotated[Clock, Depends(_clock)]
DatabaseDep = Annotated[Database, Depends(_database)]
RuleBookDep = Annotated[RuleBook, Depends(_rule_book)]
BacktestLimit = Annotated[int, Depends(_max_claims)]
InstitutionPrincipal = Annotated[Principal, Depends(require_principal(Role.OPS, Role.HIS, Role.POS))]
"""Bureau staff, or an institution's HIS/POS (which may act only for its own fixmedins_code)."""
