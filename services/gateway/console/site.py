"""The console's frame: sign in and out, the session and CSRF checks every page goes through, the templates,
the security headers and the static files (plotly.js from the installed `plotly` package)."""

from __future__ import annotations

import functools
import importlib.util
import logging
import secrets
from collections.abc import Awaitable, Callable
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from common.errors import NotFound
from common.principal import Principal, Role
from gateway.console.sessions import COOKIE_PATH, LOGIN_COOKIE, SESSION_COOKIE, Session, Sessions
from gateway.service.keys import KeyStore

log = logging.getLogger("gateway.console")
HERE = Path(__file__).parent
router = APIRouter(prefix="/console", include_in_schema=False)

# Scripts only from the gateway itself; plotly sets styles inline on the SVG it draws.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; font-src 'self'; frame-ancestors 'none'; "
    "form-action 'self'; base-uri 'none'",
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
NAV = (
    ("fund", "/console/fund", "基金运行", "Fund"),
    ("daily", "/console/daily", "日结算", "Day close"),
    ("prices", "/console/prices", "价格监测", "Prices"),
    ("fraud", "/console/fraud", "智能监控", "Supervision"),
    ("points", "/console/points", "按点数付费", "DRG/DIP"),
    ("institutions", "/console/institutions", "机构", "Institutions"),
    ("persons", "/console/persons", "参保人", "Persons"),
)


def _yuan(value: Any) -> str:
    """12345.6 → 12,345.60; anything not a number as it is ('—' for none)."""
    if value is None or value == "":
        return "—"
    try:
        return f"{Decimal(str(value)):,.2f}"
    except InvalidOperation:
        return str(value)


def _count(value: Any) -> str:
    return "—" if value is None else f"{int(value):,}"


def _percent(value: Any) -> str:
    if value is None:
        return "—"
    return f"{Decimal(str(value)) * 100:,.2f}%"


_env = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
_env.filters.update(yuan=_yuan, count=_count, percent=_percent)

STATIC = {
    "console.css": (HERE / "static" / "console.css", "text/css"),
    "console.js": (HERE / "static" / "console.js", "text/javascript"),
}


@functools.cache
def _plotly_js() -> Path:
    """plotly.js as the `plotly` package ships it (no CDN: the gateway serves it); found, not imported."""
    spec = importlib.util.find_spec("plotly")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the plotly package is not installed (pip install plotly): the console needs it")
    return Path(spec.submodule_search_locations[0]) / "package_data" / "plotly.min.js"


def _sessions(request: Request) -> Sessions:
    sessions: Sessions = request.app.state.console_sessions
    return sessions


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def _render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    html = _env.get_template(template).render(nav=NAV, request_path=request.url.path, **context)
    return HTMLResponse(html, status_code=status_code, headers=SECURITY_HEADERS)


async def _signed_in(request: Request) -> tuple[Session, Principal] | None:
    """The session of the request and the ops principal it acts as; None without a valid one."""
    session = _sessions(request).read(request.cookies.get(SESSION_COOKIE))
    if session is None:
        return None
    store: KeyStore = request.app.state.keys
    principal = await store.client(session.client_id)
    if principal is None:  # the key was revoked since
        return None
    return session, principal


def _to_sign_in() -> RedirectResponse:
    return RedirectResponse("/console/login", status_code=303, headers={"Cache-Control": "no-store"})


def _forbidden(request: Request, reason: str) -> HTMLResponse:
    return _render(request, "forbidden.html", status_code=403, reason=reason)


async def _form(request: Request) -> dict[str, str]:
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/x-www-form-urlencoded":
        return {}
    fields = parse_qs((await request.body()).decode("utf-8", errors="replace"), keep_blank_values=True)
    return {name: values[0] for name, values in fields.items() if values}


Page = Callable[[Request, Principal], Awaitable[dict[str, Any]]]


async def page(request: Request, template: str, build: Page) -> Response:
    """A page for the ops client signed in: the sign-in page without a session, 403 for anyone else."""
    signed_in = await _signed_in(request)
    if signed_in is None:
        return _to_sign_in()
    session, principal = signed_in
    if principal.role is not Role.OPS:
        return _forbidden(
            request, "本工作台仅供医保经办人员（ops）使用。The console is for bureau staff (ops) only."
        )
    try:
        context = await build(request, principal)
    except NotFound as missing:
        return _render(
            request,
            "not_found.html",
            status_code=404,
            page=None,
            message=str(missing.detail),
            csrf_token=_sessions(request).csrf_token(session),
        )
    return _render(request, template, csrf_token=_sessions(request).csrf_token(session), **context)


# --- sign in and out ------------------------------------------------------------------------------------


@router.get("")
async def home(request: Request) -> Response:
    if await _signed_in(request) is None:
        return _to_sign_in()
    return RedirectResponse("/console/fund", status_code=303)


@router.get("/login")
async def sign_in_page(request: Request) -> Response:
    if await _signed_in(request) is not None:
        return RedirectResponse("/console/fund", status_code=303)
    return _sign_in_form(request)


def _sign_in_form(request: Request, *, error: str | None = None, status_code: int = 200) -> Response:
    nonce = secrets.token_urlsafe(24)
    response = _render(
        request,
        "login.html",
        status_code=status_code,
        csrf_token=_sessions(request).login_csrf_token(nonce),
        error=error,
    )
    response.set_cookie(
        LOGIN_COOKIE,
        nonce,
        max_age=900,
        path=COOKIE_PATH,
        secure=_secure(request),
        httponly=True,
        samesite="strict",
    )
    return response


@router.post("/login")
async def sign_in(request: Request) -> Response:
    """Sign in with an API key (never in the URL, never logged): an ops key gets a session cookie."""
    sessions = _sessions(request)
    form = await _form(request)
    nonce = request.cookies.get(LOGIN_COOKIE)
    if not nonce or not sessions.csrf_ok(form.get("csrf_token"), sessions.login_csrf_token(nonce)):
        log.warning("console: sign-in refused, CSRF token missing or wrong")
        return _forbidden(
            request, "表单已失效或来源不明（CSRF），请重新打开登录页。The form is stale or forged (CSRF)."
        )
    store: KeyStore = request.app.state.keys
    principal = await store.authenticate(form.get("api_key", "").strip())
    if principal is None:
        log.warning("console: sign-in refused, key not valid")
        return _sign_in_form(
            request, error="密钥无效或已吊销。The API key is not valid or was revoked.", status_code=401
        )
    if principal.role is not Role.OPS:
        log.warning("console: sign-in refused for client %s (role %s)", principal.client_id, principal.role)
        return _forbidden(
            request, "本工作台仅供医保经办人员（ops）使用。The console is for bureau staff (ops) only."
        )
    log.info("console: client %s signed in", principal.client_id)
    response = RedirectResponse("/console/fund", status_code=303, headers={"Cache-Control": "no-store"})
    response.set_cookie(
        SESSION_COOKIE,
        sessions.issue(principal.client_id),
        max_age=sessions.lifetime_s,
        path=COOKIE_PATH,
        secure=_secure(request),
        httponly=True,
        samesite="strict",
    )
    response.delete_cookie(
        LOGIN_COOKIE, path=COOKIE_PATH, secure=_secure(request), httponly=True, samesite="strict"
    )
    return response


@router.post("/logout")
async def sign_out(request: Request) -> Response:
    sessions = _sessions(request)
    session = sessions.read(request.cookies.get(SESSION_COOKIE))
    if session is None:
        return _to_sign_in()
    form = await _form(request)
    if not sessions.csrf_ok(form.get("csrf_token"), sessions.csrf_token(session)):
        log.warning("console: sign-out refused, CSRF token missing or wrong")
        return _forbidden(request, "表单已失效或来源不明（CSRF）。The form is stale or forged (CSRF).")
    sessions.end(session)
    log.info("console: client %s signed out", session.client_id)
    response = _to_sign_in()
    response.delete_cookie(
        SESSION_COOKIE, path=COOKIE_PATH, secure=_secure(request), httponly=True, samesite="strict"
    )
    return response


@router.get("/static/{name}")
async def static(name: str) -> Response:
    headers = {"Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff"}
    if name == "plotly.min.js":
        return FileResponse(_plotly_js(), media_type="text/javascript", headers=headers)
    if name not in STATIC:
        return Response(status_code=404)
    path, media_type = STATIC[name]
    return FileResponse(path, media_type=media_type, headers=headers)
