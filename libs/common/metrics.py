"""Prometheus metrics shared by all services, and the /metrics endpoint."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest
from starlette.requests import Request
from starlette.responses import Response

LATENCY_BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5, 5.0)

HTTP_LATENCY = Histogram(
    "http_request_duration_seconds",
    "HTTP request latency by route template",
    ["service", "method", "route", "status"],
    buckets=LATENCY_BUCKETS,
)
OUTBOX_BACKLOG = Gauge("outbox_backlog", "Outbox rows not yet published", ["service"])
EVENTS_PUBLISHED = Counter("events_published_total", "Events published to JetStream", ["service", "type"])
EVENTS_CONSUMED = Counter(
    "events_consumed_total", "Events handled by a consumer", ["service", "consumer", "type", "outcome"]
)
EVENT_LAG = Histogram(
    "event_lag_seconds",
    "Time from an event's creation to its handling by a consumer",
    ["service", "consumer"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 15.0, 60.0, 300.0),
)
DEAD_LETTERS = Counter(
    "dead_letters_total", "Events moved to the dead-letter subject", ["service", "consumer"]
)
# From JetStream's consumer info every few seconds, not per event: a stalled consumer handles nothing, so
# event_lag_seconds (observed when an event is handled) cannot show it, and this does.
CONSUMER_PENDING = Gauge(
    "consumer_pending_messages",
    "Messages of a durable consumer not yet delivered or delivered and not yet acknowledged",
    ["service", "consumer"],
)


async def metrics_endpoint(request: Request) -> Response:
    """Expose every metric of the process in the Prometheus text format."""
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
