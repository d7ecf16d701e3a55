"""Enrollment statistics (参保统计)."""

from __future__ import annotations

from pydantic import BaseModel


class StatsRow(BaseModel):
    insutype: str
    status: str
    count: int


class EnrollmentStats(BaseModel):
    admdvs: str | None
    persons: int
    deceased: int
    coverages: list[StatsRow]
