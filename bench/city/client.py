"""Talking to the gateway: retries on 429/503, bounded concurrency, and the consumers' progress from /metrics."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar

import httpx
from prometheus_client.parser import text_string_to_metric_families

from common.progress import ProgressBar

T = TypeVar("T")
RETRY_STATUSES = (429, 503)


class GatewayError(RuntimeError):
    """An answer the loader or player did not expect."""


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def send(
    client: httpx.AsyncClient,
    method: str,
    path: str,
    key: str,
    *,
    json: Any = None,
    params: dict[str, str] | None = None,
    attempts: int = 30,
) -> httpx.Response:
    """One request; a 429 waits its Retry-After and a 503 (a service starting or busy) a moment, then retries."""
    for attempt in range(attempts):
        try:
            response = await client.request(method, path, json=json, params=params, headers=bearer(key))
        except httpx.TransportError:
            if attempt == attempts - 1:
                raise
            await asyncio.sleep(0.5)
            continue
        if response.status_code not in RETRY_STATUSES or attempt == attempts - 1:
            return response
        wait = float(response.headers.get("Retry-After", "0.5") or 0.5)
        await asyncio.sleep(min(max(wait, 0.05), 5.0))
    raise AssertionError("unreachable")


def expect(response: httpx.Response, *statuses: int) -> Any:
    if response.status_code not in statuses:
        raise GatewayError(
            f"{response.request.method} {response.request.url.path} answered {response.status_code}: "
            f"{response.text[:400]}"
        )
    return response.json() if response.content else None


async def run_all(
    items: Iterable[T], work: Callable[[T], Awaitable[None]], *, concurrency: int, bar: ProgressBar | None
) -> None:
    """`work` on every item, at most `concurrency` at a time; the first failure cancels the rest."""
    queue = iter(items)

    async def worker() -> None:
        for item in queue:
            await work(item)
            if bar is not None:
                bar.advance()

    async with asyncio.TaskGroup() as group:
        for _ in range(concurrency):
            group.create_task(worker())


async def consumed(client: httpx.AsyncClient, ops_key: str, service: str) -> dict[str, float]:
    """Events a service's consumers handled since it started, by event type: applied, or ignored by a
    consumer's filter (redeliveries of applied events count as `duplicate`, failures as `failed`)."""
    response = await send(client, "GET", f"/{service}/metrics", ops_key)
    text = response.text  # Prometheus text, not JSON
    if response.status_code != 200:
        raise GatewayError(f"/{service}/metrics answered {response.status_code}: {text[:200]}")
    counts: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        if family.name != "events_consumed":
            continue
        for sample in family.samples:
            # Applied, or acked unread by a consumer whose filter does not want it (pricing: only pharmacy
            # settlements; enrollment: only residents'): either way handled.
            if sample.name.endswith("_total") and sample.labels.get("outcome") in ("applied", "ignored"):
                kind = sample.labels.get("type", "")
                counts[kind] = counts.get(kind, 0.0) + sample.value
    return counts


async def wait_consumed(
    client: httpx.AsyncClient,
    ops_key: str,
    service: str,
    expected: dict[str, int],
    *,
    timeout_s: float,
    what: str,
) -> None:
    """Until `service` has handled at least `expected[type]` events of each type, or `timeout_s` passes."""
    deadline = time.monotonic() + timeout_s
    while True:
        counts = await consumed(client, ops_key, service)
        behind = {kind: n for kind, n in expected.items() if counts.get(kind, 0.0) < n}
        if not behind:
            return
        if time.monotonic() > deadline:
            seen = {kind: int(counts.get(kind, 0.0)) for kind in behind}
            raise TimeoutError(
                f"{service} has not caught up with {what} after {timeout_s:.0f}s: {seen} of {behind}"
            )
        await asyncio.sleep(0.2)
