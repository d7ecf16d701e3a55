"""HTTP routes of fraud: parse, call the use case, shape the answer. No queries here."""

from __future__ import annotations

from fastapi import APIRouter

from fraud.api import cases, findings, practitioners, reviews, rules, tracecodes, warnings


def routers() -> list[APIRouter]:
    return [
        rules.router,
        reviews.router,
        findings.router,
        practitioners.router,
        cases.router,
        tracecodes.router,
        warnings.router,
    ]
