"""POST /fsi/api/rsfComIfsService/callService: the national envelope in, the national answer out (always 200)."""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import datetime
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Request
from pydantic import ValidationError

from common.errors import ProblemError
from gateway.api.proxy import admit
from gateway.national import docs
from gateway.national.calls import Context
from gateway.national.envelope import (
    FAILURE,
    SUCCESS,
    Envelope,
    NationalError,
    answer,
    decode_body,
    ref_msgid,
)
from gateway.national.transactions import TRANSACTIONS
from gateway.service import national
from gateway.uow import GatewayUnitOfWork

log = logging.getLogger("gateway.national")
router = APIRouter(tags=["national interface 国家接口"])
PATH = "/fsi/api/rsfComIfsService/callService"
# Left out of the idempotency hash: a retry is stamped with the time it is sent again.
_NOT_HASHED = frozenset({"inf_time"})


def _request_hash(envelope: dict[str, Any]) -> str:
    canonical = json.dumps(
        {key: value for key, value in envelope.items() if key not in _NOT_HASHED},
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def _parse(body: bytes, content_type: str | None) -> tuple[Envelope, dict[str, Any]]:
    """The envelope, and the message normalised for the idempotency hash.

    The normalised message is the body as sent with each envelope field replaced by its validated value (a
    number as its text, `input` given as a string as the object it holds): the same message sent with
    numbers or with strings, in GBK or in UTF-8, hashes the same. Unknown fields stay as sent.
    """
    try:
        raw = json.loads(decode_body(body, content_type), parse_float=Decimal)
    except ValueError as exc:
        raise NationalError("MALFORMED_ENVELOPE", "The body is not valid JSON.") from exc
    if not isinstance(raw, dict):
        raise NationalError("MALFORMED_ENVELOPE", "The body must be a JSON object (the national envelope).")
    try:
        envelope = Envelope.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "envelope"
        raise NationalError("MALFORMED_ENVELOPE", f"{where}: {first['msg']}") from exc
    normalised = {
        key: getattr(envelope, key) if key in Envelope.model_fields else value for key, value in raw.items()
    }
    return envelope, normalised


async def _handle(request: Request, received: datetime) -> dict[str, Any]:
    clock = request.app.state.clock
    refmsgid = ref_msgid(None, received)
    try:
        principal, body = await admit(request, "national", "callService")
    except ProblemError as exc:
        return answer(
            infcode=FAILURE,
            refmsgid=refmsgid,
            received=received,
            responded=clock.now(),
            err_msg=f"[{exc.code}] {exc.detail}",
        )
    envelope: Envelope | None = None
    try:
        envelope, raw = _parse(body, request.headers.get("content-type"))
        refmsgid = ref_msgid(envelope.insuplc_admdvs, received)
        if not principal.may_act_for(envelope.fixmedins_code):
            raise NationalError(
                "SCOPE_FORBIDDEN", f"This API key may not act for institution {envelope.fixmedins_code}."
            )
        digest = _request_hash(raw)
        async with GatewayUnitOfWork(request.app.state.db, readonly=True) as uow:
            replay = await national.replayed(
                uow=uow, client_id=principal.client_id, msgid=envelope.msgid, digest=digest
            )
        if replay is not None:
            return replay
        transaction = TRANSACTIONS.get(envelope.infno)
        if transaction is None:
            raise NationalError(
                "INFNO_UNSUPPORTED",
                f"Transaction {envelope.infno} is not offered here; supported: {', '.join(sorted(TRANSACTIONS))}.",
            )
        output = await transaction.handle(Context(request, principal, envelope, received), envelope.input)
    except NationalError as exc:
        if envelope is not None:
            log.info("national %s msgid %s refused: %s", envelope.infno, envelope.msgid, exc.code)
        return answer(
            infcode=FAILURE, refmsgid=refmsgid, received=received, responded=clock.now(), err_msg=exc.err_msg
        )
    reply = answer(
        infcode=SUCCESS, refmsgid=refmsgid, received=received, responded=clock.now(), output=output
    )
    reply = json.loads(json.dumps(reply, default=str))
    return await national.remember(
        db=request.app.state.db,
        client_id=principal.client_id,
        msgid=envelope.msgid,
        infno=envelope.infno,
        digest=digest,
        reply=reply,
        now=received,
    )


@router.post(
    PATH,
    summary="国家接口 national interface: one envelope, any supported infno (always 200; infcode says how it went)",
    description=docs.DESCRIPTION
    + " Supported infno: "
    + ", ".join(f"{infno} {t.name}" for infno, t in TRANSACTIONS.items()),
    openapi_extra={
        "requestBody": {
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "title": "national envelope 入参",
                        "required": ["infno", "msgid"],
                    },
                    "examples": docs.request_examples({infno: t.name for infno, t in TRANSACTIONS.items()}),
                }
            },
            "required": True,
        },
        "responses": {
            "200": {
                "description": "The national answer, success or failure (infcode)",
                "content": {"application/json": {"schema": docs.ANSWER_SCHEMA}},
            }
        },
    },
)
async def call_service(request: Request) -> dict[str, Any]:
    received = request.app.state.clock.now()
    try:
        return await _handle(request, received)
    except Exception:  # the national convention has no HTTP errors: anything unforeseen is still an answer
        log.exception("national interface: unexpected failure")
        return answer(
            infcode=FAILURE,
            refmsgid=ref_msgid(None, received),
            received=received,
            responded=request.app.state.clock.now(),
            err_msg="[INTERNAL_ERROR] The platform could not answer this message; retry with the same msgid.",
        )
