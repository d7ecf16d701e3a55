"""Loading a city through the gateway's public API: reference data in bulk, persons in bulk, the rest concurrently."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from bench.city.client import GatewayError, expect, run_all, send, wait_consumed
from bench.city.model import City, FamilySpec, PersonSpec, PointsReference
from common.money import yuan_to_fen
from common.progress import ProgressBar

BULK_ROWS = 5000  # persons:bulk takes 10,000; 5,000 keeps a body well under the gateway's 4 MB
BULK_ITEMS = 250  # coverages and contributions per bulk call: each item runs the rules of one call (ms each)


@dataclass
class LoadedCity:
    """A city as the platform knows it: psn_no per person, an API key per institution, what was loaded."""

    gateway_url: str
    ops_key: str
    psn_no: dict[str, str]
    keys: dict[str, str]
    public_key: str
    counts: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    # Running totals of what was played (the player waits for the consumers to catch up with them).
    settled: int = 0
    deaths: int = 0
    pricing_lines: dict[str, int] = field(default_factory=dict)
    sale_events: int = 0  # POS uploads with fresh lines: one pricing.sale.recorded each


def _chunks(rows: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def gateway_client(gateway_url: str, concurrency: int) -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=concurrency + 4, max_keepalive_connections=concurrency + 4)
    return httpx.AsyncClient(base_url=gateway_url, timeout=120, limits=limits)


async def load_city(
    city: City,
    gateway_url: str,
    ops_key: str,
    *,
    progress: bool = True,
    concurrency: int = 16,
    projection_timeout_s: float = 600.0,
) -> LoadedCity:
    """Load the city's reference data, persons and API keys, then wait until settlement has projected them all."""
    seconds: dict[str, float] = {}
    counts: dict[str, int] = {}
    async with gateway_client(gateway_url, concurrency) as client:
        started = time.perf_counter()
        for path, key, rows in (
            ("/settlement/institutions/bulk", "institutions", city.institutions),
            ("/settlement/catalog/bulk", "items", city.catalog),
            ("/pricing/drugs/bulk", "drugs", city.drugs),
        ):
            for chunk in _chunks(rows, BULK_ROWS):
                expect(await send(client, "POST", path, ops_key, json={key: list(chunk)}), 200, 201)
        counts |= {
            "institutions": len(city.institutions),
            "catalog": len(city.catalog),
            "drugs": len(city.drugs),
        }
        seconds["reference"] = time.perf_counter() - started
        if city.points is not None:
            started = time.perf_counter()
            counts |= await load_points(client, ops_key, city.points)
            seconds["points"] = time.perf_counter() - started

        started = time.perf_counter()
        psn_no = await _register(client, ops_key, city.persons, progress=progress)
        counts["persons"] = len(psn_no)
        seconds["persons"] = time.perf_counter() - started

        started = time.perf_counter()
        coverages = [{"psn_no": psn_no[person.key], **person.coverage} for person in city.persons]
        contributions = [
            {"psn_no": psn_no[person.key], **contribution}
            for person in city.persons
            for contribution in person.contributions
        ]
        for label, path, key, records in (
            ("coverages", "/enrollment/coverages:bulk", "coverages", coverages),
            ("contributions", "/enrollment/contributions:bulk", "contributions", contributions),
        ):
            bar = ProgressBar(len(records), label=label) if progress else None

            async def post_chunk(
                chunk: Sequence[dict[str, Any]],
                path: str = path,
                key: str = key,
                bar: ProgressBar | None = bar,
            ) -> None:
                answer = expect(await send(client, "POST", path, ops_key, json={key: list(chunk)}), 200)
                # A second load of the same city finds its coverages and contributions there already.
                refused = [r for r in answer["rejected"] if r["code"] != "DUPLICATE_COVERAGE"]
                if refused:
                    raise GatewayError(f"{path} refused {len(refused)} items, the first: {refused[0]}")
                if bar:
                    bar.advance(len(chunk))

            await run_all(list(_chunks(records, BULK_ITEMS)), post_chunk, concurrency=2, bar=None)
            if bar:
                bar.close()
        counts["coverages"] = len(coverages)
        counts["contributions"] = len(contributions)

        async def bind(family: FamilySpec) -> None:
            body = {
                "holder_psn_no": psn_no[family.holder],
                "member_psn_nos": [psn_no[m] for m in family.members],
            }
            expect(await send(client, "POST", "/enrollment/families", ops_key, json=body), 201, 200)

        await run_all(city.families, bind, concurrency=concurrency, bar=None)
        counts["families"] = len(city.families)
        seconds["enrollment"] = time.perf_counter() - started

        started = time.perf_counter()
        keys: dict[str, str] = {}
        suffix = secrets.token_hex(
            3
        )  # client names are unique; a second load into the same platform gets new ones

        async def issue(row: dict[str, Any]) -> None:
            code = row["fixmedins_code"]
            role = "his" if row["fixmedins_type"] == "hospital" else "pos"
            body = {"name": f"city-{code}-{suffix}", "role": role, "scope": code}
            keys[code] = expect(await send(client, "POST", "/admin/clients", ops_key, json=body), 201)[
                "api_key"
            ]

        await run_all(city.institutions, issue, concurrency=4, bar=None)
        public = expect(
            await send(
                client,
                "POST",
                "/admin/clients",
                ops_key,
                json={"name": f"city-public-{suffix}", "role": "public"},
            ),
            201,
        )["api_key"]
        counts["api_keys"] = len(keys) + 1
        seconds["api_keys"] = time.perf_counter() - started

        started = time.perf_counter()
        await wait_for_projections(client, ops_key, city, psn_no, timeout_s=projection_timeout_s)
        seconds["projections"] = time.perf_counter() - started
    return LoadedCity(gateway_url, ops_key, psn_no, keys, public, counts, seconds)


async def load_points(client: httpx.AsyncClient, ops_key: str, points: PointsReference) -> dict[str, int]:
    """Payment by points of the city's year, each table in one bulk call (all or nothing): the payment years,
    the groups, the DIP rows, the DRG ADRGs and CC/MCC list, then the quality scores (which need the
    institutions paid by points, loaded before)."""
    year = points.year
    tables = (
        ("payment_years", "/settlement/payment-years/bulk", "payment_years", points.payment_years),
        ("points_groups", f"/settlement/points/{year}/groups/bulk", "groups", points.groups),
        ("dip_rows", f"/settlement/points/{year}/dip-rows/bulk", "rows", points.dip_rows),
        ("drg_adrgs", f"/settlement/points/{year}/drg-adrgs/bulk", "adrgs", points.adrgs),
        ("drg_complications", f"/settlement/points/{year}/drg-complications/bulk", "complications",
         points.complications),
        ("quality_scores", "/settlement/quality-scores/bulk", "scores", points.quality_scores),
    )  # fmt: skip
    counts: dict[str, int] = {}
    for name, path, key, rows in tables:
        if rows:
            expect(await send(client, "POST", path, ops_key, json={key: list(rows)}), 200, 201)
        counts[name] = len(rows)
    return counts


async def _register(
    client: httpx.AsyncClient, ops_key: str, persons: Sequence[PersonSpec], *, progress: bool
) -> dict[str, str]:
    """persons:bulk in chunks; a certno registered already (a second load) keeps its psn_no."""
    bar = ProgressBar(len(persons), label="persons") if progress else None
    psn_no: dict[str, str] = {}
    for chunk in _chunks(persons, BULK_ROWS):
        answer = expect(
            await send(client, "POST", "/enrollment/persons:bulk", ops_key,
                       json={"persons": [person.person for person in chunk]}),
            200, 201,
        )  # fmt: skip
        if answer["rejected"]:
            first = answer["rejected"][0]
            raise GatewayError(
                f"{len(answer['rejected'])} persons rejected, e.g. #{first['index']}: {first['code']}"
            )
        existing = {row["index"]: row["psn_no"] for row in answer["existing"]}
        registered = iter(answer["registered"])
        for index, person in enumerate(chunk):
            psn_no[person.key] = existing[index] if index in existing else next(registered)
        if bar:
            bar.advance(len(chunk))
    if bar:
        bar.close()
    return psn_no


async def wait_for_projections(
    client: httpx.AsyncClient, ops_key: str, city: City, psn_no: dict[str, str], *, timeout_s: float
) -> None:
    """Until settlement has applied every enrollment event of the load and pricing knows every pharmacy.

    First the consumer's own count (events_consumed_total, outcome applied: each event once, however often
    it was delivered); then, through the public API, every family binding and a spread of the employees'
    account credits are read back, each polled until it shows (settlement applies a person's events in order,
    so a credit shows once the person and the coverage before it are there).
    """
    deadline = time.monotonic() + timeout_s
    await wait_consumed(
        client,
        ops_key,
        "settlement",
        {
            "enrollment.person.registered": len(psn_no),
            "enrollment.coverage.changed": len(city.persons),
            "enrollment.contribution.paid": sum(len(person.contributions) for person in city.persons),
            "enrollment.family.bound": len(city.families),
        },
        timeout_s=timeout_s,
        what="enrollment's events",
    )
    checks: list[tuple[str, str, Any]] = []
    for family in city.families:
        checks += [
            (psn_no[member], "family_holder_psn_no", psn_no[family.holder]) for member in family.members
        ]
    employees = [person for person in city.persons if person.acct_fen]
    step = max(1, len(employees) // 500)
    checks += [(psn_no[p.key], "balc", p.acct_fen) for p in employees[::step]]

    async def check(item: tuple[str, str, Any]) -> None:
        person, name, want = item
        while True:
            response = await send(client, "GET", f"/settlement/accounts/{person}", ops_key)
            if response.status_code == 200:
                got = response.json()[name]
                if (yuan_to_fen(got) if name == "balc" else got) == want:
                    return
            elif response.status_code != 404:
                expect(response, 200)
            if time.monotonic() > deadline:
                raise TimeoutError(f"settlement has not projected a person's {name} after {timeout_s:.0f}s")
            await asyncio.sleep(0.2)

    await run_all(checks, check, concurrency=8, bar=None)
    month = city.start.strftime("%Y-%m")

    async def known(code: str) -> None:
        while True:
            answer = expect(
                await send(
                    client, "GET", f"/pricing/pharmacies/{code}/price-index", ops_key, params={"month": month}
                ),
                200,
            )
            if answer.get("fixmedins_name"):
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"pricing does not know pharmacy {code} after {timeout_s:.0f}s")
            await asyncio.sleep(0.2)

    await run_all(city.pharmacies, known, concurrency=4, bar=None)
