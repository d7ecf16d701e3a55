"""Calls from the national interface to the services, under the caller's signed principal."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
from fastapi import Request

from common.logs import request_id_var
from common.principal import Principal, sign_principal
from gateway.config import Settings
from gateway.national.envelope import Envelope, NationalError

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

    async def call(
        self,
        service: str,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
    ) -> Any:
        """The service's JSON answer; its refusal (4xx) or absence as a NationalError with its code."""
        settings: Settings = self.request.app.state.settings
        client: httpx.AsyncClient = self.request.app.state.upstream
        headers = {
            "x-request-id": request_id_var.get() or "",
            **sign_principal(
                self.principal,
                secret=settings.internal_secret,
                method=method,
                path=path,
                now=self.request.app.state.clock.now(),
            ),
        }
        try:
            response = await client.request(
                method, f"{settings.upstreams()[service]}{path}", params=params, json=json, headers=headers
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
            problem = body if isinstance(body, dict) else {}
            code = str(problem.get("code") or f"HTTP_{response.status_code}")
            detail = str(problem.get("detail") or problem.get("title") or "refused")
            if response.status_code >= 500:
                code = code if code != "INTERNAL_ERROR" else "SERVICE_ERROR"
            raise NationalError(code, detail)
        return body
