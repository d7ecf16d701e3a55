"""Routes of cases (案件): open and notify, list, read, appeal, review the appeal, refund, decide, close."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request

from common.money import fen_to_yuan
from common.principal import OpsPrincipal
from fraud.api.deps import PROBLEMS, ClockDep, InstitutionPrincipal, ensure_scope, listing_scope
from fraud.schemas.cases import (
    AppealFile,
    AppealIn,
    AppealReviewIn,
    CaseEventOut,
    CaseFindingOut,
    CaseIn,
    CaseOut,
    CasePage,
    CaseStatus,
    CloseIn,
    DecideIn,
    PointsIn,
    RefundIn,
)
from fraud.service import cases
from fraud.service.cases import CasePolicy, CaseView
from fraud.uow import Uow

router = APIRouter(tags=["cases 案件"], responses=PROBLEMS)
CaseId = Annotated[int, Path(ge=1, le=2**62, description="案件ID")]


async def _policy(request: Request) -> CasePolicy:
    return CasePolicy.from_settings(request.app.state.settings)


PolicyDep = Annotated[CasePolicy, Depends(_policy)]


def case_out(view: CaseView) -> CaseOut:
    row = view.case
    return CaseOut(
        case_id=row.case_id,
        fixmedins_code=row.fixmedins_code,
        status=row.status,
        outcome=row.outcome,
        summary=row.summary,
        proposed_amount=fen_to_yuan(row.proposed_fen),
        notified_on=row.notified_on,
        appeal_deadline=row.appeal_deadline,
        created_at=row.created_at,
        created_by=row.created_by,
        appeal_statement=row.appeal_statement,
        appeal_files=[AppealFile.model_validate(f) for f in row.appeal_files]
        if row.appeal_files is not None
        else None,
        appealed_at=row.appealed_at,
        appealed_by=row.appealed_by,
        review_note=row.review_note,
        reviewed_at=row.reviewed_at,
        reviewed_by=row.reviewed_by,
        recovery=fen_to_yuan(row.recovery_fen) if row.recovery_fen is not None else None,
        penalty_basis=row.penalty_basis,
        penalty_multiple=Decimal(row.penalty_multiple) if row.penalty_multiple is not None else None,
        penalty_amount=fen_to_yuan(row.penalty_fen) if row.penalty_fen is not None else None,
        points=[PointsIn.model_validate(p) for p in row.points] if row.points is not None else None,
        referral=row.referral,
        referral_to=row.referral_to,
        decision_note=row.decision_note,
        decided_at=row.decided_at,
        decided_by=row.decided_by,
        closed_at=row.closed_at,
        closed_by=row.closed_by,
        findings=[
            CaseFindingOut(
                finding_id=finding.finding_id,
                family=finding.family,
                setl_id=finding.setl_id,
                psn_no=finding.psn_no,
                finding_status=finding.status,
                fund_pay_sumamt=fen_to_yuan(finding.fund_pay_fen),
                proposed_amount=fen_to_yuan(link.proposed_fen),
                recovery=fen_to_yuan(link.recovery_fen) if link.recovery_fen is not None else None,
            )
            for link, finding in view.findings
        ],
        history=(
            None
            if view.history is None
            else [
                CaseEventOut(
                    action=event.action,
                    status_from=event.status_from,
                    status_to=event.status_to,
                    at=event.at,
                    by=event.by,
                    note=event.note,
                    detail=event.detail,
                )
                for event in view.history
            ]
        ),
    )


@router.post(
    "/cases",
    response_model=CaseOut,
    status_code=201,
    summary="Open a case (立案) on findings of one institution and notify it (告知)",
)
async def open_case(
    body: CaseIn, uow: Uow, principal: OpsPrincipal, clock: ClockDep, policy: PolicyDep
) -> CaseOut:
    """Open a case on one or more open or confirmed fraud findings of one institution, which is notified at once.

    Each finding carries the amount notified (拟追回, at most its settlement's fund pay; by default its confirmed
    amount, else its amount concerned). The institution may appeal (申诉) or refund voluntarily (自查自纠) up to
    and including the appeal deadline: N working days (Mon–Fri, less the configured holidays, Asia/Shanghai)
    after today. 404 FINDING_NOT_FOUND; 409 FINDING_IN_CASE (a finding is in one case only), FINDING_DISMISSED;
    422 FINDINGS_OF_SEVERAL_INSTITUTIONS, FINDING_NOT_FRAUD (assistance), AMOUNT_EXCEEDS_FUND_PAY,
    AMOUNT_REQUIRED, DUPLICATE_FINDING. Nothing is deducted until the case is decided.
    """
    view = await cases.open_case(uow=uow, body=body, policy=policy, by=principal.client_id, clock=clock)
    return case_out(view)


@router.get(
    "/cases",
    response_model=CasePage,
    summary="Cases 案件, newest first; an institution's client sees only its own",
)
async def list_cases(
    uow: Uow,
    principal: InstitutionPrincipal,
    status: Annotated[
        CaseStatus | None, Query(description="状态 notified | appealed | upheld | decided | closed")
    ] = None,
    fixmedins_code: Annotated[str | None, Query(max_length=30, description="定点医药机构编码")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> CasePage:
    """Cases with their findings, newest first, by status and institution.

    A hospital's or pharmacy's client sees only its own institution's cases (403 SCOPE_FORBIDDEN for
    another's); staff see all. The history of each case is in GET /cases/{case_id}.
    """
    views, next_cursor = await cases.list_cases(
        uow=uow,
        status=status,
        fixmedins_code=listing_scope(principal, fixmedins_code),
        limit=limit,
        cursor=cursor,
    )
    return CasePage(items=[case_out(view) for view in views], next_cursor=next_cursor)


@router.get("/cases/{case_id}", response_model=CaseOut, summary="One case, with its findings and history")
async def get_case(case_id: CaseId, uow: Uow, principal: InstitutionPrincipal) -> CaseOut:
    """One case: its findings with the amounts notified and decided, the appeal, the decision, and every
    transition with who and when. An institution sees only its own (403 SCOPE_FORBIDDEN). 404 CASE_NOT_FOUND.
    """
    row = await cases.get_case(uow=uow, case_id=case_id)
    ensure_scope(principal, row.fixmedins_code)
    return case_out(await cases.view_case(uow=uow, case=row))


@router.post(
    "/cases/{case_id}/appeal",
    response_model=CaseOut,
    summary="Appeal a case (申诉, notified → appealed), up to and including the deadline day",
)
async def appeal(
    case_id: CaseId, body: AppealIn, uow: Uow, principal: InstitutionPrincipal, clock: ClockDep
) -> CaseOut:
    """The institution's statement and references to its supporting files (not the files themselves).

    Its own HIS/POS key, or staff on its behalf. Accepted up to and including the appeal deadline; after it
    422 APPEAL_WINDOW_CLOSED. 409 CASE_NOT_NOTIFIED unless the case is notified (one appeal per case).
    """
    row = await cases.get_case(uow=uow, case_id=case_id, for_update=True)
    ensure_scope(principal, row.fixmedins_code)
    view = await cases.appeal(uow=uow, case=row, body=body, by=principal.client_id, clock=clock)
    return case_out(view)


@router.post(
    "/cases/{case_id}/appeal-review",
    response_model=CaseOut,
    summary="Review an appeal (申诉复核): upheld → awaits decision; overturned → findings dismissed, closed",
)
async def review_appeal(
    case_id: CaseId, body: AppealReviewIn, uow: Uow, principal: OpsPrincipal, clock: ClockDep
) -> CaseOut:
    """Staff review the institution's appeal.

    upheld (维持): the findings stand and the case awaits its decision. overturned (撤销): the findings are
    dismissed (fraud.finding.dismissed), the case is closed and nothing is recovered. 409 CASE_NOT_APPEALED.
    """
    row = await cases.get_case(uow=uow, case_id=case_id, for_update=True)
    view = await cases.review_appeal(uow=uow, case=row, body=body, by=principal.client_id, clock=clock)
    return case_out(view)


@router.post(
    "/cases/{case_id}/refund",
    response_model=CaseOut,
    summary="Voluntary refund (自查自纠): the case is decided at once, recovery as notified, no penalty",
)
async def refund(
    case_id: CaseId, body: RefundIn, uow: Uow, principal: InstitutionPrincipal, clock: ClockDep
) -> CaseOut:
    """The institution acknowledges the findings and refunds the amounts notified, within the appeal window.

    Its own HIS/POS key, or staff on its behalf. The case is decided at once (outcome refunded): recovery =
    the amounts notified, penalty multiple 0, no points; fraud.case.decided and fraud.finding.confirmed are
    published and settlement deducts the recovery. 409 CASE_NOT_NOTIFIED; 422 APPEAL_WINDOW_CLOSED.
    """
    row = await cases.get_case(uow=uow, case_id=case_id, for_update=True)
    ensure_scope(principal, row.fixmedins_code)
    view = await cases.refund(uow=uow, case=row, body=body, by=principal.client_id, clock=clock)
    return case_out(view)


@router.post(
    "/cases/{case_id}/decide",
    response_model=CaseOut,
    summary="Decide a case (处理决定): recovery, penalty by the scale, points, referral",
)
async def decide(
    case_id: CaseId, body: DecideIn, uow: Uow, principal: OpsPrincipal, clock: ClockDep, policy: PolicyDep
) -> CaseOut:
    """Decide a case whose appeal was upheld, or whose appeal window passed without an answer.

    Recovery per finding (by default the amount notified) at most its settlement's fund pay (422
    AMOUNT_EXCEEDS_FUND_PAY, FINDING_NOT_IN_CASE); the penalty = multiple × total recovery, half-up to the fen,
    the multiple within the configured band of its basis (422 PENALTY_BASIS_UNKNOWN,
    PENALTY_MULTIPLE_OUT_OF_SCALE); points against practitioners are recorded in their registry (404
    PRACTITIONER_NOT_FOUND); referral (移交). Publishes fraud.case.decided and, per finding with a recovery,
    fraud.finding.confirmed: settlement deducts the recovery and the penalty apart. 409 APPEAL_WINDOW_OPEN,
    CASE_NOT_DECIDABLE.
    """
    row = await cases.get_case(uow=uow, case_id=case_id, for_update=True)
    view = await cases.decide(
        uow=uow, case=row, body=body, policy=policy, by=principal.client_id, clock=clock
    )
    return case_out(view)


@router.post("/cases/{case_id}/close", response_model=CaseOut, summary="Close a decided case (结案)")
async def close(
    case_id: CaseId, body: CloseIn, uow: Uow, principal: OpsPrincipal, clock: ClockDep
) -> CaseOut:
    """decided → closed, with who and when. 409 CASE_NOT_DECIDED."""
    row = await cases.get_case(uow=uow, case_id=case_id, for_update=True)
    view = await cases.close(uow=uow, case=row, body=body, by=principal.client_id, clock=clock)
    return case_out(view)
