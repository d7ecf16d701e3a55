"""A service's database unavailable for a while, under traffic: every request fails cleanly (503
problem+json DATABASE_UNAVAILABLE), liveness holds, and the service recovers by itself once the database is
back; a client that retries what failed is charged exactly once.

PostgreSQL: a TCP hop of the test's own between the service and the server, cut (open connections aborted,
new ones refused) and restored. SQLite: another process holds the database's write lock past the busy
timeout, then is killed -9; reads carry on meanwhile (WAL), so only writes fail.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys

import httpx
import pytest
from sqlalchemy import make_url

from common.embedded_nats import _die_with_parent
from common.errors import PROBLEM_MEDIA_TYPE
from common.testing.apps import wait_for
from common.testing.processes import TcpProxy
from tests.faults.platform import (
    Platform,
    SettlementLoad,
    assert_books_consistent,
    claim,
    seed_world,
    settlements,
)

pytestmark = pytest.mark.faults

OUTAGE_S = 3.0
BUSY_TIMEOUT_MS = 1500


async def test_requests_fail_cleanly_while_the_database_is_away_and_the_service_recovers_alone(
    platform: Platform,
) -> None:
    fault = DatabaseFault(platform.databases.url("settlement"))
    try:
        await _outage_under_traffic(platform, fault)
    finally:
        await fault.close()


class DatabaseFault:
    """Takes settlement's database away and gives it back: a cut TCP hop on PostgreSQL, a lock on SQLite."""

    def __init__(self, url: str) -> None:
        self.url = make_url(url)
        self.postgres = self.url.get_backend_name() == "postgresql"
        self.proxy = TcpProxy(self.url.host or "127.0.0.1", self.url.port or 5432) if self.postgres else None
        self.holder: subprocess.Popen[bytes] | None = None

    async def service_url(self) -> str:
        """The URL the service is given: through the hop on PostgreSQL."""
        if self.proxy is None:
            return self.url.render_as_string(hide_password=False)
        await self.proxy.start()
        proxied = self.url.set(host="127.0.0.1", port=self.proxy.port)
        return proxied.render_as_string(hide_password=False)

    async def cut(self) -> None:
        if self.proxy is not None:
            await self.proxy.cut()
        else:
            self.holder = await asyncio.to_thread(_hold_write_lock, self.url.database or "")

    async def restore(self) -> None:
        if self.proxy is not None:
            await self.proxy.restore()
        else:
            self._release()

    async def close(self) -> None:
        if self.proxy is not None:
            await self.proxy.close()
        self._release()

    def _release(self) -> None:
        """kill -9 the holder: the operating system drops its lock."""
        holder, self.holder = self.holder, None
        if holder is None:
            return
        if holder.poll() is None:
            holder.kill()
            holder.wait()
        if holder.stdout is not None:
            holder.stdout.close()


async def _outage_under_traffic(platform: Platform, fault: DatabaseFault) -> None:
    platform.add(
        "settlement",
        database_url=await fault.service_url(),
        review_enabled=False,
        sqlite_busy_timeout_ms=BUSY_TIMEOUT_MS,
    )
    await platform.start("settlement")
    await seed_world(platform, pricing=False)
    api = platform.client("settlement", timeout=30)
    settlement = platform.services["settlement"]
    load = SettlementLoad(api, workers=3)
    load.start()
    await wait_for(lambda: load.count("before", 201) >= 20, timeout=60, what="traffic before the outage")
    first = (await api.post("/settlements", json=claim(900_001))).json()["setlinfo"]["setl_id"]

    load.phase = "outage"  # from here on: requests in flight when the cut comes count as the outage's
    await fault.cut()
    await asyncio.sleep(OUTAGE_S)  # the length of the outage, not an assertion
    await wait_for(lambda: load.count("outage", 503) >= 6, timeout=60, what="refusals during the outage")
    refused = await api.post("/settlements", json=claim(900_002))
    assert (refused.status_code, refused.headers["content-type"]) == (503, PROBLEM_MEDIA_TYPE)
    assert (refused.json()["code"], refused.headers["retry-after"]) == ("DATABASE_UNAVAILABLE", "1")
    async with httpx.AsyncClient(base_url=settlement.url, timeout=30) as probe:
        assert (await probe.get("/healthz")).status_code == 200
        ready = await probe.get("/readyz")
    read = await api.get(f"/settlements/{first}")
    if fault.postgres:
        assert (ready.status_code, ready.json()["checks"]["database"]) == (503, "unavailable")
        assert (read.status_code, read.json()["code"]) == (503, "DATABASE_UNAVAILABLE")
    else:
        # The lock stops writers only: readers go on in WAL mode, and the database is reachable.
        assert (ready.status_code, ready.json()["checks"]["database"]) == (200, "ok")
        assert read.status_code == 200

    await fault.restore()
    load.phase = "after"
    await wait_for(lambda: load.count("after", 201) >= 20, timeout=60, what="traffic after the outage")
    await load.stop()

    assert load.failures == []
    answers = load.statuses()
    # Every answer a settlement or a clean refusal. (On SQLite a refusal may also come outside the outage, when
    # the machine is so loaded that a writer waits past the short busy timeout this test sets.)
    assert {(status, code) for (_, status, code) in answers} <= {(201, None), (503, "DATABASE_UNAVAILABLE")}
    assert settlement.process is not None and settlement.process.poll() is None  # never restarted
    assert settlement.starts == 1
    assert (await api.get("/readyz")).status_code == 200

    # The client retries every refused claim with the very same body: each is settled once, whether or not
    # its transaction had reached the database before the cut.
    retried = [await api.post("/settlements", json=body) for body in load.unanswered.values()]
    assert {r.status_code for r in retried} <= {200, 201}, [r.text for r in retried if r.status_code >= 300]
    committed = await settlements(platform.db("settlement"))
    assert len(committed) == len(load.answers) + 1
    books = await assert_books_consistent(platform)
    assert books == {"settled": len(load.answers) + 1, "reversed": 0}
    print(
        f"\n[faults] {platform.backend} database away {OUTAGE_S:.0f}s+ under traffic: "
        f"before: {load.count('before', 201)} settled, {load.count('before', 503)} refused; "
        f"during: {load.count('outage', 201)} settled (before the cut reached them), "
        f"{load.count('outage', 503)} refused 503 DATABASE_UNAVAILABLE; after: {load.count('after', 201)} "
        f"settled, {load.count('after', 503)} refused (dead pooled connections, each found once); "
        f"no other status, no hang, no restart; {len(retried)} refused claims retried: "
        f"{sum(r.status_code == 201 for r in retried)} settled now, "
        f"{sum(r.status_code == 200 for r in retried)} replayed (committed before the answer was lost); "
        f"{len(committed)} settlements, ledger balanced, accumulators and accounts exact"
    )


def _hold_write_lock(path: str) -> subprocess.Popen[bytes]:
    """Another process takes SQLite's write lock (BEGIN IMMEDIATE) and keeps it."""
    script = (
        "import sqlite3, sys, time\n"
        "c = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
        "c.execute('BEGIN IMMEDIATE')\n"
        "print('held', flush=True)\n"
        "time.sleep(600)\n"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", script, path],
        stdout=subprocess.PIPE,
        preexec_fn=_die_with_parent if sys.platform == "linux" else None,  # never outlive the test run
    )
    assert holder.stdout is not None
    assert holder.stdout.readline() == b"held\n"
    return holder
