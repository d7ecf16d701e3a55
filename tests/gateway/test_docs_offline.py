"""The API docs render in a real browser on a network that reaches nothing but the gateway."""

from __future__ import annotations

import asyncio
import html
import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from common.testing.apps import LiveServer
from tests.gateway.conftest import Platform

CHROMIUM = Path("/usr/bin/chromium")
# The site (scheme and host) of every page served on this machine: their requests are keyed by it.
PAGE_SITE = "http://127.0.0.1"
NATIONAL_SUMMARY = "国家接口 national interface: one envelope, any supported infno"


def _chromium_or_skip() -> Path:
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is not installed (.ci/run installs Debian's chromium; apt-get install chromium)"
        print(f"skipped: {reason}")
        pytest.skip(reason)
    return CHROMIUM


async def _render(url: str, profile: Path) -> tuple[str, list[str]]:
    """The DOM of `url` once its scripts have run, and every URL the page asked the network for.

    Names resolve to nothing and every request but loopback goes to a proxy that refuses: the machine is as
    cut off as the bureau's closed network. The net log records each request the page tried even so.
    """
    net_log = profile / "net-log.json"
    process = await asyncio.create_subprocess_exec(
        str(_chromium_or_skip()),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        # Autofill asks a Google server about every form it sees, under the page's own network partition.
        "--disable-features=AutofillServerCommunication",
        f"--user-data-dir={profile / 'profile'}",
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
        "--proxy-server=http://127.0.0.1:9",
        f"--log-net-log={net_log}",
        # Virtual time stands still while a request is pending, so the budget is spent on the page's own work.
        "--virtual-time-budget=20000",
        "--dump-dom",
        url,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=120)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    assert process.returncode == 0, stderr.decode(errors="replace")[-2000:]
    return stdout.decode(), _page_requests(net_log)


def _page_requests(net_log: Path) -> list[str]:
    """The URLs the page asked for: those in its network partition (the browser's own calls home are not).

    Chromium may stop before closing the log's JSON array; each event is on a line of its own.
    """
    urls = []
    for line in net_log.read_text().splitlines():
        try:
            event: dict[str, Any] = json.loads(line.strip().rstrip(","))
        except ValueError:
            continue
        params = event.get("params") if isinstance(event, dict) else None
        if not isinstance(params, dict) or not isinstance(params.get("url"), str):
            continue
        if str(params.get("network_isolation_key", "")).startswith(f"{PAGE_SITE} "):
            urls.append(params["url"])
    return urls


def _text(dom: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", " ", dom))


async def _operations_of(base_url: str) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(base_url=base_url) as client:
        document = (await client.get("/openapi.json")).json()
    return [
        operation
        for item in document["paths"].values()
        for method, operation in item.items()
        if method in ("get", "put", "post", "delete", "patch")
    ]


async def test_swagger_ui_renders_every_operation_with_no_request_leaving_the_machine(
    platform: Platform,
    tmp_path: Path,
) -> None:
    _chromium_or_skip()
    async with LiveServer(platform.gateway) as gateway:
        operations = await _operations_of(gateway.url)
        dom, requested = await _render(f"{gateway.url}/docs", tmp_path)
    assert requested, "the net log recorded no request at all"
    assert [url for url in requested if not url.startswith(f"{gateway.url}/")] == []
    assert f"{gateway.url}/docs/assets/swagger/swagger-ui-bundle.js" in requested
    assert f"{gateway.url}/openapi.json" in requested
    blocks = re.findall(r'class="opblock opblock-(get|put|post|delete|patch)', dom)
    # An operation appears once under each of its tags (pricing's drug search is also a public one).
    assert len(blocks) == sum(len(op["tags"]) for op in operations)
    assert NATIONAL_SUMMARY in _text(dom)
    first_tag = re.search(r'<h3 class="opblock-tag[^"]*"[^>]*data-tag="([^"]+)"', dom)
    assert first_tag is not None and first_tag.group(1) == "national interface 国家接口"


async def test_redoc_renders_every_operation_with_no_request_leaving_the_machine(
    platform: Platform,
    tmp_path: Path,
) -> None:
    _chromium_or_skip()
    async with LiveServer(platform.gateway) as gateway:
        operations = await _operations_of(gateway.url)
        dom, requested = await _render(f"{gateway.url}/redoc", tmp_path)
    assert [url for url in requested if not url.startswith(f"{gateway.url}/")] == []
    assert f"{gateway.url}/docs/assets/redoc/redoc.standalone.js" in requested
    sections = set(re.findall(r'data-section-id="(operation/[^"]+)"', dom))
    assert len(sections) >= len(operations)
    assert NATIONAL_SUMMARY in _text(dom)
