"""One ASGI middleware for the request id, the access log line, the latency histogram and the body limit."""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any
from urllib.parse import unquote

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from common.errors import BodyRefused, problem_response
from common.logs import request_id_var
from common.metrics import HTTP_LATENCY

REQUEST_ID_HEADER = "x-request-id"
# Control characters have no place in a path or a query: an identifier with a NUL byte or a backspace is
# an attack or a broken client, and PostgreSQL refuses NUL in text (which would surface as a 500).
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
# A path is logged as sent only if it looks like ids and words of the API; one with anything else (a name in
# Chinese, spaces) may carry a client's free text, personal data among it, and is logged by its route template.
_LOGGABLE_PATH = re.compile(r"^[A-Za-z0-9._~:@!$&'()*+,;=/%-]*$")
access_log = logging.getLogger("access")
BODY_LIMIT_SCOPE_KEY = "ybj.body_limit"
_NUL_ESCAPE = b"\\u0000"


class BodyLimit:
    """The most bytes this request's body may have: the service's limit, raised by a route that takes big uploads."""

    __slots__ = ("max_bytes",)

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes


def allow_body_of(scope: Scope, max_bytes: int) -> None:
    """Let this request's body be up to `max_bytes` (bulk loads, which enforce their own limit and code)."""
    limit = scope.get(BODY_LIMIT_SCOPE_KEY)
    if isinstance(limit, BodyLimit):
        limit.max_bytes = max(limit.max_bytes, max_bytes)


def _limited(scope: Scope, receive: Receive, limit: BodyLimit) -> Receive:
    """`receive`, refusing a body over the limit (declared or streamed) with 413 PAYLOAD_TOO_LARGE, and a JSON
    body with a NUL character (raw, or the \\u0000 escape) with 400 INVALID_CHARACTERS: PostgreSQL cannot store
    NUL in text, and no field of this platform has a use for it.

    Checked as the body is read, inside the route, so the error handlers answer in problem+json and a route
    may first raise the limit for itself.
    """
    declared = _header(scope, "content-length")
    content_type = (_header(scope, "content-type") or "json").lower()
    json_body = "json" in content_type  # a CSV may be UTF-16 (NUL bytes); the bulk reader judges it
    received = 0
    tail = b""

    async def receive_limited() -> Message:
        nonlocal received, tail
        if declared is not None and declared.isdigit() and int(declared) > limit.max_bytes:
            raise BodyRefused(413, "PAYLOAD_TOO_LARGE", f"The body is over {limit.max_bytes} bytes.")
        message = await receive()
        if message["type"] == "http.request":
            chunk: bytes = message.get("body", b"")
            received += len(chunk)
            if received > limit.max_bytes:
                raise BodyRefused(413, "PAYLOAD_TOO_LARGE", f"The body is over {limit.max_bytes} bytes.")
            if json_body:
                window = tail + chunk
                if b"\x00" in window or _NUL_ESCAPE in window:
                    raise BodyRefused(400, "INVALID_CHARACTERS", "The body contains a NUL character.")
                tail = window[-(len(_NUL_ESCAPE) - 1) :]
        return message

    return receive_limited


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

    def __init__(
        self,
        app: ASGIApp,
        *,
        service: str,
        quiet_paths: frozenset[str] = frozenset(),
        max_body_bytes: int | None = None,
    ) -> None:
        self.app = app
        self.service = service
        self.quiet_paths = quiet_paths
        self.max_body_bytes = max_body_bytes

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
                if self.max_body_bytes is not None:
                    limit = BodyLimit(self.max_body_bytes)
                    scope[BODY_LIMIT_SCOPE_KEY] = limit
                    receive = _limited(scope, receive, limit)
                await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = _route_template(scope)
            HTTP_LATENCY.labels(self.service, scope["method"], route, str(status)).observe(elapsed)
            if scope["path"] not in self.quiet_paths:
                # The query string is never logged: it may carry a certno (GET /persons?certno=...).
                path = scope["path"]
                shown = path if _LOGGABLE_PATH.match(path) else f"{route} (path withheld)"
                access_log.info(
                    "%s %s %s",
                    scope["method"],
                    shown,
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
