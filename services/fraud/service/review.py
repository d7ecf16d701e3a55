"""The real-time review (事前/事中): the pre/in rules over a claim about to be settled, by HTTP or NATS."""

from __future__ import annotations

import asyncio
import logging
import time

from fastapi import FastAPI
from nats.aio.msg import Msg
from prometheus_client import Counter, Histogram
from pydantic import ValidationError

from common.db import Database
from common.events.contracts import FRAUD_REVIEW_SUBJECT
from common.events.nats import raise_if_cancelled
from common.events.review import ReviewClaim, ReviewHit, ReviewReply, ReviewRequest
from common.money import fen_to_yuan
from fraud.service.history import claim_from_review, load_history
from fraud.service.rules import RuleBook
from fraud.uow import FraudUnitOfWork

log = logging.getLogger("fraud.review")

RULE_HITS = Counter(
    "fraud_rule_hits_total", "Hits of the real-time review, by family and severity", ["family", "severity"]
)
REVIEW_SECONDS = Histogram(
    "fraud_review_seconds",
    "Time to review a claim in-service",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.5),
)
QUEUE_GROUP = "fraud"


async def review_claim(*, db: Database, book: RuleBook, claim: ReviewClaim, stage: str) -> list[ReviewHit]:
    """The hits of the enabled rules of this stage (pre: pre rules; in: pre and in rules), in rule order."""
    # Its own read-only unit of work, opened only when there are rules to run: the review is answered on
    # NATS with no request, and a POST's request unit of work would write-lock SQLite for a read.
    started = time.perf_counter()
    rules = [r for r in await book.realtime_rules(db) if r.scope == "pre" or stage == "in"]
    if not rules:
        return []
    facts = claim_from_review(claim)
    async with FraudUnitOfWork(db, readonly=True) as uow:
        history = await load_history(uow=uow, claim=facts, rules=rules)
    hits: list[ReviewHit] = []
    for rule in rules:
        for hit in rule.family.check(facts, history, rule.params):
            RULE_HITS.labels(rule.family.name, rule.severity).inc()
            hits.append(
                ReviewHit(
                    rule_id=rule.rule_id,
                    rule_version=rule.version,
                    family=rule.family.name,
                    severity=rule.severity,
                    message=hit.message,
                    feedetl_sn=hit.feedetl_sn,
                    vola_amt=fen_to_yuan(hit.vola_fen) if hit.vola_fen is not None else None,
                )
            )
    REVIEW_SECONDS.observe(time.perf_counter() - started)
    return hits


def review_status(hits: list[ReviewHit]) -> str:
    if any(hit.severity == "block" for hit in hits):
        return "blocked"
    return "warned" if hits else "passed"


async def responder(app: FastAPI) -> None:
    """Answer fraud.review (queue group "fraud", so replicas share the load) on whatever connection is live."""
    nats = app.state.nats
    pending: set[asyncio.Task[None]] = set()

    async def answer(msg: Msg) -> None:
        try:
            request = ReviewRequest.model_validate_json(msg.data)
        except ValidationError as exc:
            log.warning("fraud.review request does not fit the contract (%d errors)", exc.error_count())
            return  # no answer: the caller fails open at its budget
        try:
            hits = await review_claim(
                db=app.state.db, book=app.state.rule_book, claim=request.claim, stage=request.stage
            )
            if msg.reply:
                await msg.respond(ReviewReply(hits=hits).model_dump_json().encode())
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.error("fraud.review failed: %s", type(exc).__name__)

    async def on_message(msg: Msg) -> None:
        # One task per request: nats-py runs a subscription's callbacks one at a time.
        task = asyncio.create_task(answer(msg))
        pending.add(task)
        task.add_done_callback(pending.discard)

    while True:
        raise_if_cancelled()
        await nats.wait_connected()
        client = nats.client
        subscription = await client.subscribe(FRAUD_REVIEW_SUBJECT, queue=QUEUE_GROUP, cb=on_message)
        await client.flush()
        log.info("answering %s", FRAUD_REVIEW_SUBJECT)
        try:
            # Polled: nats-py signals no event when the connection supervisor replaces the client.
            while nats.client is client and not client.is_closed:  # noqa: ASYNC110
                await asyncio.sleep(0.5)
        finally:
            if not client.is_closed:
                try:
                    await subscription.unsubscribe()
                except Exception as exc:  # closing anyway
                    log.debug("unsubscribe failed: %s", type(exc).__name__)
