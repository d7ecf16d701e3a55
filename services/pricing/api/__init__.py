"""HTTP routes of pricing: parse, call the use case, shape the answer. No queries here."""

from __future__ import annotations

from fastapi import APIRouter

from pricing.api import alerts, drugs, index, reference, sales


def routers() -> list[APIRouter]:
    return [drugs.router, sales.router, reference.router, alerts.router, index.router]
