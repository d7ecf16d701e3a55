"""The national interface's own records: operators' sign-ins (9001/9002) and the answers kept for replay."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError

from common.db import Database
from gateway.models import NationalMessage, NationalSignIn
from gateway.national.envelope import NationalError
from gateway.uow import GatewayUnitOfWork


async def stored_message(*, uow: GatewayUnitOfWork, client_id: str, msgid: str) -> NationalMessage | None:
    """The answered message of this API client with this msgid, if any."""
    return await uow.messages.of(client_id, msgid)


async def replayed(
    *, uow: GatewayUnitOfWork, client_id: str, msgid: str, digest: str
) -> dict[str, Any] | None:
    """The answer given to this message before, if any; MSGID_CONFLICT when the msgid came with another message."""
    stored = await uow.messages.of(client_id, msgid)
    if stored is None:
        return None
    if stored.request_hash != digest:
        raise NationalError(
            "MSGID_CONFLICT", f"msgid {msgid} was used already for another message; send a new msgid."
        )
    return dict(stored.answer)


async def remember(
    *,
    db: Database,
    client_id: str,
    msgid: str,
    infno: str,
    digest: str,
    reply: dict[str, Any],
    now: datetime,
) -> dict[str, Any]:
    """Store a successful answer; when a concurrent copy of the message got there first, its answer wins."""
    try:
        async with GatewayUnitOfWork(db) as uow:
            uow.messages.add(
                NationalMessage(
                    client_id=client_id,
                    msgid=msgid,
                    infno=infno,
                    request_hash=digest,
                    answer=reply,
                    created_at=now,
                )
            )
    except IntegrityError:
        async with GatewayUnitOfWork(db, readonly=True) as uow:
            first = await replayed(uow=uow, client_id=client_id, msgid=msgid, digest=digest)
        return first or reply
    return reply


async def sign_in(
    *,
    uow: GatewayUnitOfWork,
    sign_no: str,
    client_id: str,
    fixmedins_code: str,
    opter_no: str,
    mac: str | None,
    ip: str | None,
    now: datetime,
) -> None:
    """Record an operator's 9001 sign-in under the sign_no issued for it."""
    uow.sign_ins.add(
        NationalSignIn(
            sign_no=sign_no,
            client_id=client_id,
            fixmedins_code=fixmedins_code,
            opter_no=opter_no,
            mac=mac,
            ip=ip,
            sign_time=now,
        )
    )


async def sign_out(
    *, uow: GatewayUnitOfWork, sign_no: str, client_id: str, opter_no: str, now: datetime
) -> datetime:
    """End an operator's sign-in (9002); the time it ended, the first sign-out's when signed out again."""
    signed = await uow.sign_ins.of_client(sign_no, client_id, for_update=True)
    if signed is None:
        raise NationalError("SIGN_NO_UNKNOWN", f"No sign-in {sign_no} of this API key (9001 first).")
    if signed.opter_no != opter_no:
        raise NationalError(
            "OPTER_MISMATCH",
            f"Sign-in {sign_no} is operator {signed.opter_no}'s, not {opter_no}'s.",
        )
    if signed.sign_out_time is None:
        signed.sign_out_time = now
    return signed.sign_out_time
