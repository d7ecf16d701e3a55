"""Problem+json (RFC 9457): one error hierarchy, turned into HTTP by one set of handlers."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_MEDIA_TYPE = "application/problem+json"
RESERVED_MEMBERS = frozenset({"type", "title", "status", "detail", "code", "instance"})
log = logging.getLogger("common.errors")


class ProblemError(Exception):
    """A failure the caller should hear about, with a stable machine code."""

    status: int = 400
    code: str = "BAD_REQUEST"
    title: str = "Bad request"

    def __init__(
        self, detail: str, *, code: str | None = None, headers: dict[str, str] | None = None, **extra: Any
    ) -> None:
        super().__init__(detail)
        clash = RESERVED_MEMBERS & extra.keys()
        if clash:
            raise TypeError(f"problem extras may not reuse the members {sorted(clash)}")
        self.detail = detail
        if code is not None:
            self.code = code
        self.headers = headers or {}
        self.extra = extra


class BadRequest(ProblemError):
    status, code, title = 400, "BAD_REQUEST", "Bad request"


class Unauthorized(ProblemError):
    status, code, title = 401, "UNAUTHORIZED", "Unauthorized"


class Forbidden(ProblemError):
    status, code, title = 403, "FORBIDDEN", "Forbidden"


class NotFound(ProblemError):
    status, code, title = 404, "NOT_FOUND", "Not found"


class Conflict(ProblemError):
    status, code, title = 409, "CONFLICT", "Conflict"


class PayloadTooLarge(ProblemError):
    status, code, title = 413, "PAYLOAD_TOO_LARGE", "Payload too large"


class Unprocessable(ProblemError):
    status, code, title = 422, "UNPROCESSABLE", "Unprocessable content"


class TooManyRequests(ProblemError):
    status, code, title = 429, "RATE_LIMITED", "Too many requests"


class ServiceUnavailable(ProblemError):
    status, code, title = 503, "SERVICE_UNAVAILABLE", "Service unavailable"


class GatewayTimeout(ProblemError):
    status, code, title = 504, "UPSTREAM_TIMEOUT", "Upstream timeout"


class BodyRefused(StarletteHTTPException):
    """A body refused while it is read. An HTTPException (with the stable code beside it) because FastAPI
    turns any other exception raised while it reads a body into 400 "There was an error parsing the body"."""

    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(status_code=status, detail=detail)
        self.problem_code = code


def problem_response(
    *,
    status: int,
    code: str,
    title: str,
    detail: str,
    instance: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    """Build an application/problem+json response."""
    body: dict[str, Any] = {
        "type": f"urn:ybj:problem:{code.lower().replace('_', '-')}",
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
    }
    if instance:
        body["instance"] = instance
    body.update({key: value for key, value in (extra or {}).items() if key not in RESERVED_MEMBERS})
    return JSONResponse(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


_STATUS_CODES = {
    400: ("BAD_REQUEST", "Bad request"),
    401: ("UNAUTHORIZED", "Unauthorized"),
    403: ("FORBIDDEN", "Forbidden"),
    404: ("NOT_FOUND", "Not found"),
    405: ("METHOD_NOT_ALLOWED", "Method not allowed"),
    406: ("NOT_ACCEPTABLE", "Not acceptable"),
    413: ("PAYLOAD_TOO_LARGE", "Payload too large"),
    415: ("UNSUPPORTED_MEDIA_TYPE", "Unsupported media type"),
}


def _validation_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    # The offending input is left out on purpose: it may carry a certno or a name, and the caller has it.
    return [
        {"loc": list(err.get("loc", ())), "msg": err.get("msg", ""), "type": err.get("type", "")}
        for err in exc.errors()
    ]


async def _on_problem(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ProblemError)
    return problem_response(
        status=exc.status,
        code=exc.code,
        title=exc.title,
        detail=exc.detail,
        instance=request.url.path,
        headers=exc.headers,
        **exc.extra,
    )


async def _on_validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = _validation_errors(exc)
    if any(err["type"] == "json_invalid" for err in errors):
        code, detail = "MALFORMED_JSON", "The request body is not valid JSON."
    else:
        first = errors[0] if errors else {"loc": [], "msg": "invalid request"}
        where = ".".join(str(part) for part in first["loc"])
        code, detail = "VALIDATION_ERROR", f"{where}: {first['msg']}" if where else str(first["msg"])
    return problem_response(
        status=422,
        code=code,
        title="Unprocessable content",
        detail=detail,
        instance=request.url.path,
        errors=errors,
    )


async def _on_http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code, title = _STATUS_CODES.get(exc.status_code, (f"HTTP_{exc.status_code}", "Error"))
    code = getattr(exc, "problem_code", None) or code
    detail = exc.detail if isinstance(exc.detail, str) else title
    return problem_response(
        status=exc.status_code,
        code=code,
        title=title,
        detail=detail,
        instance=request.url.path,
        headers=dict(exc.headers or {}),
    )


async def _on_database_down(request: Request, exc: Exception) -> JSONResponse:
    log.error("database unavailable: %s", type(exc).__name__)
    return problem_response(
        status=503,
        code="DATABASE_UNAVAILABLE",
        title="Service unavailable",
        detail="The service's database is unavailable; retry shortly.",
        instance=request.url.path,
        headers={"Retry-After": "1"},
    )


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return problem_response(
        status=500,
        code="INTERNAL_ERROR",
        title="Internal server error",
        detail="An unexpected error occurred; it has been logged.",
        instance=request.url.path,
    )


def is_database_unavailable(exc: BaseException) -> bool:
    """Whether an exception means the database could not be reached (as opposed to a bad statement)."""
    if isinstance(exc, OperationalError | InterfaceError | PoolTimeoutError | OSError):
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


async def _on_dbapi(request: Request, exc: Exception) -> JSONResponse:
    if is_database_unavailable(exc):
        return await _on_database_down(request, exc)
    return await _on_unexpected(request, exc)


def install_error_handlers(app: FastAPI) -> None:
    """Turn every failure into problem+json: domain errors, bad input, unknown routes, database outages."""
    app.add_exception_handler(ProblemError, _on_problem)
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(StarletteHTTPException, _on_http)
    app.add_exception_handler(OperationalError, _on_database_down)
    app.add_exception_handler(InterfaceError, _on_database_down)
    app.add_exception_handler(PoolTimeoutError, _on_database_down)
    app.add_exception_handler(DBAPIError, _on_dbapi)
    app.add_exception_handler(OSError, _on_database_down)
    app.add_exception_handler(Exception, _on_unexpected)
