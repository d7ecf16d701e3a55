"""Findings (疑点): raised by post rules, listed, confirmed (疑点成立) or dismissed; cases turn them into deductions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from prometheus_client import Counter

from common.clock import Clock
from common.errors import Conflict, NotFound, Unprocessable
from common.events.contracts import Subject
from common.events.envelope import new_event
from common.events.fraud import FindingDismissed, FindingRaised
from common.events.settlement import SettlementSettled
from common.money import fen_to_yuan, yuan_to_fen
from common.repository import Page
from fraud.domain.facts import Claim
from fraud.domain.families import ASSISTANCE
from fraud.models import Finding
from fraud.schemas.findings import ConfirmIn, DismissIn
from fraud.service.history import (
    NO_PERSON,
    PersonFacts,
    claim_from_record,
    claim_from_settled,
    load_history,
)
from fraud.service.rules import ActiveRule, RuleBook, load_active_rules
from fraud.uow import FraudUnitOfWork

if TYPE_CHECKING:
    from fraud.service.projection import Projected

OPEN, CONFIRMED, DISMISSED = "open", "confirmed", "dismissed"
SYSTEM = "fraud-service"
FINDINGS_RAISED = Counter("fraud_findings_raised_total", "Findings raised by post rules", ["family"])


# --- raising ---------------------------------------------------------------------------------------------


async def run_post_rules(
    *,
    uow: FraudUnitOfWork,
    claim: Claim,
    rules: Sequence[ActiveRule],
    clock: Clock,
    person: PersonFacts | None = None,
) -> list[int]:
    """Run post rules over a settled claim and raise a finding per new hit; returns the new finding ids.
    `person`: the person's facts when read already in this transaction."""
    if not rules:
        return []
    history = await load_history(uow=uow, claim=claim, rules=rules, person=person)
    raised: list[int] = []
    for rule in rules:
        for hit in rule.family.check(claim, history, rule.params):
            finding_id = await _raise(
                uow, rule, claim, hit.key, hit.message, hit.feedetl_sn, hit.vola_fen, clock
            )
            if finding_id is not None:
                raised.append(finding_id)
    return raised


async def _raise(
    uow: FraudUnitOfWork,
    rule: ActiveRule,
    claim: Claim,
    key: str,
    message: str,
    feedetl_sn: str | None,
    vola_fen: int | None,
    clock: Clock,
) -> int | None:
    return await raise_finding(
        uow=uow,
        rule=rule,
        key=key,
        message=message,
        setl_id=claim.setl_id,
        psn_no=claim.psn_no,
        fixmedins_code=claim.fixmedins_code,
        feedetl_sn=feedetl_sn,
        vola_fen=vola_fen,
        fund_pay_fen=claim.fund_pay_fen,
        clock=clock,
    )


async def raise_finding(
    *,
    uow: FraudUnitOfWork,
    rule: ActiveRule,
    key: str,
    message: str,
    setl_id: str | None,
    psn_no: str | None,
    fixmedins_code: str,
    feedetl_sn: str | None,
    vola_fen: int | None,
    fund_pay_fen: int,
    clock: Clock,
) -> int | None:
    """Raise a finding once per (rule, key), with fraud.finding.raised; None if the rule holds it already.

    A finding about something other than a settlement (a POS sale) has no setl_id, and perhaps no person.
    """
    now = clock.now()
    values = {
        "rule_id": rule.rule_id,
        "rule_version": rule.version,
        "family": rule.family.name,
        "category": rule.family.category,
        "severity": rule.severity,
        "finding_key": key[:200],
        "status": OPEN,
        "setl_id": setl_id,
        "psn_no": psn_no,
        "fixmedins_code": fixmedins_code,
        "message": message[:500],
        "feedetl_sn": feedetl_sn,
        "vola_fen": vola_fen,
        "fund_pay_fen": fund_pay_fen,
        "raised_at": now,
    }
    finding_id = await uow.findings.insert_new(values)
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
        setl_id=setl_id,
        psn_no=psn_no,
        fixmedins_code=fixmedins_code,
        message=message[:500],
        vola_amt=fen_to_yuan(vola_fen) if vola_fen is not None else None,
        raised_at=now,
    )
    await uow.publish(
        new_event(
            type=Subject.FINDING_RAISED,
            source="fraud",
            subject=str(finding_id),
            data=data.model_dump(mode="json"),
            clock=clock,
        )
    )
    return finding_id


async def after_settled(
    *,
    uow: FraudUnitOfWork,
    data: SettlementSettled,
    clock: Clock,
    book: RuleBook | None = None,
    projected: Projected | None = None,
) -> list[int]:
    """Post rules on a settlement just projected (the rules from `book`'s cache when given; `projected`: what
    the projection worked out and read already)."""
    rules = await load_active_rules(uow=uow, scopes=("post",)) if book is None else await book.post_rules(uow)
    if not rules:
        return []
    person = projected.person if projected is not None else None
    if person is None:
        row = await uow.persons.facts(data.psn_no)
        person = NO_PERSON if row is None else PersonFacts(row.gend, row.brdy, row.death_date)
    claim = claim_from_settled(
        data,
        gend=person.gend,
        brdy=person.brdy,
        lines=projected.lines if projected is not None else None,
    )
    return await run_post_rules(uow=uow, claim=claim, rules=rules, clock=clock, person=person)


async def after_death_recorded(*, uow: FraudUnitOfWork, psn_no: str, clock: Clock) -> list[int]:
    """A death recorded late: the care already settled that began after it is flagged now."""
    rules = [r for r in await load_active_rules(uow=uow, scopes=("post",)) if "death" in r.family.needs]
    if not rules:
        return []
    raised: list[int] = []
    for record in await uow.claims.standing_of_person(psn_no):
        claim = await claim_from_record(uow=uow, record=record)
        raised += await run_post_rules(uow=uow, claim=claim, rules=rules, clock=clock)
    return raised


async def after_reversed(*, uow: FraudUnitOfWork, setl_id: str, clock: Clock) -> int:
    """A reversed settlement paid nothing in the end: its open findings are dismissed (nothing to recover)."""
    rows = await uow.findings.open_of_settlement(setl_id, status=OPEN)
    for row in rows:
        await _dismiss(
            uow,
            row,
            note="结算已冲正 settlement reversed: nothing left to recover",
            by=SYSTEM,
            clock=clock,
        )
    return len(rows)


# --- reading ---------------------------------------------------------------------------------------------


async def list_findings(
    *,
    uow: FraudUnitOfWork,
    status: str | None,
    fixmedins_code: str | None,
    rule_id: int | None,
    psn_no: str | None,
    category: str | None,
    family: str | None,
    limit: int,
    cursor: str | None,
) -> Page[Finding]:
    """Findings newest first, filtered."""
    return await uow.findings.page(
        status=status,
        fixmedins_code=fixmedins_code,
        rule_id=rule_id,
        psn_no=psn_no,
        category=category,
        family=family,
        limit=limit,
        cursor=cursor,
    )


async def get_finding(*, uow: FraudUnitOfWork, finding_id: int, for_update: bool = False) -> Finding:
    """One finding; 404 FINDING_NOT_FOUND."""
    row = await uow.findings.get(finding_id, for_update=for_update)
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
    *, uow: FraudUnitOfWork, finding_id: int, body: ConfirmIn, by: str, clock: Clock
) -> Finding:
    """疑点成立: confirm with the amount proposed for recovery (≤ the settlement's fund pay); nothing is deducted.

    Only a decided case (fraud.service.cases) becomes deductions: it takes open or confirmed findings, and its
    decision publishes fraud.finding.confirmed and fraud.case.decided. An assistance finding (high burden) is
    not fraud: it is acknowledged with nothing to recover. A finding in a case is the case's to decide.
    """
    row = await get_finding(uow=uow, finding_id=finding_id, for_update=True)
    _ensure_open(row)
    await _ensure_not_in_case(uow, row)
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
    await uow.findings.flush()
    return row


async def _ensure_not_in_case(uow: FraudUnitOfWork, row: Finding) -> None:
    case_id = (await uow.cases.cases_of_findings([row.finding_id])).get(row.finding_id)
    if case_id is not None:
        raise Conflict(
            f"Finding {row.finding_id} is in case {case_id}: the case decides it.",
            code="FINDING_IN_CASE",
            finding_id=row.finding_id,
            case_id=case_id,
        )


async def dismiss_finding(
    *, uow: FraudUnitOfWork, finding_id: int, body: DismissIn, by: str, clock: Clock
) -> Finding:
    """Dismiss an open finding, with who and why; fraud.finding.dismissed via the outbox."""
    row = await get_finding(uow=uow, finding_id=finding_id, for_update=True)
    _ensure_open(row)
    await _ensure_not_in_case(uow, row)
    await _dismiss(uow, row, note=body.note, by=by, clock=clock)
    return row


async def dismiss_in_case(uow: FraudUnitOfWork, row: Finding, *, note: str, by: str, clock: Clock) -> None:
    """A case's finding dismissed by its decision (appeal overturned), whether open or confirmed."""
    await _dismiss(uow, row, note=note, by=by, clock=clock)


async def _dismiss(uow: FraudUnitOfWork, row: Finding, *, note: str, by: str, clock: Clock) -> None:
    now = clock.now()
    row.status, row.note, row.decided_by, row.decided_at = DISMISSED, note, by, now
    await uow.findings.flush()
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
    await uow.publish(
        new_event(
            type=Subject.FINDING_DISMISSED,
            source="fraud",
            subject=str(row.finding_id),
            data=data.model_dump(mode="json"),
            clock=clock,
        )
    )
