"""Month reconciliation (月核算), prepayments (预付) and deductions (扣款) from confirmed fraud findings.

A month is reconciled per institution: the sum of its daily statements (日结算单) against the same totals
recomputed from the settlements and reversals those closes claimed (`day_close_date` in the month). A day
where the two differ is a mismatch, listed with its settlements and never absorbed: a month with one cannot
be confirmed. Deductions (confirmed fraud findings not yet applied, confirmed on or before the month's last
day) and outstanding prepayments (paid on or before it) are taken off: net adjustment = −(deductions +
prepayments), negative meaning the institution owes the bureau (withheld from its next disbursements).

Status: draft (recomputable) → confirmed (deductions and prepayments marked as taken, the event sent) →
locked (never changes). Anything that arrives after a month was confirmed is still unapplied, so the next
month picks it up. Months are reconciled in order: a month is computed only when every earlier month is
locked or never had a daily statement, and never once a later month has a reconciliation. On PostgreSQL a
transaction-scoped advisory lock serialises compute, confirm and lock across replicas.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

from common.clock import Clock, business_date
from common.errors import Conflict, NotFound, Unprocessable
from common.events.contracts import Subject
from common.events.envelope import new_event
from common.events.fraud import CaseDecided, FindingConfirmed
from common.money import fen_to_yuan, yuan_to_fen
from common.repository import Page
from settlement.domain.ledger import BANK, Leg, fund_account, payable_account
from settlement.domain.monthly import (
    AMOUNTS,
    CONFIRMED,
    COUNTS,
    DRAFT,
    LOCKED,
    InstitutionMonth,
    month_bounds,
    month_of,
    next_day_start,
    open_dates,
    reconcile_days,
    stale_institution,
)
from settlement.domain.split import POOL_FUND
from settlement.models import Deduction, MonthlyReconciliation, MonthlyStatement, Prepayment
from settlement.schemas.monthly import (
    MismatchOut,
    MonthlyReconciliationOut,
    MonthlyStatementOut,
    PrepaymentIn,
    ReconciliationStatus,
    Totals,
)
from settlement.service.clearing import month_points, points_view, post_reserves
from settlement.uow import SettlementUnitOfWork

log = logging.getLogger("settlement.monthly")
SOURCE = "settlement"


def _utc_now(clock: Clock) -> datetime:
    """Now in UTC, as the database gives it back: an answer reads the same before and after a reload."""
    return clock.now().astimezone(UTC)


# --- reading the month --------------------------------------------------------------------------------


async def gather_month(uow: SettlementUnitOfWork, month: str) -> dict[str, InstitutionMonth]:
    """Every institution of the month with both sides, its mismatches (with setl_ids) and what it owes."""
    first, last = month_bounds(month)
    months = reconcile_days(
        await uow.months.statement_days(first, last), await uow.months.settlement_days(first, last)
    )
    for code, entry in months.items():
        for mismatch in entry.mismatches:
            claimed = await uow.months.claimed_ids(code, date.fromisoformat(mismatch["business_date"]))
            mismatch["setl_ids"], mismatch["setl_id_count"] = claimed.setl_ids, claimed.count
    for deduction in await uow.deductions.open_before(next_day_start(last)):
        entry = months.setdefault(deduction.fixmedins_code, InstitutionMonth())
        if deduction.kind == PENALTY:
            entry.penalty_case_ids.append(deduction.case_id or deduction.finding_id.removeprefix(CASE_KEY))
            entry.penalties_fen += deduction.amount_fen
        else:
            entry.deduction_ids.append(deduction.finding_id)
            entry.deductions_fen += deduction.amount_fen
    for prepayment in await uow.prepayments.outstanding_on(last):
        entry = months.setdefault(prepayment.fixmedins_code, InstitutionMonth())
        entry.prepayment_ids.append(prepayment.prepayment_id)
        entry.prepayments_fen += prepayment.amount_fen
    for code, points in (await month_points(uow, month)).items():
        entry = months.setdefault(code, InstitutionMonth())
        entry.quality_reserve_fen, entry.points = points.quality_reserve_fen, points.entries
    return dict(sorted(months.items()))


# --- the preconditions --------------------------------------------------------------------------------


async def _ensure_in_order(uow: SettlementUnitOfWork, month: str) -> None:
    """409 unless every earlier month is locked or never had a daily statement, and no later month exists."""
    later = await uow.months.first_later_month(month)
    if later is not None:
        raise Conflict(
            f"{later} is already reconciled; months are reconciled in order, and what belongs to {month} "
            f"now lands in the next open month.",
            code="LATER_MONTH_RECONCILED",
            later_month=later,
        )
    earlier = await uow.months.earlier_months(month)
    not_locked = [state.month for state in earlier if state.status != LOCKED]
    if not_locked:
        raise Conflict(
            f"Earlier months are not locked yet: {', '.join(not_locked)}.",
            code="PREVIOUS_MONTH_OPEN",
            open_months=not_locked,
        )
    # Months before the last reconciled one were checked when it was computed.
    since = month_bounds(earlier[-1].month)[1] if earlier else None
    days = await uow.months.statement_dates(before=month_bounds(month)[0], after=since)
    never = sorted({month_of(day) for day in days})
    if never:
        raise Conflict(
            f"Earlier months had daily statements and were never reconciled: {', '.join(never)}.",
            code="PREVIOUS_MONTH_OPEN",
            open_months=never,
        )


async def _ensure_closed(uow: SettlementUnitOfWork, month: str) -> None:
    """422 unless every day of the month is closed.

    Closes run in date order and each claims everything not yet closed up to its date, so a day on or
    before the latest close is closed, even one before the very first close (its settlements went there).
    """
    still_open = [day.isoformat() for day in open_dates(month, await uow.months.latest_closed_day())]
    if still_open:
        raise Unprocessable(
            f"{month} has days not closed yet ({still_open[0]} to {still_open[-1]}); close them first (日结算).",
            code="MONTH_NOT_CLOSED",
            open_dates=still_open,
        )


async def _reconciliation(uow: SettlementUnitOfWork, month: str) -> MonthlyReconciliation:
    found = await uow.months.get(month)
    if found is None:
        raise NotFound(f"{month} has not been reconciled.", code="MONTH_NOT_FOUND", month=month)
    return found


# --- use cases: compute, confirm, lock -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MonthOutcome:
    """A month's reconciliation as it now stands, and whether this call created (or changed) it."""

    reconciliation: MonthlyReconciliationOut
    created: bool


async def compute_month(
    *, uow: SettlementUnitOfWork, month: str, computed_by: str, clock: Clock
) -> MonthOutcome:
    """月核算: compute a month (or recompute its draft) from its closed days, deductions and prepayments."""
    await uow.months.lock()
    existing = await uow.months.get(month)
    if existing is not None and existing.status != DRAFT:
        raise Conflict(
            f"{month} is {existing.status}; only a draft can be recomputed "
            f"(later corrections land in the next month).",
            code="MONTH_NOT_DRAFT",
            month_status=existing.status,
        )
    await _ensure_in_order(uow, month)
    await _ensure_closed(uow, month)
    now = _utc_now(clock)
    computed = await gather_month(uow, month)
    created = existing is None
    if existing is None:
        existing = MonthlyReconciliation(month=month, status=DRAFT, computed_at=now, computed_by=computed_by)
        uow.months.add(existing)
        await uow.flush()
    else:
        existing.computed_at, existing.computed_by = now, computed_by
    await uow.months.replace_statements(
        month,
        [
            {
                "month": month,
                "fixmedins_code": code,
                "statements": entry.statements,
                "settlements": entry.settlements,
                "mismatches": entry.mismatches,
                "deductions_fen": entry.deductions_fen,
                "deduction_ids": entry.deduction_ids,
                "prepayments_fen": entry.prepayments_fen,
                "prepayment_ids": entry.prepayment_ids,
                "net_adjustment_fen": entry.net_adjustment_fen,
                "quality_reserve_fen": entry.quality_reserve_fen,
                "points": entry.points,
                "penalties_fen": entry.penalties_fen,
                "penalty_case_ids": entry.penalty_case_ids,
                "computed_at": now,
            }
            for code, entry in computed.items()
        ],
        existing=not created,
    )
    view = reconciliation_out(existing, await uow.months.statements(month))
    unbalanced = sum(1 for entry in computed.values() if entry.mismatches)
    log.info("computed %s: %d institutions, %d unbalanced", month, len(computed), unbalanced)
    return MonthOutcome(view, created)


async def confirm_month(
    *, uow: SettlementUnitOfWork, month: str, confirmed_by: str, clock: Clock
) -> MonthOutcome:
    """draft → confirmed: takes the draft's deductions and prepayments and sends settlement.month.reconciled.

    Refused while any day mismatches, and when the closed days no longer add up to what the draft shows;
    confirming a confirmed month again answers with it unchanged.
    """
    await uow.months.lock()
    reconciliation = await _reconciliation(uow, month)
    if reconciliation.status == CONFIRMED:
        return MonthOutcome(reconciliation_out(reconciliation, await uow.months.statements(month)), False)
    if reconciliation.status != DRAFT:
        raise Conflict(
            f"{month} is {reconciliation.status}; it cannot be confirmed again.",
            code="MONTH_NOT_DRAFT",
            month_status=reconciliation.status,
        )
    rows = await uow.months.statements(month)
    unbalanced = [row.fixmedins_code for row in rows if row.mismatches]
    if unbalanced:
        raise Conflict(
            f"{month} does not balance for {len(unbalanced)} institution(s): their daily statements differ "
            f"from their settlements. A mismatch is never absorbed; correct it and recompute.",
            code="MONTH_UNBALANCED",
            institutions=unbalanced,
        )
    await _ensure_still_current(uow, month, rows)
    deduction_ids = [i for row in rows for i in row.deduction_ids]
    deduction_ids += [penalty_key(i) for row in rows for i in row.penalty_case_ids or []]
    prepayment_ids = [int(i) for row in rows for i in row.prepayment_ids]
    _ensure_all_taken(
        await uow.deductions.take(deduction_ids, month), deduction_ids, month, what="deductions"
    )
    _ensure_all_taken(
        await uow.prepayments.take(prepayment_ids, month), prepayment_ids, month, what="prepayments"
    )
    now = _utc_now(clock)
    await _post_deductions(uow, deduction_ids, month=month, now=now)
    await post_reserves(
        uow, {row.fixmedins_code: row.quality_reserve_fen for row in rows}, month=month, now=now
    )
    reconciliation.status = CONFIRMED
    reconciliation.confirmed_at, reconciliation.confirmed_by = now, confirmed_by
    await uow.flush()
    view = reconciliation_out(reconciliation, rows)
    await uow.publish(
        new_event(
            type=Subject.MONTH_RECONCILED,
            source=SOURCE,
            subject=month,
            data={
                "month": month,
                "confirmed_at": now.isoformat(),
                "confirmed_by": confirmed_by,
                "institutions": [statement.model_dump(mode="json") for statement in view.statements],
            },
            clock=clock,
        )
    )
    log.info("confirmed %s: %d institutions", month, len(rows))
    return MonthOutcome(view, True)


async def _post_deductions(
    uow: SettlementUnitOfWork, finding_ids: Sequence[str], *, month: str, now: datetime
) -> None:
    """扣款 journals: the fund that paid recovers the amount, the institution is owed that much less; a case's
    penalty (罚款/违约金) is owed less too, held in `penalty:<code>` until it is remitted as decided."""
    if not finding_ids:
        return
    on = month_bounds(month)[1]
    for deduction in await uow.deductions.to_post(finding_ids):
        if deduction.kind == PENALTY:
            kind, other = "penalty", penalty_account(deduction.fixmedins_code)
            ref = f"penalty:{deduction.finding_id.removeprefix(CASE_KEY)}"
        else:
            kind, other = "deduction", fund_account(POOL_FUND.get(deduction.insutype or "", "recovered"))
            ref = f"deduction:{deduction.finding_id}"
        await uow.journal.post(
            kind=kind,
            ref=ref,
            business_date=on,
            legs=[
                Leg(payable_account(deduction.fixmedins_code), deduction.amount_fen),
                Leg(other, -deduction.amount_fen),
            ],
            now=now,
        )


async def _ensure_still_current(
    uow: SettlementUnitOfWork, month: str, rows: Sequence[MonthlyStatement]
) -> None:
    """409 when the closed days no longer add up to what the draft shows (a statement or settlement changed)."""
    first, last = month_bounds(month)
    now = reconcile_days(
        await uow.months.statement_days(first, last), await uow.months.settlement_days(first, last)
    )
    code = stale_institution({row.fixmedins_code: (row.statements, row.settlements) for row in rows}, now)
    if code is not None:
        raise Conflict(
            f"{month}'s closed days no longer add up to its draft (institution {code}); recompute it.",
            code="RECONCILIATION_STALE",
            fixmedins_code=code,
        )


def _ensure_all_taken(taken: int, ids: Sequence[object], month: str, *, what: str) -> None:
    """409 when another month took some of the draft's deductions or prepayments meanwhile."""
    if taken != len(ids):
        raise Conflict(
            f"{len(ids) - taken} of the draft's {what} were taken by another month meanwhile; recompute {month}.",
            code="RECONCILIATION_STALE",
        )


async def lock_month(*, uow: SettlementUnitOfWork, month: str, locked_by: str, clock: Clock) -> MonthOutcome:
    """confirmed → locked: the month never changes again; locking a locked month answers with it unchanged."""
    await uow.months.lock()
    reconciliation = await _reconciliation(uow, month)
    if reconciliation.status == DRAFT:
        raise Conflict(
            f"{month} is a draft; confirm it before locking it.",
            code="MONTH_NOT_CONFIRMED",
            month_status=DRAFT,
        )
    changed = reconciliation.status == CONFIRMED
    if changed:
        reconciliation.status = LOCKED
        reconciliation.locked_at, reconciliation.locked_by = _utc_now(clock), locked_by
        await uow.flush()
    return MonthOutcome(reconciliation_out(reconciliation, await uow.months.statements(month)), changed)


# --- reading -------------------------------------------------------------------------------------------


async def get_month(
    *, uow: SettlementUnitOfWork, month: str, only_fixmedins_code: str | None = None
) -> MonthlyReconciliationOut:
    """A month as reconciled, with every institution's statement or only the one asked for."""
    reconciliation = await _reconciliation(uow, month)
    return reconciliation_out(
        reconciliation, await uow.months.statements(month, fixmedins_code=only_fixmedins_code)
    )


async def get_statement(*, uow: SettlementUnitOfWork, month: str, fixmedins_code: str) -> MonthlyStatementOut:
    """One institution's statement of a reconciled month, or 404."""
    await _reconciliation(uow, month)
    rows = await uow.months.statements(month, fixmedins_code=fixmedins_code)
    if not rows:
        raise NotFound(
            f"{month} has no statement for institution {fixmedins_code}.",
            code="STATEMENT_NOT_FOUND",
            month=month,
            fixmedins_code=fixmedins_code,
        )
    return statement_out(rows[0])


# The answers and the settlement.month.reconciled event show a month the same way.
def totals_out(totals: Mapping[str, int]) -> Totals:
    return Totals.model_validate(
        {
            **{name: int(totals.get(name, 0)) for name in COUNTS},
            **{wire: fen_to_yuan(int(totals.get(name, 0))) for name, wire in AMOUNTS.items()},
        }
    )


def statement_out(row: MonthlyStatement) -> MonthlyStatementOut:
    return MonthlyStatementOut(
        month=row.month,
        fixmedins_code=row.fixmedins_code,
        statements=totals_out(row.statements),
        settlements=totals_out(row.settlements),
        balanced=not row.mismatches,
        mismatches=[
            MismatchOut(
                business_date=date.fromisoformat(m["business_date"]),
                fields=list(m["fields"]),
                statements=totals_out(m["statements"]),
                settlements=totals_out(m["settlements"]),
                setl_ids=list(m["setl_ids"]),
                setl_id_count=int(m["setl_id_count"]),
            )
            for m in row.mismatches
        ],
        deductions=fen_to_yuan(row.deductions_fen),
        deduction_ids=list(row.deduction_ids),
        penalties=fen_to_yuan(row.penalties_fen),
        penalty_case_ids=list(row.penalty_case_ids or []),
        prepayments=fen_to_yuan(row.prepayments_fen),
        prepayment_ids=[int(i) for i in row.prepayment_ids],
        quality_reserve=fen_to_yuan(row.quality_reserve_fen),
        points=points_view(row.points),
        net_adjustment=fen_to_yuan(row.net_adjustment_fen),
        computed_at=row.computed_at,
    )


def reconciliation_out(
    reconciliation: MonthlyReconciliation, rows: Iterable[MonthlyStatement]
) -> MonthlyReconciliationOut:
    statements = [statement_out(row) for row in rows]
    return MonthlyReconciliationOut(
        month=reconciliation.month,
        status=ReconciliationStatus(reconciliation.status),
        balanced=all(statement.balanced for statement in statements),
        computed_at=reconciliation.computed_at,
        computed_by=reconciliation.computed_by,
        confirmed_at=reconciliation.confirmed_at,
        confirmed_by=reconciliation.confirmed_by,
        locked_at=reconciliation.locked_at,
        locked_by=reconciliation.locked_by,
        statements=statements,
    )


# --- deductions (扣款) from fraud.finding.confirmed --------------------------------------------------------

# Column widths of the deduction row: a longer value is a broken event, dead-lettered rather than cut.
_DEDUCTION_WIDTHS = {
    "finding_id": 64,
    "fixmedins_code": 30,
    "setl_id": 32,
    "psn_no": 20,
    "family": 40,
    "case_id": 50,  # the penalty's key "case:<case_id>" and its journal's ref "penalty:<case_id>" fit in 64
}
RECOVERY, PENALTY = "recovery", "penalty"
CASE_KEY = "case:"


def penalty_key(case_id: str) -> str:
    """The deduction key of a case's penalty (one per case), beside the findings' ids."""
    return f"{CASE_KEY}{case_id}"


def penalty_account(fixmedins_code: str) -> str:
    """罚款/违约金 withheld from an institution, until remitted (违约金 to the fund, 罚款 to the treasury)."""
    return f"penalty:{fixmedins_code}"


_NOTE_WIDTH = 500


async def record_deduction(*, uow: SettlementUnitOfWork, finding: FindingConfirmed, now: datetime) -> bool:
    """Keep a confirmed finding's amount to recover, once per finding; True if it was new.

    A finding published again (under a new event id) changes nothing. A negative amount or an id that does
    not fit raises ValueError, so the consumer retries and then dead-letters the event for ops.
    """
    amount_fen = yuan_to_fen(finding.amount_to_recover)
    if amount_fen < 0:
        raise ValueError(f"finding {finding.finding_id}: amount_to_recover is negative ({amount_fen} fen)")
    for name, width in _DEDUCTION_WIDTHS.items():
        value = getattr(finding, name)
        if value is not None and not 0 < len(value) <= width:
            raise ValueError(f"finding {finding.finding_id[:64]}: {name} must have 1 to {width} characters")
    values = {
        "finding_id": finding.finding_id,
        "fixmedins_code": finding.fixmedins_code,
        "setl_id": finding.setl_id,
        "psn_no": finding.psn_no,
        "family": finding.family,
        "amount_fen": amount_fen,
        "confirmed_at": finding.confirmed_at,
        # The reviewer's note is for people: a long one is shortened rather than refused.
        "note": finding.note[:_NOTE_WIDTH] if finding.note else None,
        "month_applied": None,
        "received_at": now.astimezone(UTC),
        "kind": RECOVERY,
        "case_id": finding.case_id,
    }
    if await uow.deductions.insert_once(values):
        return True
    kept = await uow.deductions.get(finding.finding_id)
    if kept is not None and kept.amount_fen != amount_fen:
        log.warning(
            "finding %s published again with %d fen; keeping the first amount, %d fen",
            finding.finding_id,
            amount_fen,
            kept.amount_fen,
        )
    return False


async def record_case_decision(*, uow: SettlementUnitOfWork, case: CaseDecided, now: datetime) -> bool:
    """A decided case: each finding's recovery (once per finding) and the penalty (once per case); True if new.

    The findings' recoveries are the same deductions fraud.finding.confirmed makes, so whichever arrives first
    keeps them and the other changes nothing; keeping them here too puts a case's recoveries and its penalty
    in one transaction, hence in one month. A refund (自查自纠) has no penalty. A broken event raises
    ValueError (retried, then dead-lettered).
    """
    recorded = False
    for item in case.findings:
        if yuan_to_fen(item.recovery) == 0:
            continue
        finding = FindingConfirmed(
            finding_id=item.finding_id,
            rule_id=item.rule_id,
            rule_version=item.rule_version,
            family=item.family,
            setl_id=item.setl_id,
            psn_no=item.psn_no,
            fixmedins_code=case.fixmedins_code,
            amount_to_recover=item.recovery,
            note=case.note,
            confirmed_at=case.decided_at,
            confirmed_by=case.decided_by,
            case_id=case.case_id,
        )
        recorded = await record_deduction(uow=uow, finding=finding, now=now) or recorded
    penalty = yuan_to_fen(case.penalty_amount)
    if penalty < 0:
        raise ValueError(f"case {case.case_id[:64]}: penalty_amount is negative ({penalty} fen)")
    if penalty == 0:
        return recorded
    for name, value in (("case_id", case.case_id), ("fixmedins_code", case.fixmedins_code)):
        if not 0 < len(value) <= _DEDUCTION_WIDTHS[name]:
            raise ValueError(
                f"case {case.case_id[:64]}: {name} must have 1 to {_DEDUCTION_WIDTHS[name]} characters"
            )
    values = {
        "finding_id": penalty_key(case.case_id),
        "fixmedins_code": case.fixmedins_code,
        "setl_id": None,
        "psn_no": None,
        "family": None,
        "amount_fen": penalty,
        "confirmed_at": case.decided_at,
        "note": f"{case.penalty_basis} × {case.penalty_multiple} of {case.total_recovery}"[:_NOTE_WIDTH],
        "month_applied": None,
        "received_at": now.astimezone(UTC),
        "kind": PENALTY,
        "case_id": case.case_id,
    }
    return await uow.deductions.insert_once(values) or recorded


async def list_deductions(
    *,
    uow: SettlementUnitOfWork,
    fixmedins_code: str | None,
    outstanding: bool | None,
    limit: int,
    cursor: str | None,
) -> Page[Deduction]:
    """Deductions newest first (by confirmation); outstanding: not yet taken by a confirmed month."""
    return await uow.deductions.page(
        fixmedins_code=fixmedins_code, outstanding=outstanding, limit=limit, cursor=cursor
    )


# --- prepayments (预付) ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class PrepaymentRecorded:
    """The prepayment a request recorded, or the one it retried (created False)."""

    row: Prepayment
    created: bool


async def record_prepayment(
    *,
    uow: SettlementUnitOfWork,
    data: PrepaymentIn,
    created_by: str,
    clock: Clock,
    idempotency_key: str | None = None,
) -> PrepaymentRecorded:
    """预付 with an optional Idempotency-Key: a retry with the same key and body returns the original.

    Without a key every call records a new prepayment (two prepayments of the same amount on one day are
    legitimate); a client that may retry sends a key.
    """
    if idempotency_key is None:
        row = await _new_prepayment(uow, data, created_by=created_by, clock=clock)
        assert row is not None  # only the Idempotency-Key is unique
        return PrepaymentRecorded(row, True)
    digest = hashlib.sha256(data.model_dump_json().encode()).hexdigest()
    for _ in range(2):
        existing = await uow.prepayments.by_idempotency_key(idempotency_key)
        if existing is not None:
            if existing.request_hash != digest:
                raise Conflict(
                    "This Idempotency-Key was used for a different prepayment; a new prepayment needs a new key.",
                    code="IDEMPOTENCY_KEY_CONFLICT",
                    prepayment_id=existing.prepayment_id,
                )
            return PrepaymentRecorded(existing, False)
        row = await _new_prepayment(
            uow, data, created_by=created_by, clock=clock, key=(idempotency_key, digest)
        )
        if row is not None:
            return PrepaymentRecorded(row, True)
        # The same key was recorded concurrently a moment ago: answer as its retry.
    raise Conflict("The Idempotency-Key is being used concurrently; retry.", code="IDEMPOTENCY_KEY_CONFLICT")


async def _new_prepayment(
    uow: SettlementUnitOfWork,
    data: PrepaymentIn,
    *,
    created_by: str,
    clock: Clock,
    key: tuple[str, str] | None = None,
) -> Prepayment | None:
    """预付: money advanced to a known institution, outstanding until a confirmed month recovers it.

    None when a prepayment of the same Idempotency-Key was stored concurrently (nothing is written).
    """
    if await uow.institutions.find(data.fixmedins_code) is None:
        raise NotFound(
            "No such designated institution.",
            code="INSTITUTION_NOT_FOUND",
            fixmedins_code=data.fixmedins_code,
        )
    now = _utc_now(clock)
    today = business_date(now)
    if data.paid_date > today:
        raise Unprocessable(
            f"paid_date {data.paid_date} is in the future (today is {today} in Asia/Shanghai).",
            code="PAID_DATE_IN_FUTURE",
        )
    row = Prepayment(
        fixmedins_code=data.fixmedins_code,
        amount_fen=yuan_to_fen(data.amount),
        paid_date=data.paid_date,
        note=data.note or None,
        created_by=created_by,
        created_at=now,
        recovered_month=None,
        idempotency_key=key[0] if key else None,
        request_hash=key[1] if key else None,
    )
    if not await uow.prepayments.insert(row):
        return None
    # The money leaves the fund's bank now; the institution's payable turns toward a receivable until a
    # month recovers it.
    await uow.journal.post(
        kind="prepayment",
        ref=f"prepayment:{row.prepayment_id}",
        business_date=data.paid_date,
        legs=[Leg(payable_account(row.fixmedins_code), row.amount_fen), Leg(BANK, -row.amount_fen)],
        now=now,
    )
    return row


async def list_prepayments(
    *,
    uow: SettlementUnitOfWork,
    fixmedins_code: str | None,
    outstanding: bool | None,
    limit: int,
    cursor: str | None,
) -> Page[Prepayment]:
    """Prepayments newest first; outstanding: not yet recovered by a confirmed month."""
    return await uow.prepayments.page(
        fixmedins_code=fixmedins_code, outstanding=outstanding, limit=limit, cursor=cursor
    )
