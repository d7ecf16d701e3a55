"""Routes of persons (参保人): registration, bulk load, the register's pages, one person, death."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from common.deps import PROBLEMS, ClockDep
from common.principal import OpsPrincipal
from enrollment.api.deps import LookupPrincipal, PolicyDep
from enrollment.domain.certno import mask_certno, mask_tel
from enrollment.models import Person
from enrollment.schemas.base import BulkRejected
from enrollment.schemas.persons import (
    BulkExisting,
    BulkPersonsIn,
    BulkPersonsOut,
    DeathIn,
    PersonIn,
    PersonOut,
    PersonPage,
)
from enrollment.service import persons as service
from enrollment.uow import Uow

router = APIRouter()


def person_out(person: Person, *, masked: bool = False) -> PersonOut:
    return PersonOut(
        psn_no=person.psn_no,
        certno=mask_certno(person.certno) if masked else person.certno,
        psn_name=person.psn_name,
        gend=person.gend,
        brdy=person.brdy,
        admdvs=person.admdvs,
        tel=mask_tel(person.tel) if masked else person.tel,
        death_date=person.death_date,
        created_at=person.created_at,
    )


@router.post(
    "/persons",
    status_code=201,
    response_model=PersonOut,
    responses=PROBLEMS,
    tags=["persons 参保人"],
    summary="Register a person 参保人登记 (one record per certno)",
)
async def register_person(body: PersonIn, uow: Uow, _ops: OpsPrincipal, clock: ClockDep) -> PersonOut:
    """Register a person once, by certno; the answer carries the new `psn_no` every other call uses.

    The certno is checked (GB 11643 checksum) and `gend` and `brdy`, when given, must agree with it
    (INVALID_CERTNO, CERTNO_MISMATCH). A certno registered before is 409 PERSON_EXISTS with the existing
    `psn_no`, so a retry finds the person instead of making a second one. Publishes enrollment.person.registered.
    """
    return person_out(await service.register_person(uow=uow, data=body, clock=clock))


@router.post(
    "/persons:bulk",
    response_model=BulkPersonsOut,
    responses=PROBLEMS,
    tags=["persons 参保人"],
    summary="Register many persons (initial load, at most 10,000 per call)",
)
async def register_persons_bulk(
    body: BulkPersonsIn, uow: Uow, _ops: OpsPrincipal, clock: ClockDep
) -> BulkPersonsOut:
    """Register up to 10,000 persons in one call, for the initial load of a city's register.

    Each item follows the rules of `POST /persons`. New persons are created and their `psn_no` listed in
    request order under `registered`; a certno registered before is listed under `existing` with its
    `psn_no` (a reloaded file is harmless); an invalid item is listed under `rejected` with its index and
    the code one call would give, and is not created.
    """
    outcome = await service.register_persons_bulk(uow=uow, people=body.persons, clock=clock)
    return BulkPersonsOut(
        created=len(outcome.registered),
        registered=outcome.registered,
        existing=[BulkExisting(index=e.index, psn_no=e.psn_no) for e in outcome.existing],
        rejected=[BulkRejected(index=r.index, code=r.code, detail=r.detail) for r in outcome.rejected],
    )


@router.get(
    "/persons",
    response_model=PersonPage,
    responses=PROBLEMS,
    tags=["persons 参保人"],
    summary="List persons (newest first; certno and tel masked)",
)
async def list_persons(
    uow: Uow,
    _ops: OpsPrincipal,
    certno: Annotated[str | None, Query(max_length=18, description="exact certno")] = None,
    admdvs: Annotated[str | None, Query(pattern=r"^\d{6}$")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> PersonPage:
    """Page through the register, newest first, filtered by exact certno or by region (`admdvs`).

    For bureau staff looking someone up: certno and phone are masked in the list (fetch one person for
    the full record). Pass `next_cursor` as `cursor` for the next page; it is null on the last.
    """
    page = await service.persons_page(uow=uow, certno=certno, admdvs=admdvs, limit=limit, cursor=cursor)
    return PersonPage(
        items=[person_out(person, masked=True) for person in page.items], next_cursor=page.next_cursor
    )


@router.get(
    "/persons/{psn_no}",
    response_model=PersonOut,
    responses=PROBLEMS,
    tags=["persons 参保人"],
    summary="One person 参保人信息",
)
async def get_person(psn_no: str, uow: Uow, _who: LookupPrincipal) -> PersonOut:
    """One person's full record, certno and phone unmasked, with the date of death if one was recorded.

    Hospitals and pharmacies may read it too (they identify the patient with it). 404 PERSON_NOT_FOUND.
    """
    return person_out(await service.person(uow=uow, psn_no=psn_no))


@router.post(
    "/persons/{psn_no}/death",
    response_model=PersonOut,
    responses=PROBLEMS,
    tags=["persons 参保人"],
    summary="Record a death 死亡登记: coverage ends that day",
)
async def record_death(
    psn_no: str, body: DeathIn, uow: Uow, _ops: OpsPrincipal, clock: ClockDep, policy: PolicyDep
) -> PersonOut:
    """Record a death: every current coverage ends on that day and care begun after it is not covered.

    The date must lie between the birth date and today (INVALID_DATE). The same date again answers the
    record as it is; a different one is 409 DEATH_ALREADY_RECORDED. Publishes enrollment.person.deceased
    and enrollment.coverage.changed for each coverage it ends.
    """
    return person_out(
        await service.record_death(
            uow=uow, psn_no=psn_no, death_date=body.death_date, clock=clock, policy=policy
        )
    )
