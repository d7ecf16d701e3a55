"""Aggregates for bureau staff: one person, one institution, fetched from the services concurrently.

Each section names the service it came from and whether it answered; when one service is down the answer
is still 200 with `partial: true` and that section marked `unavailable`, so a dashboard shows what it can.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated, Any

import httpx
from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from common.clock import business_date
from common.errors import Forbidden, NotFound
from common.principal import Principal, Role
from gateway.api.admin import caller
from gateway.upstream import send

log = logging.getLogger("gateway.overview")
router = APIRouter(tags=["overview 概览"])


class Section(BaseModel):
    service: str
    status: str = Field(description="ok | unavailable (the service did not answer) | error (it refused)")
    data: Any = None
    error: dict[str, Any] | None = None


class Overview(BaseModel):
    partial: bool = Field(description="true when a section could not be fetched")
    sections: dict[str, Section]


class PersonOverview(Overview):
    psn_no: str


class PointsPool(BaseModel):
    """The institution in one pool's budget execution this year (payment by points, DRG/DIP)."""

    year: int
    insutype: str = Field(description="the pool: 310 employees, 390 residents")
    method: str | None = Field(default=None, description="drg | dip")
    provisional_point_value: str | None = Field(
        default=None, description="the pool's provisional point value (yuan per point) so far this year"
    )
    warning: bool | None = Field(
        default=None, description="the pool spends ahead of the year by more than 5 points"
    )
    cases: int = Field(default=0, description="the institution's points cases this year")
    points: str | None = Field(default=None, description="its points")
    e: str | None = Field(default=None, description="its provisional entitlement E_i (yuan)")
    f: str | None = Field(default=None, description="what the pool paid it for those cases, F_i (yuan)")
    overrun: str | None = Field(default=None, description="(F_i − E_i) ÷ E_i")
    colour: str | None = Field(default=None, description="green ≤ 0 | yellow ≤ 0.10 | red above")


class InstitutionOverview(Overview):
    fixmedins_code: str
    sections: dict[str, Section] = Field(
        description="institution, today, last_statements, open_findings, open_alerts, and points: a list of "
        "PointsPool, one per pool insutype (310, 390) with a payment year this year (empty when none has one)"
    )


async def fetch_section(
    request: Request, principal: Principal, service: str, path: str, params: dict[str, Any] | None = None
) -> Section:
    try:
        response = await send(request, principal, service, "GET", path, params=params)
    except httpx.HTTPError as exc:
        log.warning("overview: %s unavailable (%s)", service, type(exc).__name__)
        return Section(service=service, status="unavailable", error={"code": "SERVICE_UNAVAILABLE"})
    if response.status_code >= 500:
        return Section(
            service=service,
            status="unavailable",
            error={"status": response.status_code, "code": "SERVICE_ERROR"},
        )
    try:
        body = response.json()
    except ValueError:
        return Section(service=service, status="unavailable", error={"code": "BAD_UPSTREAM_ANSWER"})
    if response.status_code >= 400:
        code = body.get("code") if isinstance(body, dict) else None
        return Section(service=service, status="error", error={"status": response.status_code, "code": code})
    return Section(service=service, status="ok", data=body)


async def _ops(request: Request) -> Principal:
    principal = await caller(request)
    if principal.role is not Role.OPS:
        raise Forbidden("Overviews are for bureau staff (ops).", code="ROLE_FORBIDDEN")
    return principal


OverviewCaller = Annotated[Principal, Depends(_ops)]


# The pool insutypes paid by points, each with its own payment year (docs/points-payment.md).
POINTS_INSUTYPES = ("310", "390")


def _points_pool(year: int, insutype: str, body: dict[str, Any], fixmedins_code: str) -> dict[str, Any]:
    line: dict[str, Any] = next(
        (row for row in body.get("institutions") or [] if row.get("fixmedins_code") == fixmedins_code), {}
    )
    pool = PointsPool(
        year=year,
        insutype=insutype,
        method=body.get("method"),
        provisional_point_value=body.get("provisional_point_value"),
        warning=body.get("warning"),
        **{key: line[key] for key in ("cases", "points", "e", "f", "overrun", "colour") if key in line},
    )
    return pool.model_dump(mode="json")


async def _points(request: Request, principal: Principal, fixmedins_code: str, year: int) -> Section:
    """The points section: the institution in each pool's budget execution of the year. A pool without a
    payment year (404 PAYMENT_YEAR_NOT_FOUND) is left out, not a failure; any other failure marks the section."""
    fetched = await asyncio.gather(
        *(
            fetch_section(
                request,
                principal,
                "settlement",
                "/budget-execution",
                {"year": year, "insutype": insutype, "fixmedins_code": fixmedins_code},
            )
            for insutype in POINTS_INSUTYPES
        )
    )
    pools: list[dict[str, Any]] = []
    failed: Section | None = None
    for insutype, section in zip(POINTS_INSUTYPES, fetched, strict=True):
        if section.status == "ok":
            pools.append(_points_pool(year, insutype, section.data, fixmedins_code))
        elif (section.error or {}).get("code") == "PAYMENT_YEAR_NOT_FOUND":
            continue
        elif failed is None or section.status == "unavailable":
            failed = section
    if failed is not None:
        return Section(service="settlement", status=failed.status, data=pools, error=failed.error)
    return Section(service="settlement", status="ok", data=pools)


def _not_found(section: Section, what: str) -> bool:
    return section.status == "error" and (section.error or {}).get("status") == 404 and bool(what)


@router.get(
    "/overview/persons/{psn_no}",
    response_model=PersonOverview,
    summary="One person at a glance 参保人概览: coverage, account, recent settlements, open findings",
)
async def person_overview(psn_no: str, request: Request, principal: OverviewCaller) -> PersonOverview:
    """One person at a glance, gathered from the services in one call.

    The person, today's eligibility, the personal account, the ten latest settlements and the open fraud
    findings: for bureau staff (ops) answering a citizen or reviewing a case. Each section says whether it
    could be fetched (`ok`, `unavailable` when its service is down, `error` when it refused); `partial` is
    true when any could not, and the rest is still shown. 404 PERSON_NOT_FOUND when enrollment does not know
    the person.
    """
    names = ("person", "eligibility", "account", "recent_settlements", "open_findings")
    sections = await asyncio.gather(
        fetch_section(request, principal, "enrollment", f"/persons/{psn_no}"),
        fetch_section(request, principal, "enrollment", "/eligibility", {"psn_no": psn_no}),
        fetch_section(request, principal, "settlement", f"/accounts/{psn_no}"),
        fetch_section(request, principal, "settlement", "/settlements", {"psn_no": psn_no, "limit": 10}),
        fetch_section(request, principal, "fraud", "/findings", {"psn_no": psn_no, "status": "open"}),
    )
    by_name = dict(zip(names, sections, strict=True))
    if _not_found(by_name["person"], psn_no):
        raise NotFound(f"No person {psn_no}.", code="PERSON_NOT_FOUND")
    return PersonOverview(psn_no=psn_no, partial=any(s.status != "ok" for s in sections), sections=by_name)


@router.get(
    "/overview/institutions/{fixmedins_code}",
    response_model=InstitutionOverview,
    summary="One institution at a glance 机构概览: today's totals, last statements, open findings and alerts",
)
async def institution_overview(
    fixmedins_code: str, request: Request, principal: OverviewCaller
) -> InstitutionOverview:
    """One institution at a glance, gathered from the services in one call.

    The institution, today's settlement totals, its last seven daily statements, its open fraud findings,
    its open price alerts and, for payment by points, where it stands in each pool's budget this year (cases,
    points, provisional entitlement `e`, `f`, `overrun` and the colour, with the pool's provisional point
    value; a pool without a payment year is left out): for bureau staff (ops). Each section says whether it
    could be fetched; `partial` is true when any could not, and the rest is still shown. 404
    INSTITUTION_NOT_FOUND when settlement does not know it.
    """
    today = business_date(request.app.state.clock.now())
    names = ("institution", "today", "last_statements", "open_findings", "open_alerts", "points")
    sections = await asyncio.gather(
        fetch_section(request, principal, "settlement", f"/institutions/{fixmedins_code}"),
        fetch_section(
            request,
            principal,
            "settlement",
            f"/institutions/{fixmedins_code}/activity",
            {"date": today.isoformat()},
        ),
        fetch_section(
            request,
            principal,
            "settlement",
            "/daily-statements",
            {"fixmedins_code": fixmedins_code, "limit": 7},
        ),
        fetch_section(
            request, principal, "fraud", "/findings", {"fixmedins_code": fixmedins_code, "status": "open"}
        ),
        fetch_section(
            request, principal, "pricing", "/alerts", {"fixmedins_code": fixmedins_code, "status": "open"}
        ),
        _points(request, principal, fixmedins_code, today.year),
    )
    by_name = dict(zip(names, sections, strict=True))
    if _not_found(by_name["institution"], fixmedins_code):
        raise NotFound(f"No designated institution {fixmedins_code}.", code="INSTITUTION_NOT_FOUND")
    return InstitutionOverview(
        fixmedins_code=fixmedins_code, partial=any(s.status != "ok" for s in sections), sections=by_name
    )
