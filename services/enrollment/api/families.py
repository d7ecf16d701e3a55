"""Routes of family mutual aid (家庭共济): bind relatives, an employee's bound family."""

from __future__ import annotations

from fastapi import APIRouter

from common.deps import PROBLEMS, ClockDep
from common.principal import OpsPrincipal
from enrollment.api.deps import LookupPrincipal
from enrollment.schemas.families import FamilyIn, FamilyOut
from enrollment.service import families as service
from enrollment.uow import Uow

router = APIRouter()


@router.post(
    "/families",
    response_model=FamilyOut,
    responses=PROBLEMS,
    tags=["families 家庭共济"],
    summary="Bind relatives to an employee's personal account 家庭共济绑定",
)
async def bind_family(body: FamilyIn, uow: Uow, _ops: OpsPrincipal, clock: ClockDep) -> FamilyOut:
    """Bind close relatives to an employee's personal account (家庭共济), so they can pay from it.

    The holder needs an active 310 coverage (HOLDER_NOT_ELIGIBLE); members must be registered and alive
    (MEMBER_NOT_FOUND, MEMBER_DECEASED) and bound to no other holder (409 MEMBER_ALREADY_BOUND). Binding
    a member again is harmless. Answers the holder's whole family.
    """
    members = await service.bind_family(
        uow=uow, holder_psn_no=body.holder_psn_no, member_psn_nos=body.member_psn_nos, clock=clock
    )
    return FamilyOut(holder_psn_no=body.holder_psn_no, member_psn_nos=members)


@router.get(
    "/families/{holder_psn_no}",
    response_model=FamilyOut,
    responses=PROBLEMS,
    tags=["families 家庭共济"],
    summary="An employee's bound family",
)
async def get_family(holder_psn_no: str, uow: Uow, _who: LookupPrincipal) -> FamilyOut:
    """The relatives bound to an employee's personal account (家庭共济); an empty list when none are.

    404 PERSON_NOT_FOUND.
    """
    members = await service.family_of(uow=uow, holder_psn_no=holder_psn_no)
    return FamilyOut(holder_psn_no=holder_psn_no, member_psn_nos=members)
