"""Cases (案件, 疑点核查 → 告知 → 申诉 → 处理决定): opened on findings, appealed, refunded, decided, closed.

Only a decided case becomes deductions: its decision (or the institution's voluntary refund) publishes
fraud.case.decided (recoveries, penalty) and, per finding with something to recover, fraud.finding.confirmed,
all through the outbox in the decision's transaction. case.decided goes first, so a settlement consumer that
reads the stream in order keeps a case's recoveries and its penalty in one transaction (the finding events
then change nothing); each is kept once, so any order gives the same deductions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from common.clock import Clock, business_date
from common.errors import Conflict, NotFound, Unprocessable
from common.events.contracts import Subject
from common.events.envelope import new_event
from common.events.fraud import CaseDecided, CaseFindingRecovery, CasePointsAgainst, FindingConfirmed
from common.money import fen_to_yuan, yuan_to_fen
from common.repository import Page
from fraud.config import Settings
from fraud.domain.cases import (
    APPEALED,
    CLOSED,
    DECIDED,
    NOTIFIED,
    OUTCOME_DECIDED,
    OUTCOME_OVERTURNED,
    OUTCOME_REFUNDED,
    UPHELD,
    PenaltyBand,
    PenaltyOutOfScale,
    WorkingCalendar,
    appeal_deadline,
    check_penalty,
    penalty_fen,
    window_open,
)
from fraud.domain.families import ASSISTANCE
from fraud.domain.practitioners import PointsScale
from fraud.models import Case, CaseEvent, CaseFinding, Finding
from fraud.schemas.cases import AppealIn, AppealReviewIn, CaseIn, CloseIn, DecideIn, PointsIn, RefundIn
from fraud.service.findings import CONFIRMED, DISMISSED, dismiss_in_case
from fraud.service.practitioners import record_points, scale_of
from fraud.uow import FraudUnitOfWork

NO_PENALTY = "none"


def _now(clock: Clock) -> datetime:
    """Now in UTC, as the database gives it back: an answer reads the same before and after a reload."""
    return clock.now().astimezone(UTC)


@dataclass(frozen=True, slots=True)
class CasePolicy:
    """The appeal window (working days, the calendar) and the penalty scale, from the service's settings."""

    appeal_working_days: int
    calendar: WorkingCalendar
    scale: Mapping[str, PenaltyBand]
    points_scale: PointsScale | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> CasePolicy:
        return cls(
            appeal_working_days=settings.case_appeal_working_days,
            calendar=WorkingCalendar.of(settings.case_holidays, settings.case_makeup_workdays),
            scale={
                basis: PenaltyBand(Decimal(low), Decimal(high))
                for basis, (low, high) in settings.case_penalty_scale.items()
            },
            points_scale=scale_of(settings),
        )


@dataclass(frozen=True, slots=True)
class CaseView:
    """A case with its findings (and its history, when asked for)."""

    case: Case
    findings: list[tuple[CaseFinding, Finding]]
    history: list[CaseEvent] | None


# --- reading ---------------------------------------------------------------------------------------------


async def get_case(*, uow: FraudUnitOfWork, case_id: int, for_update: bool = False) -> Case:
    """One case; 404 CASE_NOT_FOUND."""
    row = await uow.cases.get(case_id, for_update=for_update)
    if row is None:
        raise NotFound(f"No case {case_id}.", code="CASE_NOT_FOUND")
    return row


async def view_case(*, uow: FraudUnitOfWork, case: Case) -> CaseView:
    """A case with its findings and its whole history."""
    found = await uow.cases.findings_of([case.case_id])
    return CaseView(case, found[case.case_id], await uow.cases.history(case.case_id))


async def list_cases(
    *, uow: FraudUnitOfWork, status: str | None, fixmedins_code: str | None, limit: int, cursor: str | None
) -> tuple[list[CaseView], str | None]:
    """Cases newest first with their findings, and the next page's cursor."""
    page: Page[Case] = await uow.cases.page(
        status=status, fixmedins_code=fixmedins_code, limit=limit, cursor=cursor
    )
    found = await uow.cases.findings_of([row.case_id for row in page.items])
    return [CaseView(row, found[row.case_id], None) for row in page.items], page.next_cursor


# --- opening and notifying ---------------------------------------------------------------------------------


def _duplicates(ids: Sequence[int]) -> None:
    seen: set[int] = set()
    for finding_id in ids:
        if finding_id in seen:
            raise Unprocessable(
                f"Finding {finding_id} is listed twice.", code="DUPLICATE_FINDING", finding_id=finding_id
            )
        seen.add(finding_id)


def _within_fund_pay(finding: Finding, amount_fen: int) -> None:
    if amount_fen > finding.fund_pay_fen:
        raise Unprocessable(
            f"Finding {finding.finding_id}: {fen_to_yuan(amount_fen)} exceeds the settlement's fund pay "
            f"{fen_to_yuan(finding.fund_pay_fen)}.",
            code="AMOUNT_EXCEEDS_FUND_PAY",
            finding_id=finding.finding_id,
            fund_pay_sumamt=str(fen_to_yuan(finding.fund_pay_fen)),
        )


def _default_amount(finding: Finding) -> int | None:
    """What a finding puts at stake unless told: its confirmed amount, else its amount concerned (capped)."""
    if finding.status == CONFIRMED and finding.amount_to_recover_fen is not None:
        return finding.amount_to_recover_fen
    if finding.vola_fen is not None:
        return min(finding.vola_fen, finding.fund_pay_fen)
    return None


async def open_case(
    *, uow: FraudUnitOfWork, body: CaseIn, policy: CasePolicy, by: str, clock: Clock
) -> CaseView:
    """立案并告知: a case on open or confirmed fraud findings of one institution, notified now.

    The appeal deadline is N working days after today (Asia/Shanghai). A finding is in one case only.
    """
    ids = [item.finding_id for item in body.findings]
    _duplicates(ids)
    # Locked in id order, so two cases opened at once on the same findings wait rather than deadlock.
    locked = {finding_id: await uow.findings.get(finding_id, for_update=True) for finding_id in sorted(ids)}
    findings: list[tuple[Finding, int]] = []
    for item in body.findings:
        finding = locked[item.finding_id]
        if finding is None:
            raise NotFound(
                f"No finding {item.finding_id}.", code="FINDING_NOT_FOUND", finding_id=item.finding_id
            )
        if finding.category == ASSISTANCE:
            raise Unprocessable(
                f"Finding {finding.finding_id} is an assistance finding (high burden), not a fraud suspicion.",
                code="FINDING_NOT_FRAUD",
                finding_id=finding.finding_id,
            )
        if finding.status == DISMISSED:
            raise Conflict(
                f"Finding {finding.finding_id} was dismissed.",
                code="FINDING_DISMISSED",
                finding_id=finding.finding_id,
            )
        amount = yuan_to_fen(item.amount) if item.amount is not None else _default_amount(finding)
        if amount is None:
            raise Unprocessable(
                f"Finding {finding.finding_id} names no amount: give the amount to notify.",
                code="AMOUNT_REQUIRED",
                finding_id=finding.finding_id,
            )
        _within_fund_pay(finding, amount)
        findings.append((finding, amount))
    institutions = sorted({finding.fixmedins_code for finding, _ in findings})
    if len(institutions) > 1:
        raise Unprocessable(
            "A case is about one institution; these findings are of several.",
            code="FINDINGS_OF_SEVERAL_INSTITUTIONS",
            fixmedins_codes=institutions,
        )
    taken = await uow.cases.cases_of_findings(ids)
    if taken:
        finding_id, case_id = min(taken.items())
        raise Conflict(
            f"Finding {finding_id} is already in case {case_id}.",
            code="FINDING_IN_CASE",
            finding_id=finding_id,
            case_id=case_id,
        )
    now = _now(clock)
    today = business_date(now)
    case = Case(
        fixmedins_code=institutions[0],
        status=NOTIFIED,
        outcome=None,
        summary=body.summary,
        proposed_fen=sum(amount for _, amount in findings),
        notified_on=today,
        appeal_deadline=appeal_deadline(today, policy.appeal_working_days, policy.calendar),
        created_at=now,
        created_by=by,
        updated_at=now,
    )
    uow.cases.add(case)
    await uow.flush()
    for finding, amount in findings:
        uow.cases.add_finding(
            CaseFinding(
                case_id=case.case_id, finding_id=finding.finding_id, proposed_fen=amount, recovery_fen=None
            )
        )
    _history(
        uow,
        case,
        "notified",
        None,
        by=by,
        at=now,
        note=body.summary,
        detail={"appeal_deadline": case.appeal_deadline.isoformat()},
    )
    await uow.flush()
    return await view_case(uow=uow, case=case)


# --- the institution's answer: appeal or voluntary refund -------------------------------------------------


def _ensure_status(case: Case, allowed: Sequence[str], code: str, what: str) -> None:
    if case.status not in allowed:
        raise Conflict(
            f"Case {case.case_id} is {case.status}; {what}.",
            code=code,
            status_now=case.status,
            allowed=list(allowed),
        )


def _ensure_window(case: Case, today: date) -> None:
    if not window_open(today, case.appeal_deadline):
        raise Unprocessable(
            f"The window to answer case {case.case_id} closed on {case.appeal_deadline} (today is {today}).",
            code="APPEAL_WINDOW_CLOSED",
            appeal_deadline=case.appeal_deadline.isoformat(),
        )


async def appeal(*, uow: FraudUnitOfWork, case: Case, body: AppealIn, by: str, clock: Clock) -> CaseView:
    """申诉: notified → appealed, up to and including the deadline day (422 APPEAL_WINDOW_CLOSED after it)."""
    _ensure_status(case, (NOTIFIED,), "CASE_NOT_NOTIFIED", "only a notified case can be appealed")
    now = _now(clock)
    _ensure_window(case, business_date(now))
    case.appeal_statement = body.statement
    case.appeal_files = [file.model_dump() for file in body.files]
    case.appealed_at, case.appealed_by = now, by
    _move(uow, case, APPEALED, "appealed", by=by, at=now, note=None, detail={"files": len(body.files)})
    await uow.flush()
    return await view_case(uow=uow, case=case)


async def review_appeal(
    *, uow: FraudUnitOfWork, case: Case, body: AppealReviewIn, by: str, clock: Clock
) -> CaseView:
    """申诉复核: upheld → the case awaits the decision; overturned → its findings dismissed, the case closed."""
    _ensure_status(
        case, (APPEALED,), "CASE_NOT_APPEALED", "only an appealed case can have its appeal reviewed"
    )
    now = _now(clock)
    case.review_note, case.reviewed_at, case.reviewed_by = body.note, now, by
    if body.outcome == "upheld":
        _move(uow, case, UPHELD, "appeal_upheld", by=by, at=now, note=body.note)
    else:
        links = await uow.cases.lock_findings(case.case_id)
        for link, finding in links:
            link.recovery_fen = 0
            if finding.status != DISMISSED:
                note = f"申诉成立 the appeal in case {case.case_id} succeeded: {body.note}"
                await dismiss_in_case(uow, finding, note=note[:500], by=by, clock=clock)
        case.outcome, case.recovery_fen = OUTCOME_OVERTURNED, 0
        case.closed_at, case.closed_by = now, by
        _move(uow, case, CLOSED, "appeal_overturned", by=by, at=now, note=body.note)
    await uow.flush()
    return await view_case(uow=uow, case=case)


async def refund(*, uow: FraudUnitOfWork, case: Case, body: RefundIn, by: str, clock: Clock) -> CaseView:
    """自查自纠: notified → decided at once, recovery = the amounts notified, no penalty, no points."""
    _ensure_status(case, (NOTIFIED,), "CASE_NOT_NOTIFIED", "only a notified case can be settled by a refund")
    now = _now(clock)
    _ensure_window(case, business_date(now))
    links = await uow.cases.lock_findings(case.case_id)
    recoveries = {f.finding_id: (0 if f.status == DISMISSED else link.proposed_fen) for link, f in links}
    await _decide(
        uow,
        case,
        links,
        recoveries,
        basis=NO_PENALTY,
        multiple=Decimal(0),
        points=[],
        referral=False,
        referral_to=None,
        note=body.statement,
        outcome=OUTCOME_REFUNDED,
        by=by,
        now=now,
        clock=clock,
    )
    return await view_case(uow=uow, case=case)


# --- the decision -----------------------------------------------------------------------------------------


def _ensure_decidable(case: Case, today: date) -> None:
    if case.status == NOTIFIED and window_open(today, case.appeal_deadline):
        raise Conflict(
            f"Case {case.case_id} may still be appealed until {case.appeal_deadline}; decide after that.",
            code="APPEAL_WINDOW_OPEN",
            status_now=case.status,
            appeal_deadline=case.appeal_deadline.isoformat(),
        )
    _ensure_status(
        case,
        (NOTIFIED, UPHELD),
        "CASE_NOT_DECIDABLE",
        "a case is decided once its appeal window passed unanswered or its appeal was upheld",
    )


def _recoveries(body: DecideIn, links: Sequence[tuple[CaseFinding, Finding]]) -> dict[int, int]:
    by_id = {finding.finding_id: (link, finding) for link, finding in links}
    amounts = {
        finding.finding_id: (0 if finding.status == DISMISSED else link.proposed_fen)
        for link, finding in links
    }
    if body.recoveries is None:
        return amounts
    _duplicates([item.finding_id for item in body.recoveries])
    for item in body.recoveries:
        if item.finding_id not in by_id:
            raise Unprocessable(
                f"Finding {item.finding_id} is not in this case.",
                code="FINDING_NOT_IN_CASE",
                finding_id=item.finding_id,
            )
        _, finding = by_id[item.finding_id]
        amount = yuan_to_fen(item.amount)
        if finding.status == DISMISSED and amount:
            raise Unprocessable(
                f"Finding {finding.finding_id} was dismissed (its settlement reversed): nothing to recover.",
                code="FINDING_DISMISSED",
                finding_id=finding.finding_id,
            )
        _within_fund_pay(finding, amount)
        amounts[item.finding_id] = amount
    return amounts


async def decide(
    *, uow: FraudUnitOfWork, case: Case, body: DecideIn, policy: CasePolicy, by: str, clock: Clock
) -> CaseView:
    """处理决定: recovery per finding (≤ its fund pay), the penalty by the scale, points, referral → decided."""
    now = _now(clock)
    _ensure_decidable(case, business_date(now))
    try:
        check_penalty(policy.scale, body.penalty_basis, body.penalty_multiple)
    except PenaltyOutOfScale as exc:
        extra: dict[str, Any] = {
            "scale": {k: [str(b.minimum), str(b.maximum)] for k, b in policy.scale.items()}
        }
        raise Unprocessable(str(exc), code=exc.code, **extra) from exc
    if body.referral_to is not None and not body.referral:
        raise Unprocessable("referral_to is given but referral is false.", code="REFERRAL_INCONSISTENT")
    codes = [entry.prac_codg for entry in body.points]
    if len(set(codes)) != len(codes):
        raise Unprocessable(
            "A practitioner is listed twice: a case gives each practitioner one points entry.",
            code="DUPLICATE_PRACTITIONER",
        )
    links = await uow.cases.lock_findings(case.case_id)
    recoveries = _recoveries(body, links)
    await _decide(
        uow,
        case,
        links,
        recoveries,
        basis=body.penalty_basis,
        multiple=body.penalty_multiple,
        points=body.points,
        referral=body.referral,
        referral_to=body.referral_to,
        note=body.note,
        outcome=OUTCOME_DECIDED,
        by=by,
        now=now,
        clock=clock,
        points_scale=policy.points_scale,
    )
    return await view_case(uow=uow, case=case)


def _multiple_text(multiple: Decimal) -> str:
    return format(multiple.normalize(), "f") if multiple else "0"


async def _decide(
    uow: FraudUnitOfWork,
    case: Case,
    links: Sequence[tuple[CaseFinding, Finding]],
    recoveries: Mapping[int, int],
    *,
    basis: str,
    multiple: Decimal,
    points: Sequence[PointsIn],
    referral: bool,
    referral_to: str | None,
    note: str,
    outcome: str,
    by: str,
    now: datetime,
    clock: Clock,
    points_scale: PointsScale | None = None,
) -> None:
    total = sum(recoveries.values())
    penalty = penalty_fen(total, multiple)
    for link, finding in links:
        link.recovery_fen = recoveries[finding.finding_id]
        if finding.status != DISMISSED:
            finding.status, finding.amount_to_recover_fen = CONFIRMED, link.recovery_fen
            finding.note, finding.decided_by, finding.decided_at = note, by, now
    if points:
        await _record_points(uow, case, points, scale=points_scale, by=by, now=now, clock=clock)
    case.recovery_fen, case.penalty_basis, case.penalty_multiple = total, basis, _multiple_text(multiple)
    case.penalty_fen, case.points = penalty, [p.model_dump() for p in points]
    case.referral, case.referral_to, case.decision_note = referral, referral_to, note
    case.outcome, case.decided_at, case.decided_by = outcome, now, by
    _move(
        uow,
        case,
        DECIDED,
        "refunded" if outcome == OUTCOME_REFUNDED else "decided",
        by=by,
        at=now,
        note=note,
        detail={
            "recovery": str(fen_to_yuan(total)),
            "penalty_multiple": case.penalty_multiple,
            "penalty_amount": str(fen_to_yuan(penalty)),
        },
    )
    await uow.flush()
    await _publish_decision(uow, case, links, points, clock=clock)


async def _record_points(
    uow: FraudUnitOfWork,
    case: Case,
    points: Sequence[PointsIn],
    *,
    scale: PointsScale | None,
    by: str,
    now: datetime,
    clock: Clock,
) -> None:
    """记分 through the practitioners' registry (404 PRACTITIONER_NOT_FOUND undoes the whole decision)."""
    for entry in points:
        await record_points(
            uow=uow,
            prac_codg=entry.prac_codg,
            points=entry.points,
            reason=entry.reason,
            source="case",
            source_id=str(case.case_id),
            on_date=business_date(now),
            by=by,
            clock=clock,
            scale=scale,
        )


async def _publish_decision(
    uow: FraudUnitOfWork,
    case: Case,
    links: Sequence[tuple[CaseFinding, Finding]],
    points: Sequence[PointsIn],
    *,
    clock: Clock,
) -> None:
    assert case.decided_at is not None and case.decided_by is not None and case.recovery_fen is not None
    decided = CaseDecided(
        case_id=str(case.case_id),
        fixmedins_code=case.fixmedins_code,
        outcome=case.outcome or OUTCOME_DECIDED,
        findings=[
            CaseFindingRecovery(
                finding_id=str(finding.finding_id),
                rule_id=str(finding.rule_id),
                rule_version=finding.rule_version,
                family=finding.family,
                setl_id=finding.setl_id,
                psn_no=finding.psn_no,
                recovery=fen_to_yuan(link.recovery_fen or 0),
            )
            for link, finding in links
        ],
        total_recovery=fen_to_yuan(case.recovery_fen),
        penalty_basis=case.penalty_basis or NO_PENALTY,
        penalty_multiple=Decimal(case.penalty_multiple or "0"),
        penalty_amount=fen_to_yuan(case.penalty_fen or 0),
        points=[CasePointsAgainst(prac_codg=p.prac_codg, points=p.points, reason=p.reason) for p in points],
        referral=bool(case.referral),
        referral_to=case.referral_to,
        note=case.decision_note,
        decided_at=case.decided_at,
        decided_by=case.decided_by,
    )
    await uow.publish(
        new_event(
            type=Subject.CASE_DECIDED,
            source="fraud",
            subject=str(case.case_id),
            data=decided.model_dump(mode="json"),
            clock=clock,
        )
    )
    for link, finding in links:
        if not link.recovery_fen:
            continue
        confirmed = FindingConfirmed(
            finding_id=str(finding.finding_id),
            rule_id=str(finding.rule_id),
            rule_version=finding.rule_version,
            family=finding.family,
            setl_id=finding.setl_id,
            psn_no=finding.psn_no,
            fixmedins_code=finding.fixmedins_code,
            amount_to_recover=fen_to_yuan(link.recovery_fen),
            note=case.decision_note,
            confirmed_at=case.decided_at,
            confirmed_by=case.decided_by,
            case_id=str(case.case_id),
        )
        await uow.publish(
            new_event(
                type=Subject.FINDING_CONFIRMED,
                source="fraud",
                subject=str(finding.finding_id),
                data=confirmed.model_dump(mode="json"),
                clock=clock,
            )
        )


async def close(*, uow: FraudUnitOfWork, case: Case, body: CloseIn, by: str, clock: Clock) -> CaseView:
    """结案: decided → closed."""
    _ensure_status(case, (DECIDED,), "CASE_NOT_DECIDED", "only a decided case can be closed")
    now = _now(clock)
    case.closed_at, case.closed_by = now, by
    _move(uow, case, CLOSED, "closed", by=by, at=now, note=body.note)
    await uow.flush()
    return await view_case(uow=uow, case=case)


# --- history ----------------------------------------------------------------------------------------------


def _move(
    uow: FraudUnitOfWork,
    case: Case,
    to: str,
    action: str,
    *,
    by: str,
    at: datetime,
    note: str | None,
    detail: dict[str, Any] | None = None,
) -> None:
    before = case.status
    case.status, case.updated_at = to, at
    _history(uow, case, action, before, by=by, at=at, note=note, detail=detail)


def _history(
    uow: FraudUnitOfWork,
    case: Case,
    action: str,
    before: str | None,
    *,
    by: str,
    at: datetime,
    note: str | None,
    detail: dict[str, Any] | None = None,
) -> None:
    uow.cases.add_event(
        CaseEvent(
            case_id=case.case_id,
            action=action,
            status_from=before,
            status_to=case.status,
            at=at,
            by=by,
            note=note[:500] if note else None,
            detail=detail,
        )
    )
