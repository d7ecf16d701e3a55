"""The bureau console: ops only, signed in by a form into an HttpOnly SameSite=Strict cookie, CSRF on every
form, and pages whose charts draw the seeded platform's figures in a browser that reaches nothing else."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio

from common.embedded_nats import EmbeddedNats
from common.testing.browser import CHROMIUM, Browser
from common.testing.databases import DatabaseSet, empty_database
from common.testing.plugin import fresh_streams
from gateway.console.sessions import LOGIN_COOKIE, SESSION_COOKIE, Sessions
from tests.gateway.console_seed import CLOSED_DAY, Seeded, console_platform
from tests.security.conftest import HOSPITAL, SERVICES, Platform, bearer

pytestmark = pytest.mark.asyncio(loop_scope="module")

# Every page and the charts it draws (from the seeded platform: none may be empty).
CHART_PAGES = {
    "/console/fund": {"fund-flow", "fund-balance"},
    "/console/daily": {"daily-trend"},
    "/console/prices": {"alerts-by-drug", "alerts-by-pharmacy", "price-index"},
    "/console/fraud": {"findings-by-rule", "cases-by-state"},
    "/console/points": {"points-310"},
    f"/console/institutions/{HOSPITAL}": {"institution-days"},
}


@dataclass
class Console:
    platform: Platform
    seeded: Seeded

    @property
    def url(self) -> str:
        return self.platform.url

    def pages(self) -> dict[str, set[str]]:
        return CHART_PAGES | {f"/console/persons/{self.seeded.psn_no}": {"person-settlements"}}


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def console(
    database_set: DatabaseSet, nats_server: EmbeddedNats, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Console]:
    """One seeded platform for the module: the tests only sign in and out and read."""
    await fresh_streams(nats_server.url)
    urls = {name: database_set.urls[name] for name in (*SERVICES, "gateway")}
    try:
        async with console_platform(urls, nats_server.url, tmp_path_factory.mktemp("console")) as (
            platform,
            seeded,
        ):
            yield Console(platform, seeded)
    finally:
        await asyncio.gather(*(empty_database(url) for url in urls.values()))


def _client(base_url: str, cookies: dict[str, str] | None = None) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=base_url, timeout=30, follow_redirects=False, cookies=cookies)


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "the page has no CSRF token"
    return found.group(1)


async def _sign_in(client: httpx.AsyncClient, key: str) -> httpx.Response:
    page = await client.get("/console/login")
    assert page.status_code == 200, page.text
    return await client.post("/console/login", data={"api_key": key, "csrf_token": _csrf(page.text)})


def _set_cookie(response: httpx.Response, name: str) -> list[str]:
    """The attributes of the Set-Cookie header for `name`, the value left out."""
    for header in response.headers.get_list("set-cookie"):
        first, *attributes = (part.strip() for part in header.split(";"))
        if first.startswith(f"{name}="):
            return sorted(attribute.lower() for attribute in attributes)
    raise AssertionError(f"no Set-Cookie for {name}: {response.headers.get_list('set-cookie')}")


# --- HTTP behaviour -------------------------------------------------------------------------------------


async def test_without_a_session_every_page_leads_to_the_sign_in_page(console: Console) -> None:
    async with _client(console.url) as client:
        for path in ("/console", *console.pages(), "/console/findings/1", "/console/persons"):
            answer = await client.get(path)
            assert (answer.status_code, answer.headers["location"]) == (303, "/console/login"), path
        page = await client.get("/console/login")
    async with _client(console.url, {SESSION_COOKIE: "cli_0000000000000000.9999999999.x.y"}) as forged:
        assert (await forged.get("/console/fund")).status_code == 303
    assert page.status_code == 200
    assert 'action="/console/login"' in page.text and 'type="password"' in page.text
    assert _set_cookie(page, LOGIN_COOKIE) == ["httponly", "max-age=900", "path=/console", "samesite=strict"]
    assert "script-src 'self'" in page.headers["content-security-policy"]


async def test_an_ops_key_signs_in_to_a_cookie_that_is_httponly_samesite_strict_and_secure_only_over_tls(
    console: Console,
) -> None:
    async with _client(console.url) as client:
        signed_in = await _sign_in(client, console.platform.keys["ops"])
        assert (signed_in.status_code, signed_in.headers["location"]) == (303, "/console/fund")
        assert _set_cookie(signed_in, SESSION_COOKIE) == [
            "httponly",
            "max-age=28800",
            "path=/console",
            "samesite=strict",
        ]
        fund = await client.get("/console/fund")
        assert fund.status_code == 200, fund.text
        assert "基金运行" in fund.text
    # The same app reached over TLS (as behind a terminating proxy that says so): the cookies are Secure.
    transport = httpx.ASGITransport(app=console.platform.gateway.app)
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as tls:
        signed_in = await _sign_in(tls, console.platform.keys["ops"])
    assert signed_in.status_code == 303
    assert _set_cookie(signed_in, SESSION_COOKIE) == [
        "httponly",
        "max-age=28800",
        "path=/console",
        "samesite=strict",
        "secure",
    ]


async def test_a_key_that_is_not_ops_is_refused_and_gets_no_session(console: Console) -> None:
    for name in ("his", "pos", "public"):
        async with _client(console.url) as client:
            refused = await _sign_in(client, console.platform.keys[name])
            assert refused.status_code == 403, name
            assert "仅供医保经办人员" in refused.text
            assert f"{SESSION_COOKIE}=" not in refused.headers.get("set-cookie", "")
            assert (await client.get("/console/fund")).status_code == 303
    async with _client(console.url) as client:
        wrong = await _sign_in(client, "ybj_00000000_" + "x" * 32)
        assert wrong.status_code == 401
        assert "密钥无效" in wrong.text
        assert f"{SESSION_COOKIE}=" not in wrong.headers.get("set-cookie", "")


async def test_signing_in_without_the_forms_csrf_token_or_with_a_wrong_one_is_refused(
    console: Console,
) -> None:
    key = console.platform.keys["ops"]
    async with _client(console.url) as client:
        page = await client.get("/console/login")
        token = _csrf(page.text)
        for form in ({"api_key": key}, {"api_key": key, "csrf_token": token[:-2] + "00"}):
            refused = await client.post("/console/login", data=form)
            assert refused.status_code == 403, form.keys()
            assert "CSRF" in refused.text
            assert f"{SESSION_COOKIE}=" not in refused.headers.get("set-cookie", "")
    # A token is good only with the cookie of the page it came with (another browser's is not).
    async with _client(console.url) as other:
        refused = await other.post("/console/login", data={"api_key": key, "csrf_token": token})
        assert refused.status_code == 403
        assert (await other.get("/console/fund")).status_code == 303


async def test_signing_out_needs_the_csrf_token_and_ends_the_session(console: Console) -> None:
    async with _client(console.url) as client:
        await _sign_in(client, console.platform.keys["ops"])
        page = await client.get("/console/fund")
        token, session = _csrf(page.text), client.cookies[SESSION_COOKIE]
        assert 'action="/console/logout"' in page.text
        for form in ({}, {"csrf_token": "0" * 64}):
            refused = await client.post("/console/logout", data=form)
            assert refused.status_code == 403
            assert (await client.get("/console/fund")).status_code == 200  # still signed in
        signed_out = await client.post("/console/logout", data={"csrf_token": token})
        assert (signed_out.status_code, signed_out.headers["location"]) == (303, "/console/login")
        assert "max-age=0" in signed_out.headers["set-cookie"].lower()
    async with _client(console.url, {SESSION_COOKIE: session}) as replay:  # the old cookie, kept: refused
        again = await replay.get("/console/fund")
        assert (again.status_code, again.headers["location"]) == (303, "/console/login")


async def test_revoking_the_key_ends_its_console_sessions(console: Console) -> None:
    ops = bearer(console.platform.keys["ops"])
    async with _client(console.url) as client:
        issued = (
            await client.post("/admin/clients", headers=ops, json={"name": "console-staff", "role": "ops"})
        ).json()
        await _sign_in(client, issued["api_key"])
        assert (await client.get("/console/fraud")).status_code == 200
        revoked = await client.post(f"/admin/clients/{issued['client_id']}/revoke", headers=ops)
        assert revoked.status_code == 200, revoked.text
        assert (await client.get("/console/fraud")).status_code == 303


async def test_a_session_token_expires_and_cannot_be_forged() -> None:
    sessions = Sessions("s" * 40, lifetime_s=3600)
    token = sessions.issue("cli_0123456789abcdef", now=1_000_000)
    session = sessions.read(token, now=1_000_000 + 3599)
    assert session is not None and session.client_id == "cli_0123456789abcdef"
    assert sessions.read(token, now=1_000_000 + 3600) is None
    client_id, expires, nonce, mac = token.split(".")
    assert sessions.read(f"cli_ffffffffffffffff.{expires}.{nonce}.{mac}", now=1_000_000) is None
    assert sessions.read(f"{client_id}.{int(expires) + 86400}.{nonce}.{mac}", now=1_000_000) is None
    assert Sessions("t" * 40, lifetime_s=3600).read(token, now=1_000_000) is None
    sessions.end(session)
    assert sessions.read(token, now=1_000_000) is None


async def test_every_page_answers_for_ops_with_its_figures_and_strict_headers(console: Console) -> None:
    async with _client(console.url) as client:
        await _sign_in(client, console.platform.keys["ops"])
        for path in (*console.pages(), "/console/institutions", "/console/persons"):
            page = await client.get(path)
            assert page.status_code == 200, (path, page.text[:500])
            assert page.headers["cache-control"] == "no-store"
            assert page.headers["x-frame-options"] == "DENY"
            assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
            assert "http://" not in page.text and "https://" not in page.text, path  # nothing from elsewhere
        finding = await client.get(f"/console/findings/{console.seeded.finding_id}")
        assert finding.status_code == 200 and f"#{console.seeded.finding_id}" in finding.text
        assert (await client.get("/console/findings/999999")).status_code == 404
        assert (await client.get("/console/institutions/NOWHERE")).status_code == 404
        daily = await client.get("/console/daily")
        assert f'日结算 <span class="en">Day close</span> · {CLOSED_DAY}' in daily.text
        assert "已日结 closed" in daily.text
        fund = (await client.get("/console/fund")).text
        assert "累计结余可支付月数" in fund and "当期结余" in fund  # the definitions are on the page
        plotly = await client.get("/console/static/plotly.min.js")
        assert plotly.status_code == 200 and plotly.headers["content-type"].startswith("text/javascript")
        assert b"plotly.js" in plotly.content[:200]
        assert (await client.get("/console/static/../app.py")).status_code == 404


async def test_the_key_never_appears_in_a_response_or_a_log_line(
    console: Console, caplog: pytest.LogCaptureFixture
) -> None:
    key = console.platform.keys["ops"]
    caplog.set_level(logging.DEBUG)
    seen: list[str] = []
    async with _client(console.url) as client, _client(console.url) as his:
        for answer in (
            await client.get("/console/login"),
            await _sign_in(client, key),
            await _sign_in(his, console.platform.keys["his"]),
            *[await client.get(path) for path in console.pages()],
        ):
            seen.append(answer.text)
            seen.extend(f"{name}: {value}" for name, value in answer.headers.multi_items())
        page = await client.get("/console/fund")
        seen.append((await client.post("/console/logout", data={"csrf_token": _csrf(page.text)})).text)
    lines = [record.getMessage() for record in caplog.records]
    assert any("signed in" in line for line in lines)
    for text in (*seen, *lines):
        assert key not in text
        assert key.split("_")[2] not in text  # nor its secret part alone


# --- in a browser ---------------------------------------------------------------------------------------


def _chromium_or_skip() -> None:
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is not installed (.ci/run installs Debian's chromium; apt-get install chromium)"
        print(f"skipped: {reason}")
        pytest.skip(reason)


CHARTS_JS = """
(() => [...document.querySelectorAll('.chart')].map(el => ({
  id: el.id.replace(/^chart-/, ''),
  rendered: el.getAttribute('data-rendered') === '1',
  svg: el.querySelectorAll('svg.main-svg').length,
  marks: el.querySelectorAll('.point, .bars path, .scatterlayer .trace path').length,
  series: (el.data || []).map(t => ({name: t.name, n: (t.orientation === 'h' ? t.x : t.y).length,
    nonzero: (t.orientation === 'h' ? t.x : t.y).filter(v => v !== null && Number(v) !== 0).length})),
})))()
"""


def _browse(console: Console, profile: Path) -> dict[str, Any]:
    """Sign in through the form, open every page, sign out through the form: what the browser saw."""
    seen: dict[str, Any] = {"charts": {}}
    with Browser(profile) as browser:
        browser.goto(f"{console.url}/console/fund")
        seen["first"] = browser.evaluate("location.pathname")
        browser.submit("form[action='/console/login']", {"api_key": console.platform.keys["ops"]})
        seen["after_sign_in"] = browser.evaluate("location.pathname")
        seen["document_cookie"] = browser.evaluate("document.cookie")
        seen["cookies"] = browser.cookies()
        for path in console.pages():
            browser.goto(f"{console.url}{path}")
            browser.wait_for(
                "[...document.querySelectorAll('.chart')].every(el => el.getAttribute('data-rendered') === '1')"
            )
            seen["charts"][path] = browser.evaluate(CHARTS_JS)
        browser.submit("form[action='/console/logout']", {})
        seen["after_sign_out"] = browser.evaluate("location.pathname")
        browser.goto(f"{console.url}/console/points")
        seen["after_sign_out_points"] = browser.evaluate("location.pathname")
        seen["requests"] = list(browser.requests)
        seen["errors"] = list(browser.errors)
    return seen


async def test_each_page_draws_its_charts_with_data_in_a_browser_and_no_request_leaves_the_machine(
    console: Console, tmp_path: Path
) -> None:
    _chromium_or_skip()
    seen = await asyncio.to_thread(_browse, console, tmp_path)
    assert (seen["first"], seen["after_sign_in"]) == ("/console/login", "/console/fund")
    assert seen["document_cookie"] == ""  # HttpOnly: no script reads the session
    session = next(cookie for cookie in seen["cookies"] if cookie["name"] == SESSION_COOKIE)
    assert (session["httpOnly"], session["sameSite"], session["secure"], session["path"]) == (
        True,
        "Strict",
        False,
        "/console",
    )
    for path, expected in console.pages().items():
        charts = {chart["id"]: chart for chart in seen["charts"][path]}
        assert set(charts) == expected, path
        for chart_id, chart in charts.items():
            assert chart["rendered"] and chart["svg"] >= 1, (path, chart_id)
            assert chart["series"], (path, chart_id)
            assert all(series["n"] > 0 for series in chart["series"]), (path, chart_id, chart["series"])
            assert any(series["nonzero"] > 0 for series in chart["series"]), (path, chart_id, chart["series"])
            assert chart["marks"] > 0, (path, chart_id)
    assert (seen["after_sign_out"], seen["after_sign_out_points"]) == ("/console/login", "/console/login")
    assert seen["requests"], "no request was recorded"
    # data: URLs (the date inputs' icons) are no request on the network.
    network = [url for url in seen["requests"] if not url.startswith("data:")]
    assert [url for url in network if not url.startswith(f"{console.url}/")] == []
    assert f"{console.url}/console/static/plotly.min.js" in seen["requests"]
    assert seen["errors"] == []
    assert all(console.platform.keys["ops"] not in url for url in seen["requests"])
