"""The year clearing (年清算), budget execution with the three colours, and the month's points (DESIGN §12).

A clearing is computed per pool insutype and year: every standing inpatient case of the year at a points-paid
institution is grouped and pointed, the point value is set by the budget, and each institution's entitlement,
allowance (结余留用 / 超支分担), quality adjustment and clearing balance follow. Status: draft (recomputable)
→ confirmed (journals posted, disbursements and recoveries ordered, `settlement.year.cleared` sent) → locked.

The journal of a confirmed clearing, per institution: the months' quality reserve comes back from
`inst_reserve:<code>` (+W), the pool's fund settles the year (final − F), and the institution's payable takes
the balance (−C). A positive C is then paid by a disbursement order; a negative one is recovered as a
deduction in the next open month (its journal is this one, so the month does not post it again).
"""

from __future__ import annotations

import gc
import logging
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from common.clock import Clock, business_date
from common.errors import Conflict, NotFound
from common.events.contracts import Subject
from common.events.envelope import new_event
from common.money import fen_to_yuan
from common.pagination import decode_cursor, encode_cursor
from settlement.domain.day_close import PENDING
from settlement.domain.ledger import Leg, fund_account, payable_account
from settlement.domain.monthly import CONFIRMED, DRAFT, LOCKED, month_bounds, month_of
from settlement.domain.points import (
    CasePoints,
    Deviation,
    InstitutionYear,
    clear_year,
    colour,
    entitlement_fen,
    point_value,
    quality_reserve_fen,
    round_points,
    year_share,
)
from settlement.domain.split import POOL_FUND
from settlement.models import AnnualClearing, AnnualClearingLine, Disbursement, PaymentYear, QualityScore
from settlement.repository.points import CaseRow
from settlement.schemas.points import (
    BudgetExecutionOut,
    CaseKind,
    CaseOut,
    ClearingLineOut,
    ClearingOut,
    ClearingStatus,
    CodingOut,
    ExecutionLineOut,
    SpecialOut,
)
from settlement.service.points import CaseResult, YearBook, parameters_of, year_book
from settlement.uow import SettlementUnitOfWork

log = logging.getLogger("settlement.clearing")
SOURCE = "settlement"
FOUR = Decimal("0.0001")
CLEARING_LOCK = 0x5E771E_4E5C1E


def reserve_account(fixmedins_code: str) -> str:
    """质量保证金 withheld from an institution, held until its year clears."""
    return f"inst_reserve:{fixmedins_code}"


def _utc_now(clock: Clock) -> datetime:
    return clock.now().astimezone(UTC)


def year_bounds(year: int) -> tuple[date, date]:
    return date(year, 1, 1), date(year, 12, 31)


# --- a year's cases, summed per institution -------------------------------------------------------------


@dataclass
class Tally:
    cases: int = 0
    points: Decimal = Decimal(0)
    n_fen: int = 0
    f_fen: int = 0
    low: int = 0
    high: int = 0
    ungrouped: int = 0
    special: int = 0

    def add(self, row: CaseRow, points: CasePoints) -> None:
        self.cases += 1
        self.points += points.points
        self.n_fen += row.medfee_fen - row.hifp_fen
        self.f_fen += row.hifp_fen
        if points.special:
            self.special += 1
        if points.deviation is Deviation.LOW:
            self.low += 1
        elif points.deviation is Deviation.HIGH:
            self.high += 1
        elif points.deviation is Deviation.UNGROUPED:
            self.ungrouped += 1


@contextmanager
def collection_deferred() -> Iterator[None]:
    """Hold the cyclic garbage collector while a year's cases are read and pointed.

    Half a million rows and their points are live at once and hold no cycles; full collections would walk
    them again and again (more than the grouping itself costs). Reference counting still frees everything.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


async def _rows(
    uow: SettlementUnitOfWork,
    book: YearBook,
    *,
    through: date | None = None,
    fixmedins_code: str | None = None,
) -> list[CaseRow]:
    first, last = year_bounds(book.year)
    return await uow.points.cases(
        insutype=book.insutype,
        first=first,
        last=min(last, through) if through else last,
        fixmedins_code=fixmedins_code,
    )


async def _tallies(
    uow: SettlementUnitOfWork, book: YearBook, *, through: date | None = None
) -> dict[str, Tally]:
    """Each institution's cases, points and amounts of the year (up to a day)."""
    tallies: dict[str, Tally] = defaultdict(Tally)
    with collection_deferred():
        for row in await _rows(uow, book, through=through):
            tallies[row.fixmedins_code].add(row, book.points_of(row))
    return dict(tallies)


async def _year_cases(
    uow: SettlementUnitOfWork, book: YearBook, *, fixmedins_code: str | None = None
) -> list[CaseResult]:
    with collection_deferred():
        return book.evaluate_all(await _rows(uow, book, fixmedins_code=fixmedins_code))


# --- withheld reserves --------------------------------------------------------------------------------


async def withheld(uow: SettlementUnitOfWork, year: int, insutype: str) -> dict[str, int]:
    """W_i: the quality reserves the confirmed months withheld on the pool's cases of a year."""
    totals: dict[str, int] = defaultdict(int)
    for fixmedins_code, entries in await uow.points.reserve_entries():
        for entry in entries:
            if entry.get("insutype") == insutype and int(entry.get("year", 0)) == year:
                totals[fixmedins_code] += int(entry.get("quality_reserve_fen", 0))
    return dict(totals)


# --- the preconditions --------------------------------------------------------------------------------


async def _ensure_year_reconciled(uow: SettlementUnitOfWork, year: int) -> None:
    """409 unless 31 December is closed and every month of the year with activity is confirmed or locked."""
    first, last = year_bounds(year)
    latest = await uow.months.latest_closed_day()
    if latest is None or latest < last:
        raise Conflict(
            f"{year} is not over in the books: days up to {last} must be closed (日结算) first"
            + (f" (the latest closed day is {latest})." if latest else "."),
            code="YEAR_NOT_CLOSED",
            latest_closed_day=latest.isoformat() if latest else None,
        )
    active = {
        month_of(day)
        for day in await uow.months.statement_dates(
            before=last + timedelta(days=1), after=first - timedelta(days=1)
        )
    }
    states = await uow.months.earlier_months(f"{year + 1:04d}-01")
    done = {state.month for state in states if state.status in (CONFIRMED, LOCKED)}
    open_months = sorted(
        month
        for month in active | {s.month for s in states if s.month.startswith(f"{year}-")}
        if month not in done
    )
    if open_months:
        raise Conflict(
            f"Months of {year} are not confirmed yet: {', '.join(open_months)} (月核算 first).",
            code="MONTHS_NOT_CONFIRMED",
            open_months=open_months,
        )


# --- computing a clearing ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ClearingOutcome:
    clearing: ClearingOut
    created: bool


async def _lock(uow: SettlementUnitOfWork) -> None:
    await uow.months.lock_key(CLEARING_LOCK)


async def _figures(uow: SettlementUnitOfWork, book: YearBook) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The clearing's pool figures and its lines, from the cases as they stand."""
    tallies = await _tallies(uow, book)
    held = await withheld(uow, book.year, book.insutype)
    scores = {
        row.fixmedins_code: Decimal(row.score)
        for row in await uow.points.all_of_year(QualityScore, book.year, insutype=book.insutype)
    }
    codes = sorted(set(tallies) | {code for code, fen in held.items() if fen})
    cleared = clear_year(
        book.budget_fen,
        book.parameters,
        [
            InstitutionYear(
                fixmedins_code=code,
                cases=tallies.get(code, Tally()).cases,
                points=tallies.get(code, Tally()).points,
                n_fen=tallies.get(code, Tally()).n_fen,
                f_fen=tallies.get(code, Tally()).f_fen,
                withheld_fen=held.get(code, 0),
                score=scores.get(code, Decimal(1)),
            )
            for code in codes
        ],
    )
    pool = {
        "method": book.method.value,
        "budget_fen": book.budget_fen,
        "parameters": book.stored_parameters,
        "cases": sum(t.cases for t in tallies.values()),
        "total_points": f"{cleared.total_points:.4f}",
        "n_fen": cleared.n_fen,
        "f_fen": cleared.f_fen,
        "point_value": None if cleared.point_value is None else f"{cleared.point_value:.6f}",
    }
    lines = []
    for line in cleared.lines:
        counted = tallies.get(line.fixmedins_code, Tally())
        lines.append(
            {
                "year": book.year,
                "insutype": book.insutype,
                "fixmedins_code": line.fixmedins_code,
                "cases": line.cases,
                "points": f"{line.points:.4f}",
                "cmi": None if line.cmi is None else f"{line.cmi:.4f}",
                "n_fen": line.n_fen,
                "f_fen": line.f_fen,
                "e_fen": line.e_fen,
                "a_fen": line.a_fen,
                "withheld_fen": line.withheld_fen,
                "score": f"{line.score:.4f}",
                "final_fen": line.final_fen,
                "paid_fen": line.paid_fen,
                "clearing_fen": line.clearing_fen,
                "colour": line.colour.value,
                "low_cases": counted.low,
                "high_cases": counted.high,
                "ungrouped_cases": counted.ungrouped,
                "special_cases": counted.special,
                "disbursement_id": None,
                "deduction_id": None,
            }
        )
    return pool, lines


async def _current_figures(
    uow: SettlementUnitOfWork, year: int, insutype: str
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The clearing's figures from the cases as they stand, once the year is closed and reconciled."""
    book = await year_book(uow, year, insutype)
    await _ensure_year_reconciled(uow, year)
    with collection_deferred():
        return await _figures(uow, book)


async def compute_clearing(
    *, uow: SettlementUnitOfWork, year: int, insutype: str, computed_by: str, clock: Clock
) -> ClearingOutcome:
    """年清算: compute a pool's year (or recompute its draft)."""
    await _lock(uow)
    existing = await uow.points.clearing(year, insutype, for_update=True)
    if existing is not None and existing.status != DRAFT:
        raise Conflict(
            f"The {year} clearing of {insutype} is {existing.status}; only a draft can be recomputed.",
            code="CLEARING_NOT_DRAFT",
            clearing_status=existing.status,
        )
    pool, lines = await _current_figures(uow, year, insutype)
    now = _utc_now(clock)
    created = existing is None
    if existing is None:
        existing = AnnualClearing(
            year=year, insutype=insutype, status=DRAFT, computed_at=now, computed_by=computed_by, **pool
        )
        uow.points.add_clearing(existing)
    else:
        for name, value in pool.items():
            setattr(existing, name, value)
        existing.computed_at, existing.computed_by = now, computed_by
    await uow.flush()
    await uow.points.replace_lines(year, insutype, lines)
    log.info(
        "computed the %d clearing of %s: %d institutions, %s cases", year, insutype, len(lines), pool["cases"]
    )
    return ClearingOutcome(await _view(uow, existing), created)


_COMPARED = (
    "cases",
    "points",
    "n_fen",
    "f_fen",
    "e_fen",
    "a_fen",
    "withheld_fen",
    "score",
    "final_fen",
    "clearing_fen",
)


async def confirm_clearing(
    *, uow: SettlementUnitOfWork, year: int, insutype: str, confirmed_by: str, clock: Clock
) -> ClearingOutcome:
    """draft → confirmed: the journals, a disbursement for each positive C_i, a recovery for each negative."""
    await _lock(uow)
    clearing = await _clearing(uow, year, insutype, for_update=True)
    if clearing.status == CONFIRMED:
        return ClearingOutcome(await _view(uow, clearing), False)
    if clearing.status != DRAFT:
        raise Conflict(
            f"The {year} clearing of {insutype} is locked.",
            code="CLEARING_NOT_DRAFT",
            clearing_status=clearing.status,
        )
    pool, fresh = await _current_figures(uow, year, insutype)
    stored = await uow.points.clearing_lines(year, insutype)
    now_lines = {line["fixmedins_code"]: tuple(line[name] for name in _COMPARED) for line in fresh}
    then_lines = {line.fixmedins_code: tuple(getattr(line, name) for name in _COMPARED) for line in stored}
    if now_lines != then_lines or pool["point_value"] != clearing.point_value:
        changed = sorted(
            code for code in set(now_lines) | set(then_lines) if now_lines.get(code) != then_lines.get(code)
        )
        raise Conflict(
            f"The {year} clearing of {insutype} no longer matches its cases"
            + (f" (institution {changed[0]})" if changed else "")
            + "; recompute it.",
            code="CLEARING_STALE",
            fixmedins_codes=changed[:100],
        )
    now = _utc_now(clock)
    today = business_date(now)
    fund = fund_account(POOL_FUND[insutype])
    source = f"clearing:{year}:{insutype}"
    for line in stored:
        await uow.journal.post(
            kind="clearing",
            ref=f"{source}:{line.fixmedins_code}"[:64],
            business_date=today,
            legs=[
                Leg(reserve_account(line.fixmedins_code), line.withheld_fen),
                Leg(fund, line.final_fen - line.f_fen),
                Leg(payable_account(line.fixmedins_code), -line.clearing_fen),
            ],
            now=now,
        )
        if line.clearing_fen > 0:
            order = Disbursement(
                business_date=today,
                fixmedins_code=line.fixmedins_code,
                amount_fen=line.clearing_fen,
                due_date=today + timedelta(days=1),
                status=PENDING,
                created_at=now,
                source=source,
            )
            uow.disbursements.add(order)
            await uow.flush()
            line.disbursement_id = order.disbursement_id
        elif line.clearing_fen < 0:
            finding_id = f"{source}:{line.fixmedins_code}"
            await uow.deductions.insert_once(
                {
                    "finding_id": finding_id,
                    "fixmedins_code": line.fixmedins_code,
                    "setl_id": None,
                    "psn_no": None,
                    "family": "annual_clearing",
                    "amount_fen": -line.clearing_fen,
                    "confirmed_at": now,
                    "note": f"年清算 {year} {insutype}: C = {fen_to_yuan(line.clearing_fen)}",
                    "month_applied": None,
                    "received_at": now,
                    "source": "clearing",
                }
            )
            line.deduction_id = finding_id
    clearing.status = CONFIRMED
    clearing.confirmed_at, clearing.confirmed_by = now, confirmed_by
    await uow.flush()
    view = await _view(uow, clearing)
    await uow.publish(
        new_event(
            type=Subject.YEAR_CLEARED,
            source=SOURCE,
            subject=f"{year}:{insutype}",
            data=view.model_dump(mode="json"),
            clock=clock,
        )
    )
    log.info("confirmed the %d clearing of %s: %d institutions", year, insutype, len(stored))
    return ClearingOutcome(view, True)


async def lock_clearing(
    *, uow: SettlementUnitOfWork, year: int, insutype: str, locked_by: str, clock: Clock
) -> ClearingOutcome:
    await _lock(uow)
    clearing = await _clearing(uow, year, insutype, for_update=True)
    if clearing.status == DRAFT:
        raise Conflict(
            f"The {year} clearing of {insutype} is a draft; confirm it first.",
            code="CLEARING_NOT_CONFIRMED",
            clearing_status=DRAFT,
        )
    changed = clearing.status == CONFIRMED
    if changed:
        clearing.status = LOCKED
        clearing.locked_at, clearing.locked_by = _utc_now(clock), locked_by
        await uow.flush()
    return ClearingOutcome(await _view(uow, clearing), changed)


async def _clearing(
    uow: SettlementUnitOfWork, year: int, insutype: str, *, for_update: bool = False
) -> AnnualClearing:
    found = await uow.points.clearing(year, insutype, for_update=for_update)
    if found is None:
        raise NotFound(
            f"No {year} clearing of {insutype} yet.", code="CLEARING_NOT_FOUND", year=year, insutype=insutype
        )
    return found


async def get_clearing(
    *, uow: SettlementUnitOfWork, year: int, insutype: str, only_fixmedins_code: str | None = None
) -> ClearingOut:
    return await _view(uow, await _clearing(uow, year, insutype), only_fixmedins_code=only_fixmedins_code)


async def get_clearing_line(
    *, uow: SettlementUnitOfWork, year: int, insutype: str, fixmedins_code: str
) -> ClearingLineOut:
    await _clearing(uow, year, insutype)
    lines = await uow.points.clearing_lines(year, insutype, fixmedins_code=fixmedins_code)
    if not lines:
        raise NotFound(
            f"The {year} clearing of {insutype} has no line for {fixmedins_code}.",
            code="CLEARING_LINE_NOT_FOUND",
            fixmedins_code=fixmedins_code,
        )
    return line_out(lines[0])


def line_out(line: AnnualClearingLine) -> ClearingLineOut:
    return ClearingLineOut(
        fixmedins_code=line.fixmedins_code,
        cases=line.cases,
        points=Decimal(line.points),
        cmi=Decimal(line.cmi) if line.cmi is not None else None,
        n=fen_to_yuan(line.n_fen),
        f=fen_to_yuan(line.f_fen),
        e=fen_to_yuan(line.e_fen),
        a=fen_to_yuan(line.a_fen),
        withheld=fen_to_yuan(line.withheld_fen),
        score=Decimal(line.score),
        final=fen_to_yuan(line.final_fen),
        paid=fen_to_yuan(line.paid_fen),
        clearing=fen_to_yuan(line.clearing_fen),
        colour=line.colour,
        low_cases=line.low_cases,
        high_cases=line.high_cases,
        ungrouped_cases=line.ungrouped_cases,
        special_cases=line.special_cases,
        disbursement_id=line.disbursement_id,
        deduction_id=line.deduction_id,
    )


async def _view(
    uow: SettlementUnitOfWork, clearing: AnnualClearing, *, only_fixmedins_code: str | None = None
) -> ClearingOut:
    lines = await uow.points.clearing_lines(clearing.year, clearing.insutype)
    total = sum(line.clearing_fen for line in lines)
    if only_fixmedins_code is not None:
        lines = [line for line in lines if line.fixmedins_code == only_fixmedins_code]
    return ClearingOut(
        year=clearing.year,
        insutype=clearing.insutype,
        status=ClearingStatus(clearing.status),
        method=clearing.method,
        budget=fen_to_yuan(clearing.budget_fen),
        parameters=dict(clearing.parameters),
        cases=clearing.cases,
        total_points=Decimal(clearing.total_points),
        n=fen_to_yuan(clearing.n_fen),
        f=fen_to_yuan(clearing.f_fen),
        point_value=Decimal(clearing.point_value) if clearing.point_value is not None else None,
        clearing_total=fen_to_yuan(total),
        computed_at=clearing.computed_at,
        computed_by=clearing.computed_by,
        confirmed_at=clearing.confirmed_at,
        confirmed_by=clearing.confirmed_by,
        locked_at=clearing.locked_at,
        locked_by=clearing.locked_by,
        lines=[line_out(line) for line in lines],
    )


# --- cases: a case's grouping, the deviation cases and the 特例单议 list --------------------------------


def case_out(book: YearBook, case: CaseResult, special: Any = None) -> CaseOut:
    row, points = case.row, case.points
    return CaseOut(
        setl_id=row.setl_id,
        mdtrt_id=row.mdtrt_id,
        fixmedins_code=row.fixmedins_code,
        insutype=row.insutype,
        year=book.year,
        business_date=row.business_date,
        method=book.method,
        coding=CodingOut(
            main_diagnosis=case.coding.main_diagnosis,
            secondary_diagnoses=list(case.coding.secondary_diagnoses),
            procedures=case.coding.procedure_codes,
            from_list=case.coding.from_list,
        ),
        group_code=case.group.code if case.group else None,
        group_name=case.group.name if case.group else None,
        why=case.grouped.why,
        ratio=points.ratio.quantize(FOUR) if points.ratio is not None else None,
        base_points=points.base,
        coefficient=points.coefficient,
        deviation=points.deviation,
        points=points.points,
        special=SpecialOut(
            points=Decimal(special.points),
            reason=special.reason,
            set_by=special.set_by,
            set_at=special.set_at,
        )
        if special is not None
        else None,
        medfee_sumamt=fen_to_yuan(row.medfee_fen),
        hifp_pay=fen_to_yuan(row.hifp_fen),
    )


def _kind_of(case: CaseResult, kind: CaseKind | None) -> bool:
    if kind is None:
        return True
    if kind is CaseKind.SPECIAL:
        return case.points.special
    return case.points.deviation.value == kind.value


async def list_cases(
    *,
    uow: SettlementUnitOfWork,
    year: int,
    insutype: str,
    fixmedins_code: str | None,
    kind: CaseKind | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[CaseOut], str | None]:
    """A pool's cases of a year in setl_id order (of one institution, of one kind), a page at a time."""
    book = await year_book(uow, year, insutype)
    after = decode_cursor(cursor, parts=1)[0] if cursor else None
    chosen = [
        case
        for case in await _year_cases(uow, book, fixmedins_code=fixmedins_code)
        if _kind_of(case, kind) and (after is None or case.row.setl_id > after)
    ]
    chosen.sort(key=lambda case: case.row.setl_id)
    page = chosen[:limit]
    specials = await uow.points.special_cases([case.row.setl_id for case in page if case.points.special])
    items = [case_out(book, case, specials.get(case.row.setl_id)) for case in page]
    next_cursor = encode_cursor(page[-1].row.setl_id) if len(chosen) > limit else None
    return items, next_cursor


# --- budget execution and the three colours ----------------------------------------------------------------


async def budget_execution(
    *,
    uow: SettlementUnitOfWork,
    year: int,
    insutype: str,
    on: date | None,
    fixmedins_code: str | None,
    clock: Clock,
) -> BudgetExecutionOut:
    """The year so far against the budget: the provisional point value, each institution's colour."""
    book = await year_book(uow, year, insutype)
    first, last = year_bounds(year)
    day = on or business_date(clock.now())
    day = min(max(day, first - timedelta(days=1)), last)
    tallies = await _tallies(uow, book, through=day) if day >= first else {}
    share = year_share(year, day)
    t = sum((tally_.points for tally_ in tallies.values()), Decimal(0))
    n_fen = sum(item.n_fen for item in tallies.values())
    f_fen = sum(item.f_fen for item in tallies.values())
    value = point_value(book.budget_fen, n_fen, t, share)
    lines = []
    codes = sorted(tallies) if fixmedins_code is None else [fixmedins_code]
    for code in codes:
        item = tallies.get(code, Tally())
        e_fen = entitlement_fen(item.points, value, item.n_fen) if value is not None else 0
        lines.append(
            ExecutionLineOut(
                fixmedins_code=code,
                cases=item.cases,
                points=item.points,
                f=fen_to_yuan(item.f_fen),
                n=fen_to_yuan(item.n_fen),
                e=fen_to_yuan(e_fen),
                overrun=(Decimal(item.f_fen - e_fen) / e_fen).quantize(FOUR) if e_fen > 0 else None,
                colour=colour(item.f_fen, e_fen),
            )
        )
    spent = Decimal(f_fen) / Decimal(book.budget_fen)
    return BudgetExecutionOut(
        year=year,
        insutype=insutype,
        method=book.method,
        on=day if day >= first else first - timedelta(days=1),
        budget=fen_to_yuan(book.budget_fen),
        year_share=share.quantize(FOUR),
        spent_share=spent.quantize(FOUR),
        warning=spent - share > Decimal("0.05"),
        cases=sum(item.cases for item in tallies.values()),
        points=round_points(t),
        f=fen_to_yuan(f_fen),
        n=fen_to_yuan(n_fen),
        provisional_point_value=value,
        institutions=lines,
    )


# --- the month (月度预结算) ---------------------------------------------------------------------------


@dataclass
class MonthPoints:
    """A points-paid institution's month: the reserve withheld and the month's points by pool."""

    quality_reserve_fen: int
    entries: list[dict[str, Any]]


async def month_points(uow: SettlementUnitOfWork, month: str) -> dict[str, MonthPoints]:
    """Per points-paid institution: q × the month's inpatient hifp_pay claimed by the month's closes (per pool
    and case year with a payment year not yet cleared), and the month's cases and points (information only)."""
    first, last = month_bounds(month)
    hifp = await uow.points.month_hifp(first, last)
    years: dict[tuple[int, str], PaymentYear | None] = {}
    books: dict[tuple[int, str], YearBook] = {}
    cleared: dict[int, dict[str, str]] = {}
    result: dict[str, MonthPoints] = {}
    keys = set(hifp)
    for year, insutype in {(first.year, "310"), (first.year, "390")}:
        if await uow.points.find(PaymentYear, year, insutype) is not None:
            books[(year, insutype)] = await year_book(uow, year, insutype)
    # The month's own cases (by business date) of each pool with a payment year.
    month_cases: dict[tuple[str, int, str], list[CasePoints]] = defaultdict(list)
    provisional: dict[tuple[int, str], Decimal | None] = {}
    for (year, insutype), book in books.items():
        t, n_fen = Decimal(0), 0
        with collection_deferred():
            for row in await _rows(uow, book, through=last):
                points = book.points_of(row)
                t += points.points
                n_fen += row.medfee_fen - row.hifp_fen
                if row.business_date >= first:
                    month_cases[(row.fixmedins_code, year, insutype)].append(points)
                    keys.add((row.fixmedins_code, insutype, year))
        provisional[(year, insutype)] = point_value(book.budget_fen, n_fen, t, year_share(year, last))
    for code, insutype, year in sorted(keys):
        if (year, insutype) not in years:
            years[(year, insutype)] = await uow.points.find(PaymentYear, year, insutype)
        payment_year = years[(year, insutype)]
        if payment_year is None:
            continue
        if year not in cleared:
            cleared[year] = await uow.points.clearing_statuses(year)
        if cleared[year].get(insutype) in (CONFIRMED, LOCKED):
            continue  # the clearing already settled that year's cases
        claimed = hifp.get((code, insutype, year), 0)
        reserve = quality_reserve_fen(claimed, parameters_of(payment_year))
        own = month_cases.get((code, year, insutype), [])
        entry = {
            "insutype": insutype,
            "year": year,
            "method": payment_year.method,
            "cases": len(own),
            "points": f"{sum((points.points for points in own), Decimal(0)):.4f}",
            "hifp_pay_fen": claimed,
            "quality_reserve_fen": reserve,
            "provisional_point_value": (
                f"{provisional[(year, insutype)]:.6f}"
                if provisional.get((year, insutype)) is not None
                else None
            ),
        }
        found = result.setdefault(code, MonthPoints(0, []))
        found.quality_reserve_fen += reserve
        found.entries.append(entry)
    return result


async def post_reserves(
    uow: SettlementUnitOfWork, reserves: Mapping[str, int], *, month: str, now: datetime
) -> None:
    """质量保证金 journals of a confirmed month: the institution is owed less, the reserve holds it."""
    on = month_bounds(month)[1]
    for code, amount in sorted(reserves.items()):
        if amount:
            await uow.journal.post(
                kind="quality_reserve",
                ref=f"quality_reserve:{month}:{code}"[:64],
                business_date=on,
                legs=[Leg(payable_account(code), amount), Leg(reserve_account(code), -amount)],
                now=now,
            )


def points_view(entries: Sequence[Mapping[str, Any]] | None) -> list[dict[str, Any]] | None:
    """A statement's points entries as the wire shows them (yuan, text decimals)."""
    if entries is None:
        return None
    return [
        {
            "insutype": entry["insutype"],
            "year": entry["year"],
            "method": entry["method"],
            "cases": entry["cases"],
            "points": entry["points"],
            "hifp_pay": fen_to_yuan(entry["hifp_pay_fen"]),
            "quality_reserve": fen_to_yuan(entry["quality_reserve_fen"]),
            "provisional_point_value": entry["provisional_point_value"],
        }
        for entry in entries
    ]
