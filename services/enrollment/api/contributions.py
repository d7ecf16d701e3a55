"""Routes of contributions (缴费): one period's payment, bulk load, a person's contributions."""

from __future__ import annotations

from fastapi import APIRouter, Response

from common.deps import PROBLEMS, ClockDep
from common.money import fen_to_yuan
from common.principal import OpsPrincipal
from enrollment.api.deps import PolicyDep
from enrollment.models import Contribution
from enrollment.schemas.base import BulkCreated, BulkRejected
from enrollment.schemas.contributions import (
    BulkContributionsIn,
    BulkContributionsOut,
    ContributionIn,
    ContributionOut,
)
from enrollment.service import contributions as service
from enrollment.uow import Uow

router = APIRouter()


def contribution_out(contribution: Contribution) -> ContributionOut:
    return ContributionOut(
        contribution_id=contribution.contribution_id,
        psn_no=contribution.psn_no,
        insutype=contribution.insutype,
        period=contribution.period,
        amount=fen_to_yuan(contribution.amount_fen),
        acct_amount=fen_to_yuan(contribution.acct_amount_fen),
        paid_at=contribution.paid_at,
        back_payment=contribution.back_payment,
    )


@router.post(
    "/persons/{psn_no}/contributions",
    response_model=ContributionOut,
    status_code=201,
    responses={**PROBLEMS, 200: {"description": "The same contribution was recorded before"}},
    tags=["contributions 缴费"],
    summary="Record a contribution 缴费 (idempotent per period)",
)
async def record_contribution(
    psn_no: str,
    body: ContributionIn,
    uow: Uow,
    _ops: OpsPrincipal,
    clock: ClockDep,
    policy: PolicyDep,
    response: Response,
) -> ContributionOut:
    """Record one period's contribution: a month (YYYY-MM) for 310, a year (YYYY) for 390.

    Idempotent per person, insutype and period: the same figures again answer 200 with the original, other
    figures are 409 CONTRIBUTION_EXISTS. For 310, `acct_amount` (default a fifth of the amount) goes to the
    personal account. Paid after its period it is a back-payment (补缴): it covers nothing retroactively but
    may shorten the waiting period of the current resident coverage. 409 NO_COVERAGE without a coverage of
    that insutype.
    """
    recorded = await service.record_contribution(
        uow=uow, psn_no=psn_no, data=body, clock=clock, policy=policy
    )
    if not recorded.created:
        response.status_code = 200
    return contribution_out(recorded.contribution)


@router.post(
    "/contributions:bulk",
    response_model=BulkContributionsOut,
    responses=PROBLEMS,
    tags=["contributions 缴费"],
    summary="Record many contributions (initial load, at most 10,000 per call; idempotent per period)",
    description="Each item is `POST /persons/{psn_no}/contributions` with its `psn_no`, under the same rules, "
    "in its own savepoint: the same contribution again is listed under `existing`, a refused item under "
    "`rejected` with its code, and leaves no trace.",
)
async def record_contributions_bulk(
    body: BulkContributionsIn, uow: Uow, _ops: OpsPrincipal, clock: ClockDep, policy: PolicyDep
) -> BulkContributionsOut:
    """Record up to 10,000 contributions in one call (initial load), each under the rules of one."""
    outcome = await service.record_contributions_bulk(
        uow=uow, items=body.contributions, clock=clock, policy=policy
    )
    return BulkContributionsOut(
        created=[BulkCreated(index=c.index, psn_no=c.psn_no, id=c.id) for c in outcome.created],
        existing=[BulkCreated(index=c.index, psn_no=c.psn_no, id=c.id) for c in outcome.existing],
        rejected=[BulkRejected(index=r.index, code=r.code, detail=r.detail) for r in outcome.rejected],
    )


@router.get(
    "/persons/{psn_no}/contributions",
    response_model=list[ContributionOut],
    responses=PROBLEMS,
    tags=["contributions 缴费"],
    summary="A person's contributions by period",
)
async def list_contributions(psn_no: str, uow: Uow, _ops: OpsPrincipal) -> list[ContributionOut]:
    """A person's contributions, by insutype and period.

    Each with the share credited to the personal account and whether it was a back-payment (补缴).
    404 PERSON_NOT_FOUND.
    """
    return [contribution_out(c) for c in await service.contributions_of(uow=uow, psn_no=psn_no)]
