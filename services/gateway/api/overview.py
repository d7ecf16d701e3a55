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


class InstitutionOverview(Overview):
    fixmedins_code: str


async def _fetch(
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
        _fetch(request, principal, "enrollment", f"/persons/{psn_no}"),
        _fetch(request, principal, "enrollment", "/eligibility", {"psn_no": psn_no}),
        _fetch(request, principal, "settlement", f"/accounts/{psn_no}"),
        _fetch(request, principal, "settlement", "/settlements", {"psn_no": psn_no, "limit": 10}),
        _fetch(request, principal, "fraud", "/findings", {"psn_no": psn_no, "status": "open"}),
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

    The institution, today's settlement totals, its last seven daily statements, its open fraud findings and
    its open price alerts: for bureau staff (ops). Each section says whether it could be fetched; `partial`
    is true when any could not, and the rest is still shown. 404 INSTITUTION_NOT_FOUND when settlement does
    not know it.
    """
    today = business_date(request.app.state.clock.now()).isoformat()
    names = ("institution", "today", "last_statements", "open_findings", "open_alerts")
    sections = await asyncio.gather(
        _fetch(request, principal, "settlement", f"/institutions/{fixmedins_code}"),
        _fetch(request, principal, "settlement", f"/institutions/{fixmedins_code}/activity", {"date": today}),
        _fetch(
            request,
            principal,
            "settlement",
            "/daily-statements",
            {"fixmedins_code": fixmedins_code, "limit": 7},
        ),
        _fetch(
            request, principal, "fraud", "/findings", {"fixmedins_code": fixmedins_code, "status": "open"}
        ),
        _fetch(
            request, principal, "pricing", "/alerts", {"fixmedins_code": fixmedins_code, "status": "open"}
        ),
    )
    by_name = dict(zip(names, sections, strict=True))
    if _not_found(by_name["institution"], fixmedins_code):
        raise NotFound(f"No designated institution {fixmedins_code}.", code="INSTITUTION_NOT_FOUND")
    return InstitutionOverview(
        fixmedins_code=fixmedins_code, partial=any(s.status != "ok" for s in sections), sections=by_name
    )
