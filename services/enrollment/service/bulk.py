"""Bulk loads: what they did with each item (created, found as a retry, refused, by index), and the book
of the load's persons they check every item against in memory.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

from pydantic import BaseModel

from common.clock import Clock
from common.errors import NotFound
from common.events.envelope import EventEnvelope, new_event
from enrollment.domain.coverages import CoveredYears, covered_years
from enrollment.domain.waiting import ClaimYear
from enrollment.models import Contribution, Coverage, CoverageSuspension, Person
from enrollment.schemas.base import CoverageStatus
from enrollment.service.publishing import SOURCE
from enrollment.uow import EnrollmentUnitOfWork


@dataclass(frozen=True, slots=True)
class Rejected:
    """An item that was refused, with the code and detail one call would give."""

    index: int
    code: str
    detail: str


@dataclass(frozen=True, slots=True)
class Created:
    """An item created (or found, for a retry): its person and the id of the row."""

    index: int
    psn_no: str
    id: int


@dataclass
class BulkItems:
    """The items of a bulk load that were created, found as they were, and refused."""

    created: list[Created] = field(default_factory=list)
    existing: list[Created] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class PendingEvent:
    """An event of a bulk load as of the item that caused it, written once its row has its id."""

    subject: str
    psn_no: str
    data: BaseModel
    id_field: str  # "coverage_id" | "contribution_id": the field the row's id fills
    row: Coverage | Contribution

    def envelope(self, clock: Clock) -> EventEnvelope:
        """The envelope `event_of` gives, with the row's id (the data is dumped once, the id set in it)."""
        data = self.data.model_dump(mode="json")
        data[self.id_field] = getattr(self.row, self.id_field)
        return new_event(type=self.subject, source=SOURCE, subject=self.psn_no, data=data, clock=clock)


@dataclass
class Book:
    """The persons of a bulk load as the database holds them, kept in memory while the items apply.

    Loaded in one query per table (the persons locked FOR UPDATE in psn_no order, as one call locks its
    person, so single calls and other loads on the same persons queue behind this one). Items change the
    book as one call would change the database; `write` then flushes every new and changed row in one
    statement per table and writes the events of the items in order.
    """

    persons: dict[str, Person]
    coverages: dict[str, list[Coverage]]
    contributions: dict[str, list[Contribution]]
    claims: dict[str, list[ClaimYear]]
    suspensions: dict[int, list[CoverageSuspension]]
    new_rows: list[Coverage | Contribution] = field(default_factory=list)
    pending: list[PendingEvent] = field(default_factory=list)

    @classmethod
    async def load(cls, uow: EnrollmentUnitOfWork, psn_nos: Sequence[str]) -> Book:
        """The book of these persons (`psn_nos` sorted); unknown ones are simply absent."""
        persons = await uow.persons.lock_many(psn_nos)
        known = sorted(persons)
        coverages: dict[str, list[Coverage]] = defaultdict(list)
        for coverage in await uow.coverages.of_persons(known):
            coverages[coverage.psn_no].append(coverage)
        contributions: dict[str, list[Contribution]] = defaultdict(list)
        for contribution in await uow.contributions.of_persons(known):
            contributions[contribution.psn_no].append(contribution)
        claims: dict[str, list[ClaimYear]] = defaultdict(list)
        for row in await uow.claim_years.of_persons(known):
            claims[row.psn_no].append(ClaimYear(row.year, row.fund_pay_fen, row.zero_claim_raise_used))
        suspensions: dict[int, list[CoverageSuspension]] = defaultdict(list)
        for suspension in await uow.suspensions.of_persons(known):
            suspensions[suspension.coverage_id].append(suspension)
        return cls(persons, coverages, contributions, claims, suspensions)

    def person(self, psn_no: str) -> Person:
        """The person, or 404 PERSON_NOT_FOUND as one call gives it."""
        person = self.persons.get(psn_no)
        if person is None:
            raise NotFound("No such person.", code="PERSON_NOT_FOUND", psn_no=psn_no)
        return person

    def current(self, psn_no: str) -> Coverage | None:
        """The person's coverage that has not ended (at most one)."""
        return next(
            (c for c in self.coverages.get(psn_no, ()) if c.status != CoverageStatus.ENDED.value), None
        )

    def of_insutype(self, psn_no: str, insutype: str) -> list[Coverage]:
        return [c for c in self.coverages.get(psn_no, ()) if c.insutype == insutype]

    def contribution(self, psn_no: str, insutype: str, period: str) -> Contribution | None:
        return next(
            (c for c in self.contributions.get(psn_no, ()) if (c.insutype, c.period) == (insutype, period)),
            None,
        )

    def history(self, psn_no: str, *, exclude: Coverage | None, today: date) -> CoveredYears:
        """Years with basic coverage and years paid back late, as `coverages.history` reads them."""
        spans = [(c.begndate, c.enddate) for c in self.coverages.get(psn_no, ()) if c is not exclude]
        paid = [(c.period, c.back_payment) for c in self.contributions.get(psn_no, ())]
        return covered_years(spans, paid, today=today)

    def suspensions_of(self, coverage: Coverage) -> list[CoverageSuspension]:
        if coverage.coverage_id is None:
            return []
        return sorted(self.suspensions.get(coverage.coverage_id, ()), key=lambda s: s.from_date)

    def add_coverage(self, coverage: Coverage) -> None:
        self.coverages[coverage.psn_no].append(coverage)
        self.new_rows.append(coverage)

    def add_contribution(self, contribution: Contribution) -> None:
        self.contributions[contribution.psn_no].append(contribution)
        self.new_rows.append(contribution)

    async def write(self, uow: EnrollmentUnitOfWork, clock: Clock) -> None:
        """Every new and changed row in one flush (a multi-row INSERT ... RETURNING per table, the changed
        coverages in one executemany UPDATE), then the events of the items, in their order, in one insert."""
        uow.session.add_all(self.new_rows)
        await uow.flush()
        await uow.publish(*(pending.envelope(clock) for pending in self.pending))
