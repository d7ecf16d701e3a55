"""Calls from the national interface to the services, under the caller's signed principal."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
from fastapi import Request

from common.db import Database
from common.principal import Principal
from gateway.national.envelope import Envelope, NationalError
from gateway.upstream import send

log = logging.getLogger("gateway.national")


@dataclass(frozen=True)
class Context:
    """One national message being answered: who sent it, what it says, and how to reach the services."""

    request: Request
    principal: Principal
    envelope: Envelope
    now: datetime

    @property
    def fixmedins_code(self) -> str:
        return self.envelope.fixmedins_code

    @property
    def db(self) -> Database:
        """The gateway's database, for the units of work of sign-ins and stored messages."""
        db: Database = self.request.app.state.db
        return db

    async def call(
        self,
        service: str,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        node: str = "input.data",
        fields: Mapping[str, str] | None = None,
    ) -> Any:
        """The service's JSON answer; its refusal (4xx) or absence as a NationalError with its code.

        `node` is where the body's fields came from in the national message and `fields` renames those that
        came from elsewhere (`{"feedetail": "input.feedetail"}`): an input fault the service finds is then
        answered in the caller's terms, `[INVALID_INPUT] input.data.med_type: ...`, never the service's own path.
        """
        try:
            response = await send(
                self.request, self.principal, service, method, path, params=params, json=json
            )
        except httpx.TimeoutException as exc:
            raise NationalError("UPSTREAM_TIMEOUT", f"The {service} service did not answer in time.") from exc
        except httpx.HTTPError as exc:
            log.warning("national: %s unavailable (%s)", service, type(exc).__name__)
            raise NationalError(
                "SERVICE_UNAVAILABLE", f"The {service} service is unavailable; retry shortly."
            ) from exc
        if response.status_code == 204:
            return None
        try:
            body = response.json()
        except ValueError as exc:
            raise NationalError("BAD_UPSTREAM_ANSWER", f"The {service} service gave no JSON answer.") from exc
        if response.status_code >= 400:
            raise refusal(body, response.status_code, node=node, fields=fields or {})
        return body


def national_path(loc: Sequence[Any], *, node: str, fields: Mapping[str, str]) -> str:
    """A service's error location (`["body", "feedetail", 0, "cnt"]`) as the national field path."""
    parts = [str(part) for part in loc]
    if parts and parts[0] in ("body", "query", "path"):
        parts = parts[1:]
    if not parts:
        return node
    head = fields.get(parts[0], f"{node}.{parts[0]}")
    return ".".join((head, *parts[1:]))


def refusal(body: Any, status: int, *, node: str, fields: Mapping[str, str]) -> NationalError:
    """A service's problem+json as the national failure: input faults as INVALID_INPUT at the national path,
    business refusals with their own stable code (and the national path of the field they name, if any)."""
    problem = body if isinstance(body, dict) else {}
    code = str(problem.get("code") or f"HTTP_{status}")
    detail = str(problem.get("detail") or problem.get("title") or "refused")
    if status >= 500:
        return NationalError(code if code != "INTERNAL_ERROR" else "SERVICE_ERROR", detail)
    errors = problem.get("errors")
    if code == "VALIDATION_ERROR" and isinstance(errors, list) and errors and isinstance(errors[0], dict):
        first = errors[0]
        where = national_path(first.get("loc") or [], node=node, fields=fields)
        return NationalError("INVALID_INPUT", f"{where}: {first.get('msg', 'invalid')}")
    if code == "MALFORMED_JSON":
        return NationalError("INVALID_INPUT", f"{node}: {detail}")
    field = problem.get("field")
    if isinstance(field, str) and field:
        return NationalError(code, f"{national_path(field.split('.'), node=node, fields=fields)}: {detail}")
    return NationalError(code, detail)
