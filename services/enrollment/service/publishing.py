"""The events enrollment publishes: one envelope per fact, written to the outbox in the use case's transaction."""

from __future__ import annotations

from pydantic import BaseModel

from common.clock import Clock
from common.events.envelope import EventEnvelope, new_event

SOURCE = "enrollment"


def event_of(subject: str, entity: str, data: BaseModel, clock: Clock) -> EventEnvelope:
    """The envelope of one enrollment event about `entity` (a psn_no)."""
    return new_event(
        type=subject, source=SOURCE, subject=entity, data=data.model_dump(mode="json"), clock=clock
    )
