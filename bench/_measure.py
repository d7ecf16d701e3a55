"""What `bench/bench.py` measures with: load steps in separate processes, event lag, resident memory."""

from __future__ import annotations

import asyncio
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from common.db import Database
from common.events.contracts import Subject
from common.events.envelope import EventEnvelope
from common.events.tables import inbox_event, outbox_event
from common.progress import ProgressBar
from pricing.events import observed as pricing_observed

LOADGEN = Path(__file__).with_name("_loadgen.py")
SPAWN_S = 2.5  # time for the generator processes to import and connect before they start together
CONSUMERS = {"fraud": "fraud-settlement", "pricing": "pricing-settlement"}
CONSUMER_WANTS: dict[str, Callable[[EventEnvelope], bool] | None] = {
    "fraud": None,
    "pricing": pricing_observed,
}


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of an ascending list (NaN when empty)."""
    if not sorted_values:
        return math.nan
    return sorted_values[min(len(sorted_values) - 1, max(0, math.ceil(fraction * len(sorted_values)) - 1))]


def processes_for(connections: int, per_process: int = 32) -> int:
    """One generator process per 32 connections: beyond that one core's event loop is the limit."""
    return max(1, math.ceil(connections / per_process))


def run_step(
    kind: str,
    base_url: str,
    work: dict[str, Any],
    *,
    connections: int,
    duration_s: float,
    warmup_s: float,
    label: str,
    seed: int,
    processes: int | None = None,
    requests: int | None = None,
    ok_status: int = 200,
    cpu: CpuProbe | None = None,
    rate: float | None = None,
) -> dict[str, Any]:
    """Drive `kind` requests over `connections` from separate processes; merged latencies and counts.

    With `cpu`, the CPU each process of the platform spent in the measured window, per ok answer.
    """
    procs = processes or processes_for(connections)
    shares = [connections // procs + (1 if i < connections % procs else 0) for i in range(procs)]
    start_at = time.time() + SPAWN_S
    with tempfile.TemporaryDirectory(prefix="ybj-loadgen-") as tmp:
        root = Path(tmp)
        children = []
        for index, share in enumerate(shares):
            spec = {
                "kind": kind,
                "base_url": base_url,
                "work": work,
                "connections": share,
                "start_at": start_at,
                "warmup_s": warmup_s,
                "duration_s": duration_s,
                "seed": seed * 100 + index,
                # In idempotency keys and traceability codes: letters and digits only.
                "tag": "".join(char for char in f"{label}x{index}" if char.isascii() and char.isalnum()),
                "requests": None if requests is None else math.ceil(requests / procs),
                "rate": None if rate is None else rate / procs,  # the offered rate, shared by the processes
            }
            (root / f"spec{index}.json").write_text(json.dumps(spec))
            children.append(
                subprocess.Popen(  # noqa: S603 - our own interpreter and script
                    [
                        sys.executable,
                        str(LOADGEN),
                        str(root / f"spec{index}.json"),
                        str(root / f"out{index}.json"),
                    ]
                )
            )
        total = SPAWN_S + warmup_s + duration_s
        bar = ProgressBar(round(total * 10), label=label)
        began = time.monotonic()
        window_start, window_end = start_at + warmup_s, start_at + warmup_s + duration_s
        cpu_at: list[dict[str, Any]] = []
        while any(child.poll() is None for child in children):
            time.sleep(0.1)
            if cpu is not None and len(cpu_at) < 2 and time.time() >= (window_start, window_end)[len(cpu_at)]:
                cpu_at.append(cpu.sample())
            done = min(round((time.monotonic() - began) * 10), round(total * 10))
            if done > bar.done:
                bar.advance(done - bar.done)
        bar.close()
        for index, child in enumerate(children):
            if child.returncode != 0:
                raise RuntimeError(f"load generator {index} of {label} exited with {child.returncode}")
        parts = [json.loads((root / f"out{index}.json").read_text()) for index in range(procs)]
    latencies = sorted(value for part in parts for value in part["latencies_ms"])
    statuses: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    counts: Counter[str] = Counter()
    failures: list[str] = []
    for part in parts:
        statuses.update(part["statuses"])
        errors.update(part["errors"])
        counts.update(part["counts"])
        failures.extend(part["first_failures"])
    ok = statuses.get(str(ok_status), 0)
    cpu_ms = (
        {name: round(1000 * seconds / ok, 2) for name, seconds in cpu.used_between(*cpu_at).items()}
        if cpu is not None and len(cpu_at) == 2 and ok
        else {}
    )
    return {
        "kind": kind,
        "connections": connections,
        "processes": procs,
        "duration_s": duration_s,
        "requests": len(latencies),
        "ok": ok,
        "per_second": round(ok / duration_s, 1),
        "p50_ms": round(percentile(latencies, 0.50), 2),
        "p95_ms": round(percentile(latencies, 0.95), 2),
        "p99_ms": round(percentile(latencies, 0.99), 2),
        "max_ms": round(latencies[-1], 2) if latencies else math.nan,
        "statuses": dict(statuses),
        "errors": dict(errors),
        "counts": dict(counts),
        "first_failures": failures[:5],
        "window": [window_start, window_end],  # epoch seconds, the measured part
        "cpu_ms_per_ok": cpu_ms,  # process -> CPU ms in the window per ok answer (empty without a probe)
    }


_TICKS = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> tuple[int, float, str] | None:
    """(parent pid, user + system CPU seconds, command) of a process from /proc, None when it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    comm = text[text.index("(") + 1 : text.rindex(")")]
    fields = text[text.rindex(")") + 2 :].split()  # after "pid (comm) "; comm may hold spaces
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / _TICKS, comm


class CpuProbe:
    """CPU seconds used so far by each process of the platform, read from /proc.

    A service counts with its descendants (uvicorn workers, replicas started under it). With `postgres`,
    "postgresql" is every process of the local PostgreSQL server (its backends, WAL writer, checkpointer,
    ...): a bench run is the only load it is meant to have while measuring.
    """

    def __init__(self, pids: dict[str, int], *, postgres: bool = False) -> None:
        self.pids = pids
        self.postgres = postgres

    def sample(self) -> dict[str, Any]:
        """CPU seconds so far: per named process (with its descendants) and per PostgreSQL process."""
        parents: dict[int, int] = {}
        used: dict[int, float] = {}
        servers: dict[int, float] = {}
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit() and (stat := _stat(int(entry.name))) is not None:
                pid = int(entry.name)
                parents[pid], used[pid] = stat[0], stat[1]
                if stat[2] == "postgres":
                    servers[pid] = stat[1]
        children: dict[int, list[int]] = {}
        for pid, parent in parents.items():
            children.setdefault(parent, []).append(pid)

        def tree(pid: int) -> float:
            return used.get(pid, 0.0) + sum(tree(child) for child in children.get(pid, ()))

        return {"named": {name: tree(pid) for name, pid in self.pids.items()}, "postgres": servers}

    def used_between(self, start: dict[str, Any], end: dict[str, Any]) -> dict[str, float]:
        """CPU seconds each process used between two samples. PostgreSQL's backends come and go (pools
        open connections): each counts from the first sample, or all of it when it started since."""
        used = {name: end["named"][name] - start["named"].get(name, 0.0) for name in end["named"]}
        if self.postgres:
            used["postgresql"] = sum(
                seconds - start["postgres"].get(pid, 0.0) for pid, seconds in end["postgres"].items()
            )
        return used


@dataclass
class EventAudit:
    """Settlements made and what each consumer applied, exactly: outbox and inbox rows joined on event_id."""

    settlements: int
    settled_events: int
    unpublished: int
    applied: dict[str, int]  # service -> inbox rows of settlement.settled
    wanted: dict[str, int]  # service -> settlement.settled events its consumer acts on (the rest: ignored)
    lag_ms: dict[str, dict[str, float]]  # service (or "relay") -> p50/p95/p99/max over the window's events
    lag_ms_by_step: dict[str, dict[str, dict[str, float]]]  # step -> service -> the same, its events only
    window_events: int
    redelivered: dict[str, int]  # service -> deliveries the inbox recognised as seen before


async def _settled_events(
    db: Database,
) -> tuple[int, int, dict[str, datetime], dict[str, datetime], dict[str, set[str]]]:
    async with db.transaction(readonly=True) as session:
        settlements = await session.scalar(sa.text("SELECT count(*) FROM settlement")) or 0
        unpublished = (
            await session.scalar(
                sa.select(sa.func.count())
                .select_from(outbox_event)
                .where(outbox_event.c.published_at.is_(None))
            )
            or 0
        )
        rows = (
            await session.execute(
                sa.select(
                    outbox_event.c.event_id,
                    outbox_event.c.created_at,
                    outbox_event.c.published_at,
                    outbox_event.c.payload,
                ).where(outbox_event.c.type == Subject.SETTLED)
            )
        ).all()
    created = {event_id: at for event_id, at, _, _ in rows}
    published = {event_id: at for event_id, _, at, _ in rows if at is not None}
    # What each consumer applies: every event, or those its subscription's own filter wants (the others are
    # acked unread, with no inbox row).
    wanted = {
        service: {
            event_id
            for event_id, _, _, payload in rows
            if wants is None or wants(EventEnvelope.from_bytes(bytes(payload)))
        }
        for service, wants in CONSUMER_WANTS.items()
    }
    return settlements, unpublished, created, published, wanted


async def _inbox(db: Database, consumer: str) -> dict[str, datetime]:
    async with db.transaction(readonly=True) as session:
        rows = (
            await session.execute(
                sa.select(inbox_event.c.event_id, inbox_event.c.received_at).where(
                    inbox_event.c.consumer == consumer, inbox_event.c.type == Subject.SETTLED
                )
            )
        ).all()
    return {event_id: received for event_id, received in rows}


async def _audit_once(
    urls: dict[str, str],
) -> tuple[
    int, int, dict[str, datetime], dict[str, datetime], dict[str, set[str]], dict[str, dict[str, datetime]]
]:
    databases = {service: Database.from_url(urls[service]) for service in ("settlement", *CONSUMERS)}
    try:
        settlements, unpublished, created, published, wanted = await _settled_events(databases["settlement"])
        inboxes = {
            service: await _inbox(databases[service], consumer) for service, consumer in CONSUMERS.items()
        }
    finally:
        for db in databases.values():
            await db.dispose()
    return settlements, unpublished, created, published, wanted, inboxes


def count_settlements(settlement_url: str) -> int:
    async def count() -> int:
        db = Database.from_url(settlement_url)
        try:
            async with db.transaction(readonly=True) as session:
                return int(await session.scalar(sa.text("SELECT count(*) FROM settlement")) or 0)
        finally:
            await db.dispose()

    return asyncio.run(count())


def _redeliveries(base_url: str) -> int:
    """Deliveries a consumer counted as duplicates (its inbox had the event): from its /metrics."""
    text = httpx.get(f"{base_url}/metrics", timeout=10).text
    total = 0.0
    for line in text.splitlines():
        if (
            line.startswith("events_consumed_total{")
            and 'outcome="duplicate"' in line
            and Subject.SETTLED in line
        ):
            total += float(line.rsplit(" ", 1)[1])
    return int(total)


def _lag(inbox: dict[str, datetime], created: dict[str, datetime]) -> dict[str, float]:
    """Received - created of each event (ms), over the events given."""
    values = sorted(
        (inbox[event_id] - at).total_seconds() * 1000 for event_id, at in created.items() if event_id in inbox
    )
    return {
        "events": len(values),
        "p50_ms": round(percentile(values, 0.50), 1),
        "p95_ms": round(percentile(values, 0.95), 1),
        "p99_ms": round(percentile(values, 0.99), 1),
        "max_ms": round(values[-1], 1) if values else math.nan,
    }


def audit_events(
    urls: dict[str, str],
    service_urls: dict[str, str],
    *,
    window: tuple[datetime, datetime],
    timeout_s: float,
    steps: dict[str, tuple[float, float]] | None = None,
) -> EventAudit:
    """Wait until fraud and pricing have applied every settlement.settled (or the timeout), then measure."""
    bar: ProgressBar | None = None
    deadline = time.monotonic() + timeout_s
    while True:
        settlements, unpublished, created, published, wanted, inboxes = asyncio.run(_audit_once(urls))
        behind = sum(len(wanted[service] - set(inbox)) for service, inbox in inboxes.items())
        if bar is None:
            bar = ProgressBar(max(behind, 1), label="events applied")
        elif behind < bar.total - bar.done:
            bar.advance(bar.total - bar.done - behind)
        if (behind == 0 and unpublished == 0) or time.monotonic() > deadline:
            break
        time.sleep(1.0)
    bar.close()
    start, end = window
    in_window = {event_id: at for event_id, at in created.items() if start <= at <= end}
    # "relay": from the settlement's transaction to its event on JetStream (outbox published_at).
    delays = {**inboxes, "relay": published}
    lag = {service: _lag(inbox, in_window) for service, inbox in delays.items()}
    lag_by_step = {
        label: {
            service: _lag(
                inbox,
                {
                    event_id: at
                    for event_id, at in created.items()
                    if step_start <= at.timestamp() <= step_end
                },
            )
            for service, inbox in delays.items()
        }
        for label, (step_start, step_end) in (steps or {}).items()
    }
    return EventAudit(
        settlements=settlements,
        settled_events=len(created),
        unpublished=unpublished,
        applied={service: len(set(inbox) & wanted[service]) for service, inbox in inboxes.items()},
        wanted={service: len(ids) for service, ids in wanted.items()},
        lag_ms=lag,
        lag_ms_by_step=lag_by_step,
        window_events=len(in_window),
        redelivered={service: _redeliveries(service_urls[service]) for service in CONSUMERS},
    )


def peak_memory_mb(pids: dict[str, int]) -> dict[str, dict[str, float]]:
    """VmHWM (peak resident set) and VmRSS of each service process, in MB, from /proc."""
    memory = {}
    for service, pid in pids.items():
        fields = {}
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            name, _, value = line.partition(":")
            if name in ("VmHWM", "VmRSS"):
                fields[name] = int(value.split()[0]) / 1024  # kB -> MB
        memory[service] = {"peak_mb": round(fields["VmHWM"], 1), "rss_mb": round(fields["VmRSS"], 1)}
    return memory
