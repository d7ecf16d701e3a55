"""The city `bench/bench.py` settles against, loaded through the gateway's public APIs with real keys.

`CityWork` is what the load generators need of it: institutions with their own API keys, insured persons,
catalogue items and drugs with their prices. `load` uses the synthetic city of `bench/city` when it is
there; `load_minimal` is a plain one (persons, coverages, institutions, catalogue, drugs) loaded with the
same APIs, for when it is not.
"""

from __future__ import annotations

import asyncio
import random
import sys
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from common.clock import SHANGHAI
from common.db import Database
from common.money import yuan_half_up_to_fen
from common.progress import ProgressBar
from enrollment.domain.certno import check_char

EMPLOYER = "91420100MA4K123456"
COVERAGE_CHUNK = 500  # items per POST /enrollment/coverages:bulk
REPOSITORY = str(Path(__file__).resolve().parents[1])


@dataclass
class CityWork:
    """What the load generators draw from (lists of JSON-ready rows)."""

    source: str  # "bench.city" | "minimal"
    persons: int
    institutions: list[list[str]]  # [fixmedins_code, api_key, "hospital" | "pharmacy"]
    claimants: list[list[str]]  # [psn_no, insutype] of persons whose benefits have started
    hospital_items: list[list[Any]]  # [med_list_codg, price_fen] in settlement's catalogue
    pharmacy_items: list[list[Any]]  # [med_list_codg, price_fen]: drugs, in the catalogue and pricing's list
    load_seconds: float = 0.0
    details: dict[str, Any] = field(default_factory=dict)

    def keys(self, kind: str) -> list[list[str]]:
        return [[code, key] for code, key, type_ in self.institutions if type_ == kind]


async def _post(client: httpx.AsyncClient, path: str, body: Any, *, ok: tuple[int, ...] = (200, 201)) -> Any:
    """POST, retrying a 503 (SQLite's single writer busy) a few times as a client would."""
    for attempt in range(5):
        response = await client.post(path, json=body)
        if response.status_code != 503:
            break
        await asyncio.sleep(0.2 * 2**attempt)
    if response.status_code not in ok:
        raise RuntimeError(f"{path} answered {response.status_code}: {response.text[:300]}")
    return response.json()


async def _issue_keys(client: httpx.AsyncClient, institutions: list[tuple[str, str]]) -> list[list[str]]:
    """One API client per institution (his for hospitals, pos for pharmacies), as a bureau issues them."""
    bar = ProgressBar(len(institutions), label="api keys")
    out = []
    for code, kind in institutions:
        issued = await _post(
            client,
            "/admin/clients",
            {"name": f"bench {code}", "role": "his" if kind == "hospital" else "pos", "scope": code},
        )
        out.append([code, issued["api_key"], kind])
        bar.advance()
    bar.close()
    return out


async def _wait_projection(settlement_url: str, persons: int, timeout_s: float) -> None:
    """Settlement learns persons and coverages from enrollment's events; wait until it knows them all."""
    db = Database.from_url(settlement_url)
    bar = ProgressBar(persons, label="settlement projection")
    deadline = time.monotonic() + timeout_s
    try:
        while True:
            async with db.transaction(readonly=True) as session:
                known = await session.scalar(sa.text("SELECT count(*) FROM coverage_projection")) or 0
            bar.advance(known - bar.done)
            if known >= persons:
                break
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"settlement knows {known:,} of {persons:,} coverages after {timeout_s:.0f}s"
                )
            await asyncio.sleep(0.5)
    finally:
        bar.close()
        await db.dispose()


async def load_minimal(
    gateway_url: str,
    ops_key: str,
    settlement_db_url: str,
    *,
    persons: int,
    covered: int | None = None,
    seed: int = 20261123,
) -> CityWork:
    """Persons and one coverage each for the first `covered` (all by default), through the bulk APIs;
    300 hospitals and 200 pharmacies, 3,000 items, 1,000 drugs."""
    rng = random.Random(seed)  # noqa: S311 - synthetic data
    started = time.perf_counter()
    hospitals = max(2, min(300, persons // 300))
    pharmacies = max(2, min(200, persons // 500))
    items, drugs = 3000, 1000
    headers = {"Authorization": f"Bearer {ops_key}"}
    limits = httpx.Limits(max_connections=32, max_keepalive_connections=32)
    async with httpx.AsyncClient(base_url=gateway_url, headers=headers, timeout=120, limits=limits) as client:
        codes = [(f"H{n:06d}", "hospital") for n in range(hospitals)] + [
            (f"Y{n:06d}", "pharmacy") for n in range(pharmacies)
        ]
        await _post(
            client,
            "/settlement/institutions/bulk",
            {
                "institutions": [
                    {
                        "fixmedins_code": code,
                        "fixmedins_name": f"机构{code}",
                        "fixmedins_type": kind,
                        "hosp_lv": (1 + n % 3) if kind == "hospital" else None,
                        "admdvs": "420100",
                        "status": "active",
                    }
                    for n, (code, kind) in enumerate(codes)
                ]
            },
        )
        prices = {f"X{n:08d}": rng.randrange(100, 20_000) for n in range(items)}
        await _post(
            client,
            "/settlement/catalog/bulk",
            {
                "items": [
                    {"med_list_codg": code, "name": f"目录项目{n}", "chrgitm_lv": ("01", "02", "03")[n % 3]}
                    for n, code in enumerate(prices)
                ]
            },
        )
        drug_codes = list(prices)[:drugs]
        await _post(
            client,
            "/pricing/drugs/bulk",
            {
                "drugs": [
                    {
                        "med_list_codg": code,
                        "generic_name": f"药品{n}",
                        "spec": "10mg*10片",
                        "listing_price": f"{prices[code] * 3 // 200}.00",
                    }
                    for n, code in enumerate(drug_codes)
                ]
            },
        )
        institutions = await _issue_keys(client, codes)
        people, seen = [], set()
        while len(people) < persons:
            birth = date(1945, 1, 1) + timedelta(days=rng.randrange(365 * 75))
            first17 = f"420102{birth:%Y%m%d}{rng.randrange(1000):03d}"
            if first17 in seen:
                continue
            seen.add(first17)
            people.append({"certno": first17 + check_char(first17), "psn_name": "参保人", "admdvs": "420100"})
        bar = ProgressBar(persons, label="persons")
        psn_nos: list[str] = []
        for start in range(0, persons, 5000):
            answer = await _post(
                client, "/enrollment/persons:bulk", {"persons": people[start : start + 5000]}
            )
            psn_nos.extend(answer["registered"])
            bar.advance(len(people[start : start + 5000]))
        bar.close()
        claimants: list[list[str]] = []
        covered = len(psn_nos) if covered is None else min(covered, len(psn_nos))
        bar = ProgressBar(covered, label="coverages")
        items = []
        for n, psn_no in enumerate(psn_nos[:covered]):
            employee = n % 3 != 0
            item: dict[str, Any] = {
                "psn_no": psn_no,
                "insutype": "310" if employee else "390",
                "begndate": "2026-01-01",
                "enrolled_on": "2025-10-01",
            }
            if employee:
                item |= {"emp_code": EMPLOYER, "psn_type": "retired" if n % 5 == 0 else "employed"}
            items.append(item)
        chunks = iter(range(0, len(items), COVERAGE_CHUNK))

        async def enroll() -> None:
            # The initial-load API: each item under the rules of one POST .../coverages.
            for start in chunks:
                chunk = items[start : start + COVERAGE_CHUNK]
                answer = await _post(client, "/enrollment/coverages:bulk", {"coverages": chunk})
                if answer["rejected"]:
                    raise RuntimeError(f"coverages refused: {answer['rejected'][:3]}")
                claimants.extend([item["psn_no"], item["insutype"]] for item in chunk)
                bar.advance(len(chunk))

        await asyncio.gather(*(enroll() for _ in range(2)))
        bar.close()
    # Settlement applies every person.registered before the coverages behind them: about 150 events/s on a
    # busy two-core machine.
    await _wait_projection(settlement_db_url, len(claimants), timeout_s=300 + (persons + len(claimants)) / 50)
    claimants.sort()
    return CityWork(
        source="minimal",
        persons=len(psn_nos),
        institutions=institutions,
        claimants=claimants,
        hospital_items=[[code, price] for code, price in prices.items()],
        pharmacy_items=[[code, prices[code]] for code in drug_codes],
        load_seconds=round(time.perf_counter() - started, 1),
    )


def _fen(pric: str) -> int:
    """A unit price (up to 6 places) as the fen a one-unit line costs, half-up."""
    return yuan_half_up_to_fen(Decimal(pric))


def from_city(city: Any, loaded: Any, seconds: float) -> CityWork:
    """What the load draws from a loaded `bench.city` city: its ordinary persons, items at their prices.

    Persons of planted cases and those still in a waiting period are left out, and so are the planted
    claims' items: the load is the ordinary traffic of the city, at a higher rate.
    """
    in_cases = {key for case in city.cases for key in case.persons}
    planted = {setl_id for case in city.cases for setl_id in case.medins_setl_ids}
    claimants = sorted(
        [loaded.psn_no[person.key], person.coverage["insutype"]]
        for person in city.persons
        if not person.waiting and person.key not in in_cases and person.key in loaded.psn_no
    )
    hospital: dict[str, int] = {}
    pharmacy: dict[str, int] = {}
    for claim in city.claims():
        if claim.medins_setl_id in planted:
            continue
        items = pharmacy if claim.body["med_type"] == "41" else hospital
        for line in claim.body["feedetail"]:
            items.setdefault(line["med_list_codg"], _fen(line["pric"]))
    drugs = {row["med_list_codg"] for row in city.drugs}
    institutions = [[code, loaded.keys[code], "hospital"] for code in city.hospitals] + [
        [code, loaded.keys[code], "pharmacy"] for code in city.pharmacies if code not in city.overpriced
    ]
    return CityWork(
        source="bench.city",
        persons=int(loaded.counts.get("persons", len(loaded.psn_no))),
        institutions=institutions,
        claimants=claimants,
        hospital_items=sorted([code, price] for code, price in hospital.items()),
        pharmacy_items=sorted([code, price] for code, price in pharmacy.items() if code in drugs),
        load_seconds=round(seconds, 1),
        details={"counts": dict(loaded.counts), "seconds": dict(loaded.seconds)},
    )


async def load(
    gateway_url: str,
    ops_key: str,
    database_urls: dict[str, str],
    *,
    persons: int,
    kind: str = "auto",
    covered: int | None = None,
    seed: int = 20261123,
) -> CityWork:
    """The synthetic city of `bench/city` (played from today) when it is there (kind "auto" or "city"),
    else (or with kind "minimal") the minimal one."""
    if REPOSITORY not in sys.path:
        # bench/bench.py runs as a script from bench/, where `bench` would be that very file: the package
        # must be found first.
        sys.path.insert(0, REPOSITORY)
    try:
        from bench.city import generate_city, load_city
    except ImportError:
        if kind == "city":
            raise
        kind = "minimal"
    if kind == "minimal":
        return await load_minimal(
            gateway_url, ops_key, database_urls["settlement"], persons=persons, covered=covered, seed=seed
        )
    started = time.perf_counter()
    today = datetime.now(SHANGHAI).date()
    city = generate_city(seed, persons, days=1, start=today)
    loaded = await load_city(city, gateway_url, ops_key, progress=True)
    return from_city(city, loaded, time.perf_counter() - started)
