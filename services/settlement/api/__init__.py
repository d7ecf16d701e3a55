"""HTTP routes of settlement: parse, call the use case, shape the answer. No queries here."""

from __future__ import annotations

from fastapi import APIRouter

from settlement.api import claims, day_close, ledger, monthly, points, reference, reports, trace_codes


def routers() -> list[APIRouter]:
    return [
        reference.router,
        trace_codes.router,
        claims.router,
        ledger.router,
        day_close.router,
        monthly.router,
        points.router,
        reports.router,
    ]
