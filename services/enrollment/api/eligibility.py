"""Route of the eligibility look-up (待遇资格, 1101-style) a hospital or pharmacy makes before treating."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query

from common.clock import business_date
from common.deps import PROBLEMS, ClockDep
from common.errors import Unprocessable
from common.money import fen_to_yuan
from enrollment.api.deps import LookupPrincipal, PolicyDep
from enrollment.schemas.base import LookupInsutype
from enrollment.schemas.eligibility import EligibilityOut, IneligibleReason
from enrollment.service import eligibility as service
from enrollment.uow import Uow

router = APIRouter()


@router.get(
    "/eligibility",
    response_model=EligibilityOut,
    responses=PROBLEMS,
    tags=["eligibility 待遇资格"],
    summary="Eligibility look-up 待遇资格查询 (1101-style): may the fund pay for care begun on this date?",
)
async def eligibility(
    uow: Uow,
    _who: LookupPrincipal,
    clock: ClockDep,
    policy: PolicyDep,
    psn_no: Annotated[str | None, Query(max_length=20)] = None,
    certno: Annotated[str | None, Query(max_length=18)] = None,
    insutype: Annotated[LookupInsutype | None, Query(description="310 330 390 392")] = None,
    date_: Annotated[date | None, Query(alias="date", description="default today")] = None,
) -> EligibilityOut:
    """The look-up a hospital or pharmacy makes before treating (1101-style): does the fund pay for care begun
    on `date` (default today)?

    Give exactly one of `psn_no` and `certno` (PERSON_KEY_REQUIRED). Without `insutype` the person's basic
    coverage answers; 330 and 392 answer for the attached coverages. When not eligible, `reason` says why:
    NO_COVERAGE, SUSPENDED, WAITING_PERIOD (with `waiting_days` left) or DECEASED. Residents also get the
    critical-illness cap raise they have earned (`incentive_raise`). 404 PERSON_NOT_FOUND.
    """
    if (psn_no is None) == (certno is None):
        raise Unprocessable("Give exactly one of psn_no and certno.", code="PERSON_KEY_REQUIRED")
    answer = await service.eligibility(
        uow=uow,
        psn_no=psn_no,
        certno=certno,
        insutype=insutype,
        on=date_ or business_date(clock.now()),
        policy=policy,
    )
    return EligibilityOut(
        eligible=answer.eligible,
        psn_no=answer.psn_no,
        date_=answer.on,
        insutype=answer.insutype,
        coverage_id=answer.coverage_id,
        psn_type=answer.psn_type,
        assistance=answer.assistance,
        benefit_start_date=answer.benefit_start_date,
        waiting_days=answer.waiting_days,
        incentive_raise=fen_to_yuan(answer.incentive_raise_fen)
        if answer.incentive_raise_fen is not None
        else None,
        reason=IneligibleReason(answer.reason) if answer.reason else None,
    )
