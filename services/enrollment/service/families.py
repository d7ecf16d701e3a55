"""Family mutual aid (家庭共济): relatives bound to an employee's personal account."""

from __future__ import annotations

from collections.abc import Sequence

from common.clock import Clock
from common.errors import Conflict, NotFound, Unprocessable
from common.events.contracts import Subject
from common.events.enrollment import FamilyBound
from enrollment.schemas.base import CoverageStatus, Insutype
from enrollment.service.publishing import event_of
from enrollment.uow import EnrollmentUnitOfWork


async def bind_family(
    *, uow: EnrollmentUnitOfWork, holder_psn_no: str, member_psn_nos: Sequence[str], clock: Clock
) -> list[str]:
    """Bind relatives to an employee's personal account; returns the holder's whole family."""
    if holder_psn_no in member_psn_nos:
        raise Unprocessable("The holder cannot be their own family member.", code="INVALID_FAMILY")
    if len(set(member_psn_nos)) != len(member_psn_nos):
        raise Unprocessable("A member is listed twice.", code="INVALID_FAMILY")
    holder = await uow.persons.find(holder_psn_no)
    if holder is None:
        raise NotFound("No such holder.", code="PERSON_NOT_FOUND", psn_no=holder_psn_no)
    current = await uow.coverages.current(holder_psn_no)
    if (
        holder.death_date is not None
        or current is None
        or current.insutype != Insutype.EMPLOYEE
        or (current.status != CoverageStatus.ACTIVE.value)
    ):
        raise Unprocessable(
            "Only an employee with an active 310 coverage can share a personal account.",
            code="HOLDER_NOT_ELIGIBLE",
        )
    found = await uow.persons.by_psn_nos(member_psn_nos)
    missing = [psn_no for psn_no in member_psn_nos if psn_no not in found]
    if missing:
        raise Unprocessable("Members must be registered persons.", code="MEMBER_NOT_FOUND", psn_nos=missing)
    deceased = [psn_no for psn_no, person in found.items() if person.death_date is not None]
    if deceased:
        raise Unprocessable("A deceased person cannot be bound.", code="MEMBER_DECEASED", psn_nos=deceased)
    if await uow.families.holder_of(holder_psn_no) is not None:
        raise Conflict("The holder is a member of another family.", code="MEMBER_ALREADY_BOUND")
    bound = await uow.families.holders_of(member_psn_nos)
    elsewhere = sorted(m for m, h in bound.items() if h != holder_psn_no)
    if elsewhere:
        raise Conflict(
            "A member is bound to another holder already.", code="MEMBER_ALREADY_BOUND", psn_nos=elsewhere
        )
    fresh = [m for m in member_psn_nos if m not in bound]
    if await uow.families.any_holder(fresh):
        raise Conflict("A member shares their own account with others.", code="MEMBER_ALREADY_BOUND")
    for member in fresh:
        uow.families.bind(member, holder_psn_no, clock.now())
    await uow.flush()
    family = await uow.families.members_of(holder_psn_no)
    if fresh:
        bound_event = FamilyBound(holder_psn_no=holder_psn_no, member_psn_nos=family)
        await uow.publish(event_of(Subject.FAMILY_BOUND, holder_psn_no, bound_event, clock))
    return family


async def family_of(*, uow: EnrollmentUnitOfWork, holder_psn_no: str) -> list[str]:
    """The relatives bound to an employee's account; 404 PERSON_NOT_FOUND."""
    await uow.persons.must_get(holder_psn_no)
    return await uow.families.members_of(holder_psn_no)
