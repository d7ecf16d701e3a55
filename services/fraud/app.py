"""The fraud app: 智能监控规则库 — the rule library, real-time review, post-event rules, findings."""

from __future__ import annotations

from fastapi import FastAPI

from common.app import create_service_app
from common.clock import Clock, SystemClock
from fraud.api import routers
from fraud.config import Settings
from fraud.events import subscriptions
from fraud.service.review import responder
from fraud.service.rules import RuleBook, default_rules_resource

DESCRIPTION = (
    "智能监控规则库 — the rule library: ten built-in rule families (GET /rule-families), rule instances with "
    "validated parameters, severity, scope and versions; the real-time review (事前/事中) by `POST /reviews` and "
    "the NATS request/reply `fraud.review` that settlement asks before it settles; post-event rules over the "
    "projected claim history (事后); findings (疑点) confirmed with an amount to recover — which settlement "
    "deducts in the month reconciliation — or dismissed; backtests of a rule over past settlements. The "
    "high-burden monitor is reported in the category `assistance`, for the medical assistance office, not as fraud."
)


def create_app(settings: Settings | None = None, *, clock: Clock | None = None) -> FastAPI:
    """The fraud service as an ASGI app (uvicorn's factory)."""
    settings = settings or Settings()
    clock = clock or SystemClock()
    book = RuleBook(ttl_s=settings.rule_cache_s)
    app = create_service_app(
        settings=settings,
        title="Fraud 智能监控规则库",
        description=DESCRIPTION,
        routers=routers(),
        subscriptions=subscriptions(clock=clock, book=book),
        workers=[responder] if settings.review_responder else [],
        resources=[default_rules_resource(clock)],
        clock=clock,
    )
    app.state.rule_book = book
    return app
