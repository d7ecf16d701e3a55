"""HTTP routes of enrollment: parse, call the use case, shape the answer. No queries here."""

from __future__ import annotations

from fastapi import APIRouter

from enrollment.api import contributions, coverages, eligibility, families, persons, stats


def routers() -> list[APIRouter]:
    """The routers in the order their operations appear in the API document."""
    return [
        persons.router,
        coverages.router,
        contributions.router,
        families.router,
        eligibility.router,
        stats.router,
    ]
