"""The event envelope every service publishes and consumes."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from common.clock import Clock


class EventEnvelope(BaseModel):
    """{"id", "type", "source", "time", "subject", "version", "data"}; NATS header Nats-Msg-Id = id."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: uuid.UUID = Field(description="Unique event id; also the JetStream Nats-Msg-Id and the inbox key")
    type: str = Field(description="The subject it is published on, e.g. settlement.settled", min_length=3)
    source: str = Field(description="The service that owns the fact", min_length=1)
    time: datetime = Field(description="When the fact happened (ISO 8601 with offset)")
    subject: str = Field(description="The id of the entity the event is about, e.g. a psn_no or setl_id")
    version: int = Field(default=1, ge=1, description="Version of the data schema of this type")
    data: dict[str, Any]

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode()

    @classmethod
    def from_bytes(cls, raw: bytes) -> EventEnvelope:
        return cls.model_validate_json(raw)


def new_event(
    *,
    type: str,
    source: str,
    subject: str,
    data: dict[str, Any],
    clock: Clock,
    version: int = 1,
    event_id: uuid.UUID | None = None,
) -> EventEnvelope:
    """A fresh event for a fact that has just happened."""
    return EventEnvelope(
        id=event_id or uuid.uuid4(),
        type=type,
        source=source,
        time=clock.now(),
        subject=subject,
        version=version,
        data=data,
    )
