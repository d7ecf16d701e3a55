"""Ops endpoints over a service's dead letters: list them, replay one to its original subject."""

from __future__ import annotations

import contextlib
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from nats.js.errors import NotFoundError
from pydantic import BaseModel, Field

from common.errors import NotFound, ServiceUnavailable
from common.events.consumer import (
    CONSUMER_HEADER,
    DELIVERIES_HEADER,
    ERROR_HEADER,
    FAILED_AT_HEADER,
    ORIGINAL_SUBJECT_HEADER,
)
from common.events.contracts import DEADLETTER_STREAM
from common.events.envelope import EventEnvelope
from common.events.nats import NatsClient
from common.params import PathId
from common.principal import OpsPrincipal


class DeadLetter(BaseModel):
    """An event a consumer gave up on (死信)."""

    seq: int = Field(description="Sequence in the DEADLETTER stream; use it to replay")
    consumer: str = Field(description="The durable consumer that failed")
    subject: str = Field(description="The subject the event was published on")
    event_id: str | None = Field(description="The event id, when the message was an envelope")
    error: str = Field(description="The last error, truncated")
    deliveries: int = Field(description="How many times it was delivered before giving up")
    failed_at: str | None = Field(description="When the consumer gave up")


class DeadLetterPage(BaseModel):
    items: list[DeadLetter]
    next_cursor: int | None = Field(description="Pass as `cursor` for the next page; null at the end")


class ReplayResult(BaseModel):
    seq: int
    subject: str
    republished_as: str = Field(description="The Nats-Msg-Id of the replayed copy")


def _nats(request: Request) -> NatsClient:
    nats: NatsClient = request.app.state.nats
    if not nats.connected:
        raise ServiceUnavailable(
            "NATS is not reachable; dead letters cannot be read now.", code="NATS_UNAVAILABLE"
        )
    return nats


def _as_dead_letter(seq: int, headers: dict[str, str] | None, data: bytes) -> DeadLetter:
    headers = headers or {}
    event_id = None
    with contextlib.suppress(ValueError):
        event_id = str(EventEnvelope.from_bytes(data).id)
    return DeadLetter(
        seq=seq,
        consumer=headers.get(CONSUMER_HEADER, ""),
        subject=headers.get(ORIGINAL_SUBJECT_HEADER, ""),
        event_id=event_id,
        error=headers.get(ERROR_HEADER, ""),
        deliveries=int(headers.get(DELIVERIES_HEADER, 0)),
        failed_at=headers.get(FAILED_AT_HEADER),
    )


def dead_letter_router(service: str) -> APIRouter:
    """/dead-letters for one service (ops only)."""
    router = APIRouter(prefix="/dead-letters", tags=["dead letters 死信"])
    subject_filter = f"deadletter.{service}.>"

    @router.get("", response_model=DeadLetterPage, summary="List dead letters 死信列表 (oldest first)")
    async def list_dead_letters(
        request: Request,
        _ops: OpsPrincipal,
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
        cursor: Annotated[int, Query(ge=1, le=2**63 - 1, description="seq to start from")] = 1,
    ) -> DeadLetterPage:
        """This service's dead letters: events one of its consumers gave up on after its retries.

        Each shows the consumer, the subject, the event id, the last error and how often it was delivered.
        Oldest first, by `seq` in the DEADLETTER stream; pass `next_cursor` as `cursor` for the next page.
        An empty list is the healthy state. 503 NATS_UNAVAILABLE while NATS cannot be reached.
        """
        js = _nats(request).jetstream()
        items: list[DeadLetter] = []
        seq = cursor
        while len(items) < limit:
            try:
                raw = await js.get_msg(DEADLETTER_STREAM.name, seq=seq, subject=subject_filter, next=True)
            except NotFoundError:
                return DeadLetterPage(items=items, next_cursor=None)
            assert raw.seq is not None
            items.append(_as_dead_letter(raw.seq, raw.headers, raw.data or b""))
            seq = raw.seq + 1
        return DeadLetterPage(items=items, next_cursor=seq)

    @router.post(
        "/{seq}/replay",
        response_model=ReplayResult,
        summary="Replay a dead letter 重放死信 to its original subject",
    )
    async def replay_dead_letter(request: Request, seq: PathId, _ops: OpsPrincipal) -> ReplayResult:
        """Publish the event again on its original subject, then remove it from the dead letters.

        Do this once the cause is fixed (the consumer's bug deployed away, the missing data loaded): the
        copy goes under a new message id, and a consumer that had applied the event already skips it
        through its inbox, so a replay never applies an event twice. 404 DEAD_LETTER_NOT_FOUND for a `seq`
        that is not this service's.
        """
        js = _nats(request).jetstream()
        try:
            raw = await js.get_msg(DEADLETTER_STREAM.name, seq=seq)
        except NotFoundError as exc:
            raise NotFound(f"No dead letter with seq {seq}.", code="DEAD_LETTER_NOT_FOUND") from exc
        headers: dict[str, Any] = raw.headers or {}
        if not str(raw.subject or "").startswith(f"deadletter.{service}."):
            raise NotFound(f"No dead letter with seq {seq} for {service}.", code="DEAD_LETTER_NOT_FOUND")
        letter = _as_dead_letter(seq, headers, raw.data or b"")
        # A new message id, so JetStream's de-duplication does not swallow the copy; consumers that applied the
        # event already skip it through their inbox.
        msg_id = f"replay:{seq}:{letter.event_id or 'raw'}"
        await js.publish(letter.subject, raw.data or b"", headers={"Nats-Msg-Id": msg_id})
        await js.delete_msg(DEADLETTER_STREAM.name, seq)
        return ReplayResult(seq=seq, subject=letter.subject, republished_as=msg_id)

    return router
