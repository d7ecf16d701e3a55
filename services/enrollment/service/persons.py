"""Persons (一人一档): registration one by one or in bulk, the register's pages, death."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from common.clock import Clock, business_date
from common.errors import Conflict, Unprocessable
from common.events.contracts import Subject
from common.events.enrollment import PersonDeceased, PersonRegistered
from common.repository import Page
from enrollment.domain.certno import CertnoError, parse_certno
from enrollment.domain.waiting import ResidentPolicy
from enrollment.models import Person
from enrollment.schemas.base import CoverageStatus
from enrollment.schemas.persons import PersonIn
from enrollment.service.bulk import Rejected
from enrollment.service.coverages import end_on, restate
from enrollment.service.publishing import event_of
from enrollment.uow import EnrollmentUnitOfWork


def new_psn_no() -> str:
    """An opaque, stable person number: P + 19 hex digits."""
    return "P" + uuid.uuid4().hex[:19].upper()


@dataclass(frozen=True)
class ValidPerson:
    certno: str
    psn_name: str
    gend: str
    brdy: date
    admdvs: str
    tel: str | None


def validate_person(data: PersonIn, *, today: date) -> ValidPerson:
    """Check the certno and that the gender and birth date given agree with it."""
    try:
        parsed = parse_certno(data.certno, today=today)
    except CertnoError as exc:
        raise Unprocessable(str(exc), code="INVALID_CERTNO") from exc
    if data.gend is not None and data.gend.value != parsed.gend:
        raise Unprocessable("gend does not agree with the certno", code="CERTNO_MISMATCH", field="gend")
    if data.brdy is not None and data.brdy != parsed.birth_date:
        raise Unprocessable("brdy does not agree with the certno", code="CERTNO_MISMATCH", field="brdy")
    return ValidPerson(parsed.value, data.psn_name, parsed.gend, parsed.birth_date, data.admdvs, data.tel)


def _person_row(valid: ValidPerson, now: datetime) -> dict[str, Any]:
    return {
        "psn_no": new_psn_no(),
        "certno": valid.certno,
        "psn_name": valid.psn_name,
        "gend": valid.gend,
        "brdy": valid.brdy,
        "admdvs": valid.admdvs,
        "tel": valid.tel,
        "death_date": None,
        "created_at": now,
        "updated_at": now,
    }


def _registered(row: dict[str, Any]) -> PersonRegistered:
    return PersonRegistered(
        psn_no=row["psn_no"], certno=row["certno"], gend=row["gend"], brdy=row["brdy"], admdvs=row["admdvs"]
    )


async def register_person(*, uow: EnrollmentUnitOfWork, data: PersonIn, clock: Clock) -> Person:
    """Register a person; a certno registered before is a conflict carrying the existing psn_no."""
    valid = validate_person(data, today=business_date(clock.now()))
    existing = await uow.persons.by_certno(valid.certno)
    if existing is not None:
        raise Conflict("This certno is registered already.", code="PERSON_EXISTS", psn_no=existing.psn_no)
    row = _person_row(valid, clock.now())
    if not await uow.persons.insert_new(row):  # registered concurrently a moment ago
        raced = await uow.persons.by_certno(valid.certno)
        raise Conflict(
            "This certno is registered already.", code="PERSON_EXISTS", psn_no=raced.psn_no if raced else None
        )
    await uow.publish(event_of(Subject.PERSON_REGISTERED, row["psn_no"], _registered(row), clock))
    return await uow.persons.must_get(row["psn_no"])


@dataclass(frozen=True, slots=True)
class Existing:
    """An item of a bulk load whose certno was registered before, and that person's psn_no."""

    index: int
    psn_no: str


@dataclass
class BulkRegistration:
    """What a bulk registration did: psn_nos created (request order), certnos already known, items refused."""

    registered: list[str] = field(default_factory=list)
    existing: list[Existing] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)


async def register_persons_bulk(
    *, uow: EnrollmentUnitOfWork, people: Sequence[PersonIn], clock: Clock
) -> BulkRegistration:
    """Register many persons in one transaction: valid new ones are created, the rest reported by index."""
    today, now = business_date(clock.now()), clock.now()
    outcome = BulkRegistration()
    valid: list[tuple[int, ValidPerson]] = []
    seen: dict[str, int] = {}
    for index, data in enumerate(people):
        try:
            person = validate_person(data, today=today)
        except Unprocessable as exc:
            outcome.rejected.append(Rejected(index, exc.code, exc.detail))
            continue
        if person.certno in seen:
            outcome.rejected.append(
                Rejected(index, "DUPLICATE_IN_REQUEST", f"same certno as item {seen[person.certno]}")
            )
            continue
        seen[person.certno] = index
        valid.append((index, person))
    known = await uow.persons.psn_nos_by_certno([person.certno for _, person in valid])
    rows = []
    for index, person in valid:
        if person.certno in known:
            outcome.existing.append(Existing(index, known[person.certno]))
            continue
        row = _person_row(person, now)
        rows.append(row)
        outcome.registered.append(row["psn_no"])
    await uow.persons.insert_many(rows)
    await uow.publish(
        *(event_of(Subject.PERSON_REGISTERED, row["psn_no"], _registered(row), clock) for row in rows)
    )
    return outcome


async def person(*, uow: EnrollmentUnitOfWork, psn_no: str) -> Person:
    """One person, or 404 PERSON_NOT_FOUND."""
    return await uow.persons.must_get(psn_no)


async def persons_page(
    *, uow: EnrollmentUnitOfWork, certno: str | None, admdvs: str | None, limit: int, cursor: str | None
) -> Page[Person]:
    """A page of the register, newest first, by exact certno or region."""
    return await uow.persons.page(
        certno=certno.strip().upper() if certno else None, admdvs=admdvs, limit=limit, cursor=cursor
    )


async def record_death(
    *, uow: EnrollmentUnitOfWork, psn_no: str, death_date: date, clock: Clock, policy: ResidentPolicy
) -> Person:
    """Record a death: current coverages end that day; later care is not covered."""
    person = await uow.persons.must_get(psn_no, for_update=True)
    if death_date > business_date(clock.now()) or death_date < person.brdy:
        raise Unprocessable("death_date must lie between the birth date and today.", code="INVALID_DATE")
    if person.death_date is not None:
        if person.death_date == death_date:
            return person
        raise Conflict(
            "A different date of death is recorded already.",
            code="DEATH_ALREADY_RECORDED",
            death_date=person.death_date.isoformat(),
        )
    person.death_date, person.updated_at = death_date, clock.now()
    await uow.flush()
    await uow.publish(
        event_of(Subject.PERSON_DECEASED, psn_no, PersonDeceased(psn_no=psn_no, death_date=death_date), clock)
    )
    for coverage in await uow.coverages.of_person(psn_no):
        if coverage.status != CoverageStatus.ENDED.value:
            await end_on(
                uow, coverage, enddate=max(death_date, coverage.begndate), reason="death", clock=clock
            )
            await restate(uow, coverage, clock=clock, policy=policy)
        elif coverage.enddate is not None and coverage.enddate > death_date:
            coverage.enddate = max(death_date, coverage.begndate)
            await uow.flush()
            await restate(uow, coverage, clock=clock, policy=policy)
    return person
