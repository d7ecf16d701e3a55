"""Routes of findings (疑点): list, read, confirm (疑点成立) with an amount proposed, dismiss."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from common.money import fen_to_yuan
from common.principal import OpsPrincipal
from fraud.api.deps import PROBLEMS, ClockDep, InstitutionPrincipal, ensure_scope, listing_scope
from fraud.models import Finding
from fraud.schemas.findings import Category, ConfirmIn, DismissIn, FindingOut, FindingPage, FindingStatus
from fraud.service import findings
from fraud.uow import Uow

router = APIRouter(tags=["findings 疑点"], responses=PROBLEMS)
FindingId = Annotated[int, Path(ge=1, le=2**62, description="疑点ID")]


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


@router.get(
    "/findings",
    response_model=FindingPage,
    summary="Findings 疑点, newest first; an institution's client sees only its own",
)
async def list_findings(
    uow: Uow,
    principal: InstitutionPrincipal,
    status: Annotated[FindingStatus | None, Query(description="状态 open | confirmed | dismissed")] = None,
    fixmedins_code: Annotated[str | None, Query(max_length=30, description="定点医药机构编码")] = None,
    rule_id: Annotated[int | None, Query(ge=1, le=2**62, description="规则ID")] = None,
    psn_no: Annotated[str | None, Query(max_length=30, description="人员编号")] = None,
    category: Annotated[Category | None, Query(description="类别 fraud | assistance")] = None,
    family: Annotated[str | None, Query(max_length=40, description="规则类别")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> FindingPage:
    """Findings (疑点) raised by the rules, newest first.

    Filter by status, institution, rule, person, category or family. A hospital's or pharmacy's client
    sees only its own institution's findings; staff see all. Category `assistance` (the high-burden
    monitor) is for the medical assistance office, not a fraud suspicion.
    """
    page = await findings.list_findings(
        uow=uow,
        status=status,
        fixmedins_code=listing_scope(principal, fixmedins_code),
        rule_id=rule_id,
        psn_no=psn_no,
        category=category,
        family=family,
        limit=limit,
        cursor=cursor,
    )
    return FindingPage(items=[finding_out(row) for row in page.items], next_cursor=page.next_cursor)


@router.get("/findings/{finding_id}", response_model=FindingOut, summary="One finding")
async def get_finding(finding_id: FindingId, uow: Uow, principal: InstitutionPrincipal) -> FindingOut:
    """One finding, with the rule and the version that raised it.

    The settlement, person and fee line concerned, the message and the amount at stake, the most that can
    be recovered, its status, and who confirmed or dismissed it and why. An institution sees only its own.
    404 FINDING_NOT_FOUND.
    """
    row = await findings.get_finding(uow=uow, finding_id=finding_id)
    ensure_scope(principal, row.fixmedins_code)
    return finding_out(row)


@router.post(
    "/findings/{finding_id}/confirm",
    response_model=FindingOut,
    summary="Confirm a finding (疑点成立, open → confirmed) with the amount proposed; a decided case deducts it",
)
async def confirm(
    finding_id: FindingId, body: ConfirmIn, uow: Uow, principal: OpsPrincipal, clock: ClockDep
) -> FindingOut:
    """Confirm an open finding after review (疑点成立), with the amount proposed for recovery and a note.

    The amount is at most the settlement's fund pay (422 AMOUNT_EXCEEDS_FUND_PAY) and must be 0 for an
    assistance finding (422 NOTHING_TO_RECOVER). Nothing is deducted yet: the finding goes into a case (POST
    /cases, with this amount as the one notified), and only the case's decision (or the institution's
    voluntary refund) publishes fraud.finding.confirmed for settlement to deduct. 409 FINDING_NOT_OPEN once
    confirmed or dismissed; 409 FINDING_IN_CASE for a finding in a case (the case decides it).
    """
    row = await findings.confirm_finding(
        uow=uow, finding_id=finding_id, body=body, by=principal.client_id, clock=clock
    )
    return finding_out(row)


@router.post(
    "/findings/{finding_id}/dismiss",
    response_model=FindingOut,
    summary="Dismiss a finding (open → dismissed)",
)
async def dismiss(
    finding_id: FindingId, body: DismissIn, uow: Uow, principal: OpsPrincipal, clock: ClockDep
) -> FindingOut:
    """Dismiss an open finding after review (e.g. the care was justified), with a note saying why.

    Publishes fraud.finding.dismissed; nothing is recovered. 409 FINDING_NOT_OPEN once confirmed or
    dismissed; 409 FINDING_IN_CASE for a finding in a case (the case decides it).
    """
    row = await findings.dismiss_finding(
        uow=uow, finding_id=finding_id, body=body, by=principal.client_id, clock=clock
    )
    return finding_out(row)
