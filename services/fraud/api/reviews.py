"""Route of the real-time review (事前/事中审核): the same answer settlement gets on fraud.review."""

from __future__ import annotations

from fastapi import APIRouter

from common.events.review import ReviewClaim
from fraud.api.deps import PROBLEMS, DatabaseDep, InstitutionPrincipal, RuleBookDep, ensure_scope
from fraud.schemas.reviews import ReviewIn, ReviewOut
from fraud.service.review import review_claim, review_status

router = APIRouter(tags=["review 实时审核"], responses=PROBLEMS)


@router.post(
    "/reviews",
    response_model=ReviewOut,
    summary="Review a claim before settling: the hits of the enabled pre/in rules (block: do not settle)",
)
async def review(
    body: ReviewIn, principal: InstitutionPrincipal, db: DatabaseDep, book: RuleBookDep
) -> ReviewOut:
    """Review a claim before it is settled (事前/事中): the hits of the enabled pre and in rules on it.

    `blocked` when a rule of severity block fires (do not settle), `warned` for warn or info hits, `passed`
    with none; each hit names the rule and its version. Settlement asks the same over NATS (fraud.review)
    before it settles; a hospital or pharmacy may call this to check a claim first, for its own institution
    only. Nothing is recorded: post-event (事后) findings come from the settled history.
    """
    ensure_scope(principal, body.fixmedins_code)
    claim = ReviewClaim.model_validate(body.model_dump(exclude={"stage"}))
    hits = await review_claim(db=db, book=book, claim=claim, stage=body.stage)
    return ReviewOut(status=review_status(hits), hits=hits)
