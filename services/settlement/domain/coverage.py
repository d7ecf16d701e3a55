"""Whether a person's coverage pays for care begun on a date, from the projection of enrollment's events."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True, slots=True)
class CoverageFacts:
    """A coverage as enrollment last described it."""

    coverage_id: int
    insutype: str
    attached_insutypes: tuple[str, ...]
    status: str
    begndate: date
    enddate: date | None
    psn_type: str | None
    assistance: str | None
    benefit_start_date: date
    incentive_raise_fen: int
    suspensions: tuple[tuple[date, date | None], ...]


@dataclass(frozen=True, slots=True)
class CoverageDecision:
    """The coverage in force, or why there is none (a stable code for the refusal)."""

    coverage: CoverageFacts | None
    refusal: str | None  # PERSON_DECEASED | NO_COVERAGE | COVERAGE_SUSPENDED
    in_waiting_period: bool = False


def _suspended_on(coverage: CoverageFacts, on: date) -> bool:
    return any(start <= on and (end is None or on < end) for start, end in coverage.suspensions)


def coverage_on(
    coverages: Sequence[CoverageFacts], *, insutype: str, on: date, death_date: date | None
) -> CoverageDecision:
    """The person's coverage of `insutype` in force on `on` (the care's begin date)."""
    if death_date is not None and on > death_date:
        return CoverageDecision(None, "PERSON_DECEASED")
    in_force = [
        c
        for c in coverages
        if c.insutype == insutype and c.begndate <= on and (c.enddate is None or on <= c.enddate)
    ]
    if not in_force:
        return CoverageDecision(None, "NO_COVERAGE")
    coverage = max(in_force, key=lambda c: (c.begndate, c.coverage_id))
    if _suspended_on(coverage, on):
        return CoverageDecision(coverage, "COVERAGE_SUSPENDED")
    return CoverageDecision(coverage, None, in_waiting_period=on < coverage.benefit_start_date)
