"""The real-time review: ask fraud over NATS request/reply, fail open when it does not answer in time."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from nats.errors import Error as NatsError
from prometheus_client import Counter, Histogram
from pydantic import ValidationError

from common.events.contracts import FRAUD_REVIEW_SUBJECT
from common.events.nats import NatsClient
from common.events.review import ReviewClaim, ReviewHit, ReviewReply, ReviewRequest

log = logging.getLogger("settlement.review")

REVIEWS = Counter("settlement_reviews_total", "Real-time reviews asked of fraud, by outcome", ["outcome"])
REVIEW_SECONDS = Histogram(
    "settlement_review_seconds",
    "Time waiting for fraud.review",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.5),
)
# Every outcome at 0 from the start, so the first skip after a start shows in rate() (the alert on skipped
# reviews divides by the sum of them all).
for _outcome in ("passed", "warned", "blocked", "skipped"):
    REVIEWS.labels(_outcome)


@dataclass(frozen=True, slots=True)
class ReviewOutcome:
    status: str  # passed | warned | blocked | skipped | disabled
    hits: tuple[ReviewHit, ...] = field(default=())

    @property
    def blocking(self) -> tuple[ReviewHit, ...]:
        return tuple(hit for hit in self.hits if hit.severity == "block")

    @property
    def warnings(self) -> tuple[ReviewHit, ...]:
        return tuple(hit for hit in self.hits if hit.severity != "block")


class Reviewer:
    """Asks `fraud.review` within a budget; any failure to answer means the settlement goes on unreviewed."""

    def __init__(self, nats: NatsClient, *, timeout_s: float, enabled: bool) -> None:
        self.nats = nats
        self.timeout_s = timeout_s
        self.enabled = enabled

    async def review(self, claim: ReviewClaim) -> ReviewOutcome:
        if not self.enabled:
            return ReviewOutcome("disabled")
        client = self.nats.client
        if client is None or not self.nats.connected:
            REVIEWS.labels("skipped").inc()
            return ReviewOutcome("skipped")
        payload = ReviewRequest(stage="in", claim=claim).model_dump_json().encode()
        started = time.perf_counter()
        try:
            reply = await client.request(FRAUD_REVIEW_SUBJECT, payload, timeout=self.timeout_s)
            answer = ReviewReply.model_validate_json(reply.data)
        except (TimeoutError, NatsError) as exc:
            REVIEWS.labels("skipped").inc()
            log.info("fraud.review gave no answer (%s); settling unreviewed", type(exc).__name__)
            return ReviewOutcome("skipped")
        except ValidationError:
            REVIEWS.labels("skipped").inc()
            log.warning("fraud.review answered with a malformed reply; settling unreviewed")
            return ReviewOutcome("skipped")
        finally:
            REVIEW_SECONDS.observe(time.perf_counter() - started)
        hits = tuple(answer.hits)
        if any(hit.severity == "block" for hit in hits):
            status = "blocked"
        elif any(hit.severity == "warn" for hit in hits):
            status = "warned"
        else:
            status = "passed"
        REVIEWS.labels(status).inc()
        return ReviewOutcome(status, hits)
