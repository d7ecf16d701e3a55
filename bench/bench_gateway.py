"""Benchmark of the gateway's cost: the same GETs straight to enrollment and through the gateway.

    python bench/bench_gateway.py [--requests 4000] [--concurrency 16]

Real processes (nats-server from the wheel, enrollment and gateway under uvicorn, SQLite); the load
generator runs on the same machine, so every figure includes its share of the two cores. Prints a table
and writes var/bench/gateway.json. Measures, never asserts.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
from bench_settlement import claim as settlement_claim
from bench_settlement import seed as seed_settlement

from common.embedded_nats import EmbeddedNats, free_port
from common.migrations import upgrade
from common.principal import Principal, Role, sign_principal
from common.progress import ProgressBar
from enrollment.domain.certno import check_char

SETTLEMENT_PERSONS = 5000
SECRET = "bench-internal-secret-0123456789abcdef"  # noqa: S105 - a throwaway secret for the bench processes


def start(service: str, env: dict[str, str], log: Path, *, migrate: bool = True) -> subprocess.Popen[bytes]:
    return subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "common.serve", service, *([] if migrate else ["--no-migrate"])],
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )


def wait_ready(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/readyz", timeout=1) as response:  # noqa: S310 - local URL
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{url} not ready")


def percentile(values: list[float], fraction: float) -> float:
    return values[min(len(values) - 1, max(0, round(fraction * len(values)) - 1))]


async def load(  # type: ignore[no-untyped-def]
    label: str, url: str, paths: list[str], headers_for, requests: int, concurrency: int, bodies=None
) -> dict:  # type: ignore[type-arg]
    """GET each path in turn, or POST the next body when `bodies` (a callable giving (path, body)) is given."""
    latencies: list[float] = []
    bar = ProgressBar(requests, label=label)
    queue = iter(range(requests))
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as client:

        async def worker() -> None:
            for index in queue:
                if bodies is None:
                    path = paths[index % len(paths)]
                    began = time.perf_counter()
                    response = await client.get(path, headers=headers_for(path))
                    expected = 200
                else:
                    path, body = bodies(index)
                    began = time.perf_counter()
                    response = await client.post(path, json=body, headers=headers_for(path))
                    expected = 201
                latencies.append((time.perf_counter() - began) * 1000)
                if response.status_code != expected:
                    raise RuntimeError(
                        f"{label}: {path} answered {response.status_code} {response.text[:200]}"
                    )
                bar.advance()

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    bar.close()
    latencies.sort()
    return {
        "requests": requests,
        "per_second": requests / elapsed,
        "p50_ms": percentile(latencies, 0.5),
        "p99_ms": percentile(latencies, 0.99),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--settlements", type=int, default=1000, help="POST /settlements per row")
    parser.add_argument("--settle-concurrency", type=int, default=4)
    parser.add_argument("--out", type=Path, default=Path("var/bench/gateway.json"))
    args = parser.parse_args()
    rng = random.Random(7)  # noqa: S311 - synthetic data
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        ports = {"GATEWAY": free_port(), "ENROLLMENT": free_port(), "SETTLEMENT": free_port()}
        settlement_url = f"sqlite+aiosqlite:///{root / 'settlement.db'}"
        upgrade("settlement", settlement_url)
        asyncio.run(seed_settlement(settlement_url, SETTLEMENT_PERSONS, rng))
        nats = EmbeddedNats(port=free_port(), store_dir=root / "nats")
        nats.start()
        env = {
            **os.environ,
            "VAR_DIR": str(root),
            "NATS_URL": nats.url,
            "INTERNAL_SECRET": SECRET,
            "LOG_LEVEL": "WARNING",
            "GATEWAY_PORT": str(ports["GATEWAY"]),
            "ENROLLMENT_PORT": str(ports["ENROLLMENT"]),
            "GATEWAY_ENROLLMENT_URL": f"http://127.0.0.1:{ports['ENROLLMENT']}",
            "SETTLEMENT_PORT": str(ports["SETTLEMENT"]),
            "SETTLEMENT_DATABASE_URL": settlement_url,
            "GATEWAY_SETTLEMENT_URL": f"http://127.0.0.1:{ports['SETTLEMENT']}",
            "GATEWAY_RATE_LIMIT_PER_S": "1000000",
            "GATEWAY_RATE_LIMIT_BURST": "1000000",
        }
        processes = [
            start("enrollment", env, root / "enrollment.log"),
            start("gateway", env, root / "gateway.log"),
            start("settlement", env, root / "settlement.log", migrate=False),
        ]
        try:
            direct, gateway = (f"http://127.0.0.1:{ports[name]}" for name in ("ENROLLMENT", "GATEWAY"))
            settle_direct = f"http://127.0.0.1:{ports['SETTLEMENT']}"
            wait_ready(direct)
            wait_ready(gateway)
            wait_ready(settle_direct)
            key = (root / "bootstrap-ops-key").read_text().strip()
            bearer = {"Authorization": f"Bearer {key}"}
            people = []
            for i in range(1000):
                birth = date(1950, 1, 1) + timedelta(days=rng.randrange(20000))
                first17 = f"420102{birth:%Y%m%d}{i:03d}"
                people.append(
                    {"certno": first17 + check_char(first17), "psn_name": f"参保人{i}", "admdvs": "420100"}
                )
            response = httpx.post(
                f"{gateway}/enrollment/persons:bulk", json={"persons": people}, headers=bearer, timeout=60
            )
            psn_nos = response.json()["registered"]
            for psn_no in psn_nos[:200]:
                httpx.post(
                    f"{gateway}/enrollment/persons/{psn_no}/coverages",
                    headers=bearer,
                    json={"insutype": "390", "begndate": "2026-01-01", "enrolled_on": "2025-10-01"},
                )
            eligibility = [f"/eligibility?psn_no={psn_no}" for psn_no in psn_nos[:200]]
            ops = Principal("bench", Role.OPS)

            def signed(path: str) -> dict[str, str]:
                return sign_principal(
                    ops, secret=SECRET, method="GET", path=path.split("?")[0], now=datetime.now(UTC)
                )

            runs = {
                "healthz direct": asyncio.run(
                    load("direct", direct, ["/healthz"], lambda _: {}, args.requests, args.concurrency)
                ),
                "healthz via gateway": asyncio.run(
                    load(
                        "gateway",
                        gateway,
                        ["/enrollment/healthz"],
                        lambda _: bearer,
                        args.requests,
                        args.concurrency,
                    )
                ),
                "eligibility direct": asyncio.run(
                    load("direct", direct, eligibility, signed, args.requests, args.concurrency)
                ),
                "eligibility via gateway": asyncio.run(
                    load(
                        "gateway",
                        gateway,
                        [f"/enrollment{p}" for p in eligibility],
                        lambda _: bearer,
                        args.requests,
                        args.concurrency,
                    )
                ),
            }
            serial = iter(range(10**9))

            def direct_claim(_: int) -> tuple[str, dict]:  # type: ignore[type-arg]
                return "/settlements", settlement_claim(next(serial), SETTLEMENT_PERSONS, rng)[1]

            def gateway_claim(_: int) -> tuple[str, dict]:  # type: ignore[type-arg]
                return "/settlement/settlements", settlement_claim(next(serial), SETTLEMENT_PERSONS, rng)[1]

            def signed_post(path: str) -> dict[str, str]:
                return sign_principal(ops, secret=SECRET, method="POST", path=path, now=datetime.now(UTC))

            for label, url, headers_for, bodies in (
                ("settle direct", settle_direct, signed_post, direct_claim),
                ("settle via gateway", gateway, lambda _: bearer, gateway_claim),
            ):
                runs[label] = asyncio.run(
                    load(
                        label, url, [], headers_for, args.settlements, args.settle_concurrency, bodies=bodies
                    )
                )
        finally:
            for process in processes:
                process.terminate()
            for process in processes:
                process.wait(15)
            nats.stop()
    print(
        f"\ngateway benchmark ({args.requests:,} GETs per row, {args.concurrency} concurrent; "
        f"{args.settlements:,} POST /settlements per row, {args.settle_concurrency} concurrent; SQLite)"
    )
    print(f"  {'scenario':<26}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}")
    for name, run in runs.items():
        print(f"  {name:<26}{run['per_second']:>10,.0f}{run['p50_ms']:>10.2f}{run['p99_ms']:>10.2f}")
    for what in ("healthz", "eligibility", "settle"):
        d, g = runs[f"{what} direct"], runs[f"{what} via gateway"]
        print(
            f"  gateway adds on {what}: p50 {g['p50_ms'] - d['p50_ms']:+.2f} ms, "
            f"p99 {g['p99_ms'] - d['p99_ms']:+.2f} ms"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(runs, indent=2))
    print(f"  results written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
