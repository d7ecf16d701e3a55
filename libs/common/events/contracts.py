"""Streams and subjects: who owns which events (DESIGN.md §4)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class StreamSpec:
    name: str
    subjects: tuple[str, ...]


ENROLLMENT_STREAM = StreamSpec("ENROLLMENT", ("enrollment.>",))
SETTLEMENT_STREAM = StreamSpec("SETTLEMENT", ("settlement.>",))
PRICING_STREAM = StreamSpec("PRICING", ("pricing.>",))
# Each aggregate on its own: a stream on "fraud.>" would also capture the fraud.review requests and answer
# them with a PubAck before the fraud service could.
FRAUD_STREAM = StreamSpec(
    "FRAUD", ("fraud.finding.>", "fraud.practitioner.>", "fraud.case.>", "fraud.warning.>")
)
# Events a consumer gave up on, under deadletter.<service>.<consumer>; ops list and replay them.
DEADLETTER_STREAM = StreamSpec("DEADLETTER", ("deadletter.>",))

STREAMS = (ENROLLMENT_STREAM, SETTLEMENT_STREAM, PRICING_STREAM, FRAUD_STREAM, DEADLETTER_STREAM)

# Request/reply (core NATS), never stored in a stream.
FRAUD_REVIEW_SUBJECT = "fraud.review"


class Subject:
    """Every event subject of the platform: <service>.<aggregate>.<past_tense_verb>."""

    PERSON_REGISTERED = "enrollment.person.registered"
    COVERAGE_CHANGED = "enrollment.coverage.changed"
    PERSON_DECEASED = "enrollment.person.deceased"
    CONTRIBUTION_PAID = "enrollment.contribution.paid"
    FAMILY_BOUND = "enrollment.family.bound"

    INSTITUTION_CHANGED = "settlement.institution.changed"
    CATALOG_CHANGED = "settlement.catalog.changed"
    SETTLED = "settlement.settled"
    REVERSED = "settlement.reversed"
    DAY_CLOSED = "settlement.day.closed"
    MONTH_RECONCILED = "settlement.month.reconciled"
    YEAR_CLEARED = "settlement.year.cleared"
    CASE_GROUPED = "settlement.case.grouped"

    ALERT_RAISED = "pricing.alert.raised"
    ALERT_RESOLVED = "pricing.alert.resolved"
    SALE_RECORDED = "pricing.sale.recorded"
    SALE_REFUNDED = "pricing.sale.refunded"

    FINDING_RAISED = "fraud.finding.raised"
    FINDING_CONFIRMED = "fraud.finding.confirmed"
    FINDING_DISMISSED = "fraud.finding.dismissed"
    PRACTITIONER_SUSPENDED = "fraud.practitioner.suspended"
    PRACTITIONER_REINSTATED = "fraud.practitioner.reinstated"
    PRACTITIONER_POINTED = "fraud.practitioner.pointed"
    CASE_DECIDED = "fraud.case.decided"
    WARNING_PUBLISHED = "fraud.warning.published"


def deadletter_subject(service: str, consumer: str) -> str:
    return f"deadletter.{service}.{consumer}"
