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
    "智能监控规则库 — the rule library: built-in rule families (GET /rule-families), rule instances with "
    "validated parameters, severity, scope and versions; the real-time review (事前/事中) by `POST /reviews` and "
    "the NATS request/reply `fraud.review` that settlement asks before it settles; post-event rules over the "
    "projected claim history (事后); findings (疑点) confirmed or dismissed; cases (案件) that notify an "
    "institution of its findings, take its appeal (申诉) within N working days or its voluntary refund (自查自纠), "
    "and are decided with the recovery, a penalty by the scale, points and referral — only a decided case "
    "becomes deductions in settlement's month reconciliation; backtests of a rule over past settlements. The "
    "high-burden monitor is reported in the category `assistance`, for the medical assistance office, not as fraud."
    " Practitioners' payment qualification (医保支付资格管理): doctors, pharmacists and nurses registered with "
    "their institution, points (记分) by the national scale, suspensions at 9 and 12 points in a calendar year "
    "that settlement enforces from the events."
    " Institution-level supervision: 挂床, 诱导住院, institutions' figures against their same-level peers and "
    "高套 run per month (`POST /institution-rules/run`), and the monthly warning to each institution (每月推送预警, "
    "`POST /warnings/publish`, `GET /warnings`)."
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
