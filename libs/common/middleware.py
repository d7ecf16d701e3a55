"""One ASGI middleware for the request id, the access log line and the latency histogram."""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any
from urllib.parse import unquote

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from common.errors import problem_response
from common.logs import request_id_var
from common.metrics import HTTP_LATENCY

REQUEST_ID_HEADER = "x-request-id"
# Control characters have no place in a path or a query: an identifier with a NUL byte or a backspace is
# an attack or a broken client, and PostgreSQL refuses NUL in text (which would surface as a 500).
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
access_log = logging.getLogger("access")


def _has_control_characters(scope: Scope) -> bool:
    query = unquote(scope.get("query_string", b"").decode("latin-1"))
    return bool(_CONTROL.search(scope.get("path", "")) or _CONTROL.search(query))


def _route_template(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    # Unmatched paths are folded into one label so a scanner cannot blow up the metric's cardinality.
    return path if isinstance(path, str) else "unmatched"


class ObservabilityMiddleware:
    """Set or pass through X-Request-ID, time the request by route template, log one line per request."""

    def __init__(self, app: ASGIApp, *, service: str, quiet_paths: frozenset[str] = frozenset()) -> None:
        self.app = app
        self.service = service
        self.quiet_paths = quiet_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = _header(scope, REQUEST_ID_HEADER)
        request_id = incoming if incoming and _SAFE_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        token = request_id_var.set(request_id)
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            if _has_control_characters(scope):
                response = problem_response(
                    status=400,
                    code="INVALID_CHARACTERS",
                    title="Bad request",
                    detail="The path or the query string contains control characters.",
                )
                await response(scope, receive, send_with_id)
            else:
                await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = _route_template(scope)
            HTTP_LATENCY.labels(self.service, scope["method"], route, str(status)).observe(elapsed)
            if scope["path"] not in self.quiet_paths:
                # The query string is never logged: it may carry a certno (GET /persons?certno=...).
                access_log.info(
                    "%s %s %s",
                    scope["method"],
                    scope["path"],
                    status,
                    extra={
                        "method": scope["method"],
                        "route": route,
                        "status": status,
                        "duration_ms": round(elapsed * 1000, 2),
                    },
                )
            request_id_var.reset(token)


def _header(scope: Scope, name: str) -> str | None:
    wanted = name.encode()
    for key, value in scope.get("headers", []):
        if key == wanted:
            decoded: Any = value.decode("latin-1")
            return str(decoded)
    return None
