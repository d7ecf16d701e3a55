"""Pre-settlement and settlement, of a registered visit or in one call: the call every institution makes.

The settle path runs in two units of work around the real-time review: a read-only one that loads what the
split needs and refuses what cannot be settled, then — after fraud has answered or the budget ran out — a
write one that locks the person's year (row lock on PostgreSQL; SQLite serialises every writer), splits with
the totals as they now stand, and stores the settlement, its journal and its event together. Nothing is held
locked while waiting for fraud.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from prometheus_client import Counter
from sqlalchemy.exc import IntegrityError

from common.clock import Clock, business_date
from common.db import Database
from common.errors import Conflict, Unprocessable
from common.events.contracts import Subject
from common.events.envelope import new_event
from common.national import Benefit
from common.principal import Principal, ensure_scope
from settlement.domain import day_close
from settlement.domain.claims import (
    SETTLED,
    line_refusal,
    stay_end,
    time_refusal,
    unknown_med_type,
)
from settlement.domain.ledger import settlement_legs
from settlement.domain.split import SettlementSplit
from settlement.mappers import (
    line_in,
    line_results,
    line_row,
    notices,
    one_call_visit_row,
    review_claim,
    setldetail,
    setlinfo,
    settled_event_data,
    settlement_out,
    settlement_row,
)
from settlement.models import Visit
from settlement.schemas.claims import OneCallSettlementIn, PreSettlementOut, SettleVisitIn
from settlement.service.context import (
    SettleContext,
    accepted,
    ensure_open,
    load_context,
    new_id,
    one_call_header,
    request_hash,
    split_of,
    visit_header,
    visit_in_scope,
)
from settlement.service.reference import PolicyBook
from settlement.service.review import Reviewer, ReviewOutcome
from settlement.uow import SettlementUnitOfWork

SOURCE = "settlement"
SETTLEMENTS = Counter("settlements_total", "Settlements by med_type and outcome", ["med_type", "outcome"])
FUND_PAID = Counter("settlement_fund_pay_fen_total", "Fund pay of settlements, in fen", ["med_type"])


@dataclass(frozen=True, slots=True)
class SettleResult:
    body: dict[str, Any]
    created: bool  # False: a retry answered with the original result


@dataclass(frozen=True, slots=True)
class SettleDeps:
    db: Database
    clock: Clock
    policy_book: PolicyBook
    reviewer: Reviewer


@dataclass(frozen=True, slots=True)
class ReviewedClaim:
    """A claim read, split line by line and reviewed: what the write unit of work settles."""

    context: SettleContext
    outcome: ReviewOutcome
    mdtrt_id: str
    medins_setl_id: str
    acct_used: bool
    fingerprint: str


VisitStep = Callable[[SettlementUnitOfWork, datetime], Awaitable[None]]
"""A path's own write to the visit, in the settlement's unit of work (at the settlement's time)."""


async def pre_settle(
    *,
    db: Database,
    mdtrt_id: str,
    acct_used: bool,
    principal: Principal,
    clock: Clock,
    policy_book: PolicyBook,
) -> PreSettlementOut:
    """预结算: the split as it would be now, in a read-only unit of work; nothing is stored or locked."""
    async with SettlementUnitOfWork(db, readonly=True) as uow:
        visit = await visit_in_scope(uow=uow, mdtrt_id=mdtrt_id, principal=principal)
        await ensure_open(uow=uow, visit=visit)
        lines = [line_in(row) for row in await uow.fee_lines.active(mdtrt_id)]
        if not lines:
            raise Unprocessable("The visit has no fee details to settle.", code="NO_FEE_DETAILS")
        now = clock.now()
        on = business_date(now)
        header = visit_header(visit)
        context = await load_context(uow=uow, header=header, fee_lines=lines, policy_book=policy_book, on=on)
        insutype, holder = context.coverage.insutype, context.person.family_holder
        ytd = await uow.accumulators.read_year(psn_no=visit.psn_no, insutype=insutype, year=on.year)
        balances = await uow.accounts.balances([visit.psn_no, *([holder] if holder else [])], lock=False)
    split = split_of(context, ytd=ytd, acct_used=acct_used, balances=balances)
    return PreSettlementOut(
        setlinfo=setlinfo(
            context,
            split,
            setl_id=None,
            mdtrt_id=mdtrt_id,
            medins_setl_id=None,
            setl_time=now,
            balc_fen=balances.get(visit.psn_no, 0) - split.acct_pay_fen,
        ),
        setldetail=setldetail(split),
        result=line_results(split.lines),
        warnings=notices(context, split, None),
    )


async def settle_one_call(
    *, data: OneCallSettlementIn, principal: Principal, deps: SettleDeps
) -> SettleResult:
    """一站式结算: the visit, its lines and the settlement in one transaction, keyed by medins_setl_id."""
    ensure_scope(principal, data.fixmedins_code)
    fingerprint = request_hash(data)
    header = one_call_header(data)
    now = deps.clock.now()
    async with SettlementUnitOfWork(deps.db, readonly=True) as uow:
        replay = await _replay(uow, data.fixmedins_code, data.medins_setl_id, fingerprint)
        if replay is not None:
            return replay
        accepted(unknown_med_type(data.med_type))
        accepted(time_refusal(begntime=data.begntime, endtime=data.endtime, now=now))
        accepted(line_refusal(data.feedetail, begntime=data.begntime, now=now))
        context = await load_context(
            uow=uow,
            header=header,
            fee_lines=data.feedetail,
            policy_book=deps.policy_book,
            on=business_date(now),
        )
    outcome = await _review(deps.reviewer, context, mdtrt_id=None)
    claim = ReviewedClaim(
        context, outcome, new_id("M"), data.medins_setl_id, data.acct_used_flag == 1, fingerprint
    )

    async def open_settled_visit(uow: SettlementUnitOfWork, at: datetime) -> None:
        await uow.visits.insert(one_call_visit_row(data, mdtrt_id=claim.mdtrt_id, at=at), defer=True)
        await uow.fee_lines.insert(
            [line_row(claim.mdtrt_id, line, at) for line in data.feedetail], defer=True
        )

    return await _settle(deps, claim, open_settled_visit)


async def settle_visit(
    *, mdtrt_id: str, data: SettleVisitIn, principal: Principal, deps: SettleDeps
) -> SettleResult:
    """结算 a registered visit with the lines uploaded so far.

    A stay ends at the endtime sent, else at its discharge (2402); with neither it settles only as a
    mid-stay settlement (中途结算, mid_setl_flag 1).
    """
    fingerprint = request_hash(data, mdtrt_id=mdtrt_id)
    now = deps.clock.now()
    async with SettlementUnitOfWork(deps.db, readonly=True) as uow:
        visit = await visit_in_scope(uow=uow, mdtrt_id=mdtrt_id, principal=principal)
        replay = await _replay(uow, visit.fixmedins_code, data.medins_setl_id, fingerprint)
        if replay is not None:
            return replay
        await ensure_open(uow=uow, visit=visit)
        accepted(time_refusal(begntime=visit.begntime, endtime=data.endtime, now=now))
        rows = await uow.fee_lines.active(mdtrt_id)
        if not rows:
            raise Unprocessable("The visit has no fee details to settle.", code="NO_FEE_DETAILS")
        seen_lines, seen_visit = [row.fee_detail_id for row in rows], _visit_state(visit)
        context = await load_context(
            uow=uow,
            header=replace(visit_header(visit), endtime=data.endtime),
            fee_lines=[line_in(row) for row in rows],
            policy_book=deps.policy_book,
            on=business_date(now),
        )
        if context.benefit is Benefit.INPATIENT and data.endtime is None:
            discharged = visit.endtime if visit.discharged_at is not None else None
            ends = accepted(
                stay_end(
                    mdtrt_id=mdtrt_id, endtime=None, discharged=discharged, mid_setl_flag=data.mid_setl_flag
                )
            )
            context = replace(context, header=replace(context.header, endtime=ends))
    outcome = await _review(deps.reviewer, context, mdtrt_id=mdtrt_id)
    claim = ReviewedClaim(
        context, outcome, mdtrt_id, data.medins_setl_id, data.acct_used_flag == 1, fingerprint
    )
    endtime = context.header.endtime

    async def close_visit(uow: SettlementUnitOfWork, at: datetime) -> None:
        locked = await visit_in_scope(uow=uow, mdtrt_id=mdtrt_id, principal=principal, lock=True)
        await ensure_open(uow=uow, visit=locked)
        if [row.fee_detail_id for row in await uow.fee_lines.active(mdtrt_id)] != seen_lines:
            raise Conflict(
                "The visit's fee details changed while settling; settle again.", code="VISIT_CHANGED"
            )
        if _visit_state(locked) != seen_visit:
            raise Conflict("The visit changed while settling; settle again.", code="VISIT_CHANGED")
        locked.status = SETTLED
        if endtime is not None:
            locked.endtime = endtime
        await uow.flush()

    return await _settle(deps, claim, close_visit)


def _visit_state(visit: Visit) -> tuple[object, ...]:
    """What a settlement of the visit depends on, besides its lines."""
    return (visit.med_type, visit.dise_codg, visit.endtime, visit.discharged_at)


async def _replay(
    uow: SettlementUnitOfWork, fixmedins_code: str, medins_setl_id: str, fingerprint: str
) -> SettleResult | None:
    """The original answer to a retry, 409 SETTLEMENT_CONFLICT for the id reused with another request."""
    stored = await uow.settlements.answer_of(fixmedins_code, medins_setl_id)
    if stored is None:
        return None
    if stored.request_hash != fingerprint:
        raise Conflict(
            f"medins_setl_id {medins_setl_id} was already used for a different settlement.",
            code="SETTLEMENT_CONFLICT",
        )
    return SettleResult(stored.response, created=False)


async def _review(reviewer: Reviewer, context: SettleContext, *, mdtrt_id: str | None) -> ReviewOutcome:
    """The real-time review, outside any transaction; 422 REVIEW_BLOCKED when a rule blocks the claim."""
    outcome = await reviewer.review(review_claim(context, mdtrt_id))
    if outcome.blocking:
        hits = [hit.model_dump(mode="json") for hit in outcome.hits]
        names = ", ".join(sorted({hit.family for hit in outcome.blocking}))
        raise Unprocessable(
            f"The real-time review blocked this settlement ({names}).", code="REVIEW_BLOCKED", hits=hits
        )
    return outcome


async def _settle(deps: SettleDeps, claim: ReviewedClaim, visit_step: VisitStep) -> SettleResult:
    """The shared end of both paths: draw, the path's visit step, store — one unit of work."""
    header = claim.context.header
    try:
        async with SettlementUnitOfWork(deps.db) as uow:
            now = deps.clock.now()
            drawn = await _draw(uow, claim, on=business_date(now))
            await visit_step(uow, now)
            body = await _store(uow, claim, drawn, now=now, clock=deps.clock)
    except IntegrityError:
        # Another request with the same medins_setl_id committed first: answer as a retry would be.
        async with SettlementUnitOfWork(deps.db, readonly=True) as uow:
            replay = await _replay(uow, header.fixmedins_code, claim.medins_setl_id, claim.fingerprint)
        if replay is None:
            raise
        return replay
    SETTLEMENTS.labels(header.med_type, "settled").inc()
    FUND_PAID.labels(header.med_type).inc(drawn.split.fund_pay_fen)
    return SettleResult(body, created=True)


@dataclass(frozen=True, slots=True)
class Drawn:
    """The split against the year and accounts as locked now, and the day close that will count it."""

    split: SettlementSplit
    balances: dict[str, int]
    on: date
    counted_on: date


async def _draw(uow: SettlementUnitOfWork, claim: ReviewedClaim, *, on: date) -> Drawn:
    """Lock the person's year, take the day close's shared lock, read (or lock) the accounts, split."""
    header, holder = claim.context.header, claim.context.person.family_holder
    # The year locked, then the day close's shared lock (one statement on PostgreSQL); then, after the lock,
    # the last closed day with the accounts to draw on, locked, or just the balance the answer shows.
    ytd = await uow.accumulators.lock_year(
        psn_no=header.psn_no, insutype=claim.context.coverage.insutype, year=on.year, day_close_lock=True
    )
    wallets = [header.psn_no, *([holder] if holder and claim.acct_used else [])]
    balances, last_closed = await uow.accounts.balances_and_last_close(wallets, lock=claim.acct_used)
    counted_on = day_close.counting_day(on, last_closed)
    split = split_of(claim.context, ytd=ytd, acct_used=claim.acct_used, balances=balances)
    return Drawn(split, balances, on, counted_on)


async def _store(
    uow: SettlementUnitOfWork, claim: ReviewedClaim, drawn: Drawn, *, now: datetime, clock: Clock
) -> dict[str, Any]:
    """The settlement with its answer, its journal, the year and accounts moved, the event: the answer.

    These writes are deferred (common.db.DeferredWrites): on PostgreSQL they reach the database as one
    statement just before the commit, with the visit's of a one-call settlement; the locks they need (the
    year, the accounts) were taken by _draw.
    """
    context, split, on, outcome = claim.context, drawn.split, drawn.on, claim.outcome
    header, setl_id = context.header, new_id("S")
    holder = context.person.family_holder if split.acct_mulaid_pay_fen else None
    balc_fen = drawn.balances.get(header.psn_no, 0) - split.acct_pay_fen
    body = settlement_out(
        context,
        split,
        outcome,
        setl_id=setl_id,
        mdtrt_id=claim.mdtrt_id,
        medins_setl_id=claim.medins_setl_id,
        setl_time=now,
        balc_fen=balc_fen,
    )
    await uow.settlements.insert(
        settlement_row(
            context,
            split,
            setl_id=setl_id,
            mdtrt_id=claim.mdtrt_id,
            medins_setl_id=claim.medins_setl_id,
            setl_time=now,
            on=on,
            counted_on=drawn.counted_on,
            review=outcome.status,
            fingerprint=claim.fingerprint,
            body=body,
        ),
        defer=True,
    )
    legs = settlement_legs(
        split, psn_no=header.psn_no, fixmedins_code=header.fixmedins_code, family_holder=holder
    )
    await uow.journal.post_deferred(kind="settlement", ref=setl_id, business_date=on, legs=legs, now=now)
    await uow.accumulators.add_to_year(
        psn_no=header.psn_no,
        insutype=context.coverage.insutype,
        year=on.year,
        delta=split.year_delta,
        sign=1,
        count=1,
        defer=True,
    )
    await uow.accounts.move(header.psn_no, -split.acct_pay_fen, now=now, defer=True)
    if holder:
        await uow.accounts.move(holder, -split.acct_mulaid_pay_fen, now=now, defer=True)
    data = settled_event_data(context, split, body, on=on, outcome=outcome)
    event = new_event(type=Subject.SETTLED, source=SOURCE, subject=setl_id, data=data, clock=clock)
    await uow.publish(event, defer=True)
    return body
