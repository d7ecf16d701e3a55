"""The load generator of `bench/bench.py`: one OS process, its own event loop and HTTP client.

    python bench/_loadgen.py SPEC.json RESULT.json

It never shares an event loop (or a core's time slice, when the scheduler allows) with a service: the
harness starts one or more of these processes per step, each with a share of the connections. The spec
says what to send (`kind` and its `work`, see `_requests`), to which base URL, over how many connections,
from which wall-clock moment (`start_at`, so several processes begin together) and for how long
(`duration_s`, after `warmup_s` of unmeasured traffic). The result is every measured latency (ms), the
answers counted by status, transport errors by type, and the kind's own counts (e.g. sale lines accepted).

The client is aiohttp, not httpx: on two cores the generator's CPU is taken from the services it
measures, and aiohttp spends about a third of what httpx does per request.
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp

Request = tuple[str, str, str, dict[str, Any] | None]  # method, path (with query), api key, JSON body
Factory = Callable[[int], Request]
# Line notes of settlement's split that a claim drawn as a real visit would never carry.
REFUSALS = (b"GENDER_LIMIT", b"AGE_LIMIT", b"OVER_QUANTITY", b"NOT_IN_CATALOG")


def _settle_factory(work: dict[str, Any], rng: random.Random, tag: str) -> Factory:
    """10-line one-call claims: hospitals (outpatient, med_type 11) and pharmacies (41, traceability codes)."""
    hospitals = [row for row in work["institutions"] if row[2] == "hospital"]
    pharmacies = [row for row in work["institutions"] if row[2] == "pharmacy"]
    persons, lines_per_claim = work["persons"], work.get("lines", 10)
    pharmacy_share = work.get("pharmacy_share", 0.25) if pharmacies else 0.0
    begntime, fee_time = work["begntime"], work["fee_time"]
    # A real visit's lines: within each item's gender and age limits for the person and its max_cnt_per_visit,
    # no item twice.
    limits: dict[str, list[Any]] = work.get("item_limits", {})
    traits: dict[str, list[Any]] = work.get("person_traits", {})

    def allowed(item: str, person: list[Any] | None) -> bool:
        limit = limits.get(item)
        if limit is None:
            return True
        gend_lmt, age_min, age_max, most = limit
        if most is not None and most < 1:
            return False
        if gend_lmt is None and age_min is None and age_max is None:
            return True
        if person is None:
            return False  # a person whose gender and age we do not know: no limited item at all
        gend, age = person
        return (
            (gend_lmt is None or gend_lmt == gend)
            and (age_min is None or age >= age_min)
            and (age_max is None or age <= age_max)
        )

    def draw(items: list[list[Any]], psn_no: str) -> list[list[Any]]:
        person, chosen, seen = traits.get(psn_no), [], set()
        for _ in range(lines_per_claim * 20):
            if len(chosen) == lines_per_claim:
                break
            item, price_fen = rng.choice(items)
            if item not in seen and allowed(item, person):
                seen.add(item)
                chosen.append([item, price_fen])
        return chosen

    def make(n: int) -> Request:
        pharmacy = rng.random() < pharmacy_share
        code, key, _ = rng.choice(pharmacies if pharmacy else hospitals)
        items = work["pharmacy_items"] if pharmacy else work["hospital_items"]
        psn_no, insutype = rng.choice(persons)
        lines = []
        for sn, (item, price_fen) in enumerate(draw(items, psn_no), start=1):
            most = limits.get(item, (None, None, None, None))[3]
            cnt = rng.randint(1, 3 if most is None else min(3, most))
            lines.append(
                {
                    "feedetl_sn": str(sn),
                    "med_list_codg": item,
                    "cnt": str(cnt),
                    "pric": f"{price_fen // 100}.{price_fen % 100:02d}",
                    "det_item_fee_sumamt": f"{cnt * price_fen // 100}.{cnt * price_fen % 100:02d}",
                    "fee_ocur_time": fee_time,
                    "drug_trac_codg": [f"8{tag}{n:09d}{sn:02d}"] if pharmacy else [],
                }
            )
        body = {
            "fixmedins_code": code,
            "medins_setl_id": f"{code}-{tag}-{n}",
            "psn_no": psn_no,
            "insutype": insutype,
            "med_type": "41" if pharmacy else "11",
            "begntime": begntime,
            "acct_used_flag": 1,
            "feedetail": lines,
        }
        return "POST", "/settlement/settlements", key, body

    return make


def _eligibility_factory(work: dict[str, Any], rng: random.Random, tag: str) -> Factory:
    persons, keys, on = work["persons"], work["keys"], work["date"]

    def make(n: int) -> Request:
        psn_no, insutype = rng.choice(persons)
        return (
            "GET",
            f"/enrollment/eligibility?psn_no={psn_no}&insutype={insutype}&date={on}",
            rng.choice(keys),
            None,
        )

    return make


def _presettle_factory(work: dict[str, Any], rng: random.Random, tag: str) -> Factory:
    visits = work["visits"]  # [mdtrt_id, key], each with its fee lines already uploaded

    def make(n: int) -> Request:
        mdtrt_id, key = visits[n % len(visits)]
        return "POST", f"/settlement/visits/{mdtrt_id}/pre-settlement", key, {"acct_used_flag": 1}

    return make


def _sales_factory(work: dict[str, Any], rng: random.Random, tag: str) -> Factory:
    """POS uploads of `batch` lines, each at a price near the drug's own."""
    pharmacies, drugs, batch, sel_time = work["pharmacies"], work["drugs"], work["batch"], work["sel_time"]

    def make(n: int) -> Request:
        code, key = rng.choice(pharmacies)
        sales = []
        for line in range(batch):
            drug, price_fen = rng.choice(drugs)
            price_fen += rng.choice((0, 0, 0, 10, 30, price_fen // 10))
            sales.append(
                {
                    "sale_id": f"S{tag}{n:08d}{line:04d}",
                    "med_list_codg": drug,
                    "finl_trns_pric": f"{price_fen // 100}.{price_fen % 100:02d}",
                    "cnt": str(rng.randint(1, 3)),
                    "sel_time": sel_time,
                    "drug_trac_codg": [],
                }
            )
        return "POST", "/pricing/sales", key, {"fixmedins_code": code, "sales": sales}

    return make


FACTORIES: dict[str, Callable[[dict[str, Any], random.Random, str], Factory]] = {
    "settle": _settle_factory,
    "eligibility": _eligibility_factory,
    "presettle": _presettle_factory,
    "sales": _sales_factory,
}


async def run(spec: dict[str, Any]) -> dict[str, Any]:
    rng = random.Random(spec["seed"])  # noqa: S311 - synthetic load, not secrets
    tag = spec["tag"]  # unique per process and step: the idempotency keys never repeat
    make = FACTORIES[spec["kind"]](spec["work"], rng, tag)
    counter: Iterator[int] = iter(range(10**12))
    latencies: list[float] = []
    statuses: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    extra: Counter[str] = Counter()
    first_failures: list[str] = []
    connections = spec["connections"]
    connector = aiohttp.TCPConnector(limit=connections, force_close=False, enable_cleanup_closed=True)
    timeout = aiohttp.ClientTimeout(total=spec.get("timeout_s", 30))
    start_at = spec["start_at"]
    measure_from = start_at + spec.get("warmup_s", 0.0)
    stop_at = measure_from + spec["duration_s"]
    max_requests = spec.get("requests")  # optional cap on measured requests (the --quick test's sizes)
    async with aiohttp.ClientSession(spec["base_url"], connector=connector, timeout=timeout) as session:
        await asyncio.sleep(max(0.0, start_at - time.time()))

        # An offered rate (requests/s of this process), spread evenly over its connections; a request late
        # for its slot goes at once (the latency is measured from when it was sent).
        interval = connections / spec["rate"] if spec.get("rate") else 0.0

        async def worker(slot: int) -> None:
            next_at = start_at + slot * interval / connections
            while True:
                now = time.time()
                if now >= stop_at or (max_requests is not None and statuses.total() >= max_requests):
                    return
                if interval:
                    await asyncio.sleep(max(0.0, next_at - now))
                    next_at = max(next_at + interval, time.time() - interval)
                method, path, key, body = make(next(counter))
                began = time.perf_counter()
                measured = time.time() >= measure_from
                try:
                    async with session.request(
                        method, path, json=body, headers={"Authorization": f"Bearer {key}"}
                    ) as response:
                        payload = await response.read()
                        status = response.status
                except (aiohttp.ClientError, TimeoutError) as exc:
                    if measured:
                        errors[type(exc).__name__] += 1
                    continue
                elapsed_ms = (time.perf_counter() - began) * 1000
                if status == 201:  # a settlement made, warm-up or not: the event audit counts them all
                    extra["created"] += 1
                if not measured or time.time() > stop_at:
                    continue
                latencies.append(elapsed_ms)
                statuses[str(status)] += 1
                if status >= 300 and len(first_failures) < 5:
                    first_failures.append(
                        f"{status} {path.split('?')[0]}: {payload[:300].decode(errors='replace')}"
                    )
                if spec["kind"] == "settle":
                    if status == 201:  # lines the split refused: planted ones only (the bench plants none)
                        for reason in REFUSALS:
                            lines_refused = payload.count(b'"' + reason + b'"')
                            if lines_refused:
                                extra[f"refused_{reason.decode().lower()}"] += lines_refused
                    elif status == 422:  # a whole claim refused (e.g. REVIEW_BLOCKED), by its code
                        try:
                            code = str(json.loads(payload).get("code", "unknown")).lower()
                        except (ValueError, AttributeError):
                            code = "unknown"
                        extra[f"refused_claims_{code}"] += 1
                if spec["kind"] == "sales" and status == 200:
                    answer = json.loads(payload)
                    extra["lines_accepted"] += answer["accepted"]
                    extra["lines_rejected"] += answer["rejected"]

        await asyncio.gather(*(worker(slot) for slot in range(connections)))
    return {
        "tag": tag,
        "connections": connections,
        "duration_s": spec["duration_s"],
        "latencies_ms": latencies,
        "statuses": dict(statuses),
        "errors": dict(errors),
        "counts": dict(extra),
        "first_failures": first_failures,
    }


def main() -> int:
    spec = json.loads(Path(sys.argv[1]).read_text())
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # pragma: no cover - uvloop comes with uvicorn[standard]
        pass
    result = asyncio.run(run(spec))
    Path(sys.argv[2]).write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
