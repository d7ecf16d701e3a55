"""Enrollment statistics (参保统计): persons and coverages counted for the bureau's reports."""

from __future__ import annotations

from dataclasses import dataclass

from enrollment.repository.coverages import StatusCount
from enrollment.uow import EnrollmentUnitOfWork


@dataclass(frozen=True, slots=True)
class EnrollmentCounts:
    """Persons registered and deceased, and coverages by insutype and status."""

    persons: int
    deceased: int
    coverages: list[StatusCount]


async def enrollment_counts(*, uow: EnrollmentUnitOfWork, admdvs: str | None) -> EnrollmentCounts:
    """The counts of the whole city, or of one region's persons."""
    coverages = await uow.coverages.count_by_status(admdvs=admdvs)
    return EnrollmentCounts(
        persons=await uow.persons.count(admdvs=admdvs),
        deceased=await uow.persons.count(admdvs=admdvs, deceased=True),
        coverages=coverages,
    )
