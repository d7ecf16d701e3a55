"""Findings (疑点): raised by post rules, listed, confirmed with an amount to recover, or dismissed."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from prometheus_client import Counter
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from common.clock import Clock
from common.errors import BadRequest, Conflict, NotFound, Unprocessable
from common.events.contracts import Subject
from common.events.envelope import new_event
from common.events.fraud import FindingConfirmed, FindingDismissed, FindingRaised
from common.events.outbox import add_event
from common.money import fen_to_yuan, yuan_to_fen
from common.pagination import decode_cursor, encode_cursor
from fraud.domain.facts import Claim
from fraud.domain.families import ASSISTANCE
from fraud.models import ClaimRecord, Finding, table_of
from fraud.schemas.findings import ConfirmIn, DismissIn, FindingOut, FindingPage
from fraud.service.history import claim_from_record, load_history
from fraud.service.rules import ActiveRule, load_active_rules

OPEN, CONFIRMED, DISMISSED = "open", "confirmed", "dismissed"
SYSTEM = "fraud-service"
FINDINGS_RAISED = Counter("fraud_findings_raised_total", "Findings raised by post rules", ["family"])
_FINDINGS = table_of(Finding)


def finding_out(row: Finding) -> FindingOut:
    return FindingOut(
        finding_id=row.finding_id,
        rule_id=row.rule_id,
        rule_version=row.rule_version,
        family=row.family,
        category=row.category,
        severity=row.severity,
        status=row.status,
        setl_id=row.setl_id,
        psn_no=row.psn_no,
        fixmedins_code=row.fixmedins_code,
        message=row.message,
        feedetl_sn=row.feedetl_sn,
        vola_amt=fen_to_yuan(row.vola_fen) if row.vola_fen is not None else None,
        fund_pay_sumamt=fen_to_yuan(row.fund_pay_fen),
        raised_at=row.raised_at,
        amount_to_recover=(
            fen_to_yuan(row.amount_to_recover_fen) if row.amount_to_recover_fen is not None else None
        ),
        note=row.note,
        decided_by=row.decided_by,
        decided_at=row.decided_at,
    )


# --- raising ---------------------------------------------------------------------------------------------


async def run_post_rules(
    session: AsyncSession, claim: Claim, rules: Sequence[ActiveRule], *, clock: Clock
) -> list[int]:
    """Run post rules over a settled claim and raise a finding per new hit; returns the new finding ids."""
    if not rules:
        return []
    history = await load_history(session, claim, rules)
    raised: list[int] = []
    for rule in rules:
        for hit in rule.family.check(claim, history, rule.params):
            finding_id = await _raise(
                session, rule, claim, hit.key, hit.message, hit.feedetl_sn, hit.vola_fen, clock
            )
            if finding_id is not None:
                raised.append(finding_id)
    return raised


async def _raise(
    session: AsyncSession,
    rule: ActiveRule,
    claim: Claim,
    key: str,
    message: str,
    feedetl_sn: str | None,
    vola_fen: int | None,
    clock: Clock,
) -> int | None:
    now = clock.now()
    values = {
        "rule_id": rule.rule_id,
        "rule_version": rule.version,
        "family": rule.family.name,
        "category": rule.family.category,
        "severity": rule.severity,
        "finding_key": key[:200],
        "status": OPEN,
        "setl_id": claim.setl_id,
        "psn_no": claim.psn_no,
        "fixmedins_code": claim.fixmedins_code,
        "message": message[:500],
        "feedetl_sn": feedetl_sn,
        "vola_fen": vola_fen,
        "fund_pay_fen": claim.fund_pay_fen,
        "raised_at": now,
    }
    insert = (postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert)(
        _FINDINGS
    )
    finding_id = await session.scalar(
        insert.values(**values)
        .on_conflict_do_nothing(index_elements=[_FINDINGS.c.rule_id, _FINDINGS.c.finding_key])
        .returning(_FINDINGS.c.finding_id)
    )
    if finding_id is None:
        return None  # this rule already holds a finding for this settlement or window
    FINDINGS_RAISED.labels(rule.family.name).inc()
    data = FindingRaised(
        finding_id=str(finding_id),
        rule_id=str(rule.rule_id),
        rule_version=rule.version,
        family=rule.family.name,
        category=rule.family.category,
        severity=rule.severity,
        setl_id=claim.setl_id,
        psn_no=claim.psn_no,
        fixmedins_code=claim.fixmedins_code,
        message=message[:500],
        vola_amt=fen_to_yuan(vola_fen) if vola_fen is not None else None,
        raised_at=now,
    )
    await add_event(
        session,
        new_event(
            type=Subject.FINDING_RAISED,
            source="fraud",
            subject=str(finding_id),
            data=data.model_dump(mode="json"),
            clock=clock,
        ),
    )
    return int(finding_id)


async def after_settled(session: AsyncSession, claim: Claim, *, clock: Clock) -> list[int]:
    """Post rules on a settlement just projected."""
    return await run_post_rules(session, claim, await load_active_rules(session, ("post",)), clock=clock)


async def after_death_recorded(session: AsyncSession, psn_no: str, *, clock: Clock) -> list[int]:
    """A death recorded late: the care already settled that began after it is flagged now."""
    rules = [r for r in await load_active_rules(session, ("post",)) if "death" in r.family.needs]
    if not rules:
        return []
    records = (
        await session.scalars(
            sa.select(ClaimRecord)
            .where(ClaimRecord.psn_no == psn_no, ClaimRecord.reversed.is_(False))
            .order_by(ClaimRecord.begin_date, ClaimRecord.setl_id)
        )
    ).all()
    raised: list[int] = []
    for record in records:
        raised += await run_post_rules(session, await claim_from_record(session, record), rules, clock=clock)
    return raised


async def after_reversed(session: AsyncSession, setl_id: str, *, clock: Clock) -> int:
    """A reversed settlement paid nothing in the end: its open findings are dismissed (nothing to recover)."""
    rows = (
        await session.scalars(
            sa.select(Finding).where(Finding.setl_id == setl_id, Finding.status == OPEN).with_for_update()
        )
    ).all()
    for row in rows:
        await _dismiss(
            session,
            row,
            note="结算已冲正 settlement reversed: nothing left to recover",
            by=SYSTEM,
            clock=clock,
        )
    return len(rows)


# --- reading ---------------------------------------------------------------------------------------------


def _encode_cursor(finding_id: int) -> str:
    return encode_cursor("f", str(finding_id))


def _decode_cursor(cursor: str) -> int:
    prefix, value = decode_cursor(cursor, parts=2)
    if prefix != "f" or not value.isdigit():
        raise BadRequest("The cursor is not one this API gave out.", code="INVALID_CURSOR")
    return int(value)


async def list_findings(
    session: AsyncSession,
    *,
    status: str | None,
    fixmedins_code: str | None,
    rule_id: int | None,
    psn_no: str | None,
    category: str | None,
    family: str | None,
    limit: int,
    cursor: str | None,
) -> FindingPage:
    """Findings newest first, filtered."""
    query = sa.select(Finding)
    for column, value in (
        (Finding.status, status),
        (Finding.fixmedins_code, fixmedins_code),
        (Finding.rule_id, rule_id),
        (Finding.psn_no, psn_no),
        (Finding.category, category),
        (Finding.family, family),
    ):
        if value is not None:
            query = query.where(column == value)
    if cursor:
        query = query.where(Finding.finding_id < _decode_cursor(cursor))
    rows = list((await session.scalars(query.order_by(Finding.finding_id.desc()).limit(limit + 1))).all())
    more, rows = len(rows) > limit, rows[:limit]
    return FindingPage(
        items=[finding_out(row) for row in rows],
        next_cursor=_encode_cursor(rows[-1].finding_id) if more and rows else None,
    )


async def get_finding(session: AsyncSession, finding_id: int, *, for_update: bool = False) -> Finding:
    query = sa.select(Finding).where(Finding.finding_id == finding_id)
    row = (await session.scalars(query.with_for_update() if for_update else query)).one_or_none()
    if row is None:
        raise NotFound(f"No finding {finding_id}.", code="FINDING_NOT_FOUND")
    return row


# --- deciding --------------------------------------------------------------------------------------------


def _ensure_open(row: Finding) -> None:
    if row.status != OPEN:
        raise Conflict(
            f"Finding {row.finding_id} is already {row.status}.",
            code="FINDING_NOT_OPEN",
            status_now=row.status,
        )


async def confirm_finding(
    session: AsyncSession, finding_id: int, body: ConfirmIn, *, by: str, clock: Clock
) -> Finding:
    """Confirm with the amount to recover (≤ the settlement's fund pay); fraud.finding.confirmed via the outbox.

    An assistance finding (high burden) is not fraud: it is acknowledged with nothing to recover and sends
    no deduction.
    """
    row = await get_finding(session, finding_id, for_update=True)
    _ensure_open(row)
    amount = yuan_to_fen(body.amount_to_recover)
    if row.category == ASSISTANCE and amount != 0:
        raise Unprocessable(
            "An assistance finding is not fraud: nothing can be recovered (amount_to_recover must be 0).",
            code="NOTHING_TO_RECOVER",
        )
    if amount > row.fund_pay_fen:
        raise Unprocessable(
            f"amount_to_recover {fen_to_yuan(amount)} exceeds the settlement's fund pay "
            f"{fen_to_yuan(row.fund_pay_fen)}.",
            code="AMOUNT_EXCEEDS_FUND_PAY",
            fund_pay_sumamt=str(fen_to_yuan(row.fund_pay_fen)),
        )
    now = clock.now()
    row.status, row.amount_to_recover_fen = CONFIRMED, amount
    row.note, row.decided_by, row.decided_at = body.note, by, now
    await session.flush()
    if row.category != ASSISTANCE:
        data = FindingConfirmed(
            finding_id=str(row.finding_id),
            rule_id=str(row.rule_id),
            rule_version=row.rule_version,
            family=row.family,
            setl_id=row.setl_id,
            psn_no=row.psn_no,
            fixmedins_code=row.fixmedins_code,
            amount_to_recover=fen_to_yuan(amount),
            note=body.note,
            confirmed_at=now,
            confirmed_by=by,
        )
        await add_event(
            session,
            new_event(
                type=Subject.FINDING_CONFIRMED,
                source="fraud",
                subject=str(row.finding_id),
                data=data.model_dump(mode="json"),
                clock=clock,
            ),
        )
    return row


async def dismiss_finding(
    session: AsyncSession, finding_id: int, body: DismissIn, *, by: str, clock: Clock
) -> Finding:
    """Dismiss an open finding, with who and why; fraud.finding.dismissed via the outbox."""
    row = await get_finding(session, finding_id, for_update=True)
    _ensure_open(row)
    await _dismiss(session, row, note=body.note, by=by, clock=clock)
    return row


async def _dismiss(session: AsyncSession, row: Finding, *, note: str, by: str, clock: Clock) -> None:
    now = clock.now()
    row.status, row.note, row.decided_by, row.decided_at = DISMISSED, note, by, now
    await session.flush()
    data = FindingDismissed(
        finding_id=str(row.finding_id),
        rule_id=str(row.rule_id),
        rule_version=row.rule_version,
        family=row.family,
        setl_id=row.setl_id,
        psn_no=row.psn_no,
        fixmedins_code=row.fixmedins_code,
        note=note,
        dismissed_at=now,
        dismissed_by=by,
    )
    await add_event(
        session,
        new_event(
            type=Subject.FINDING_DISMISSED,
            source="fraud",
            subject=str(row.finding_id),
            data=data.model_dump(mode="json"),
            clock=clock,
        ),
    )
