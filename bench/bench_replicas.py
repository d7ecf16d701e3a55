"""Settlement through the gateway with one and with two processes of each domain service (PostgreSQL).

Called by bench/bench.py after its stack part, on the databases, JetStream store and API keys that stack
left (the city it loaded), before they are dropped:

    bench_replicas.measure(admin_url, var_dir, db_prefix=..., settle_work=settle_work, levels=sizes.levels,
                           step_s=sizes.step_s, warmup_s=sizes.warmup_s, results=results)

For each replica count the stack is started again on those databases (`make run-pg ARGS="--replicas N"`
as bench/_stack.py starts it: one gateway spreading the requests over the N processes of each service),
and the same settle load as the stack part's runs at each concurrency level. Both counts run on the same
two cores as PostgreSQL, NATS and the load generator: a second process of a service only pays where one
process left a core idle (waiting on the database or the network), which these rows show. Figures only.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import _measure
import _stack


class Rows(Protocol):
    """Where the figures go: bench.py's Results."""

    def add(self, name: str, label: str, value: float, unit: str, **kwargs: Any) -> None: ...


def measure(
    admin_url: str,
    var_dir: Path,
    *,
    db_prefix: str,
    settle_work: dict[str, Any],
    levels: Sequence[int],
    step_s: float,
    warmup_s: float,
    results: Rows,
    replica_counts: Sequence[int] = (1, 2),
) -> dict[int, list[dict[str, Any]]]:
    """Settle throughput and latency through the gateway at each level, with each number of replicas.

    Adds rows `replicas<N>_settle_c<level>_per_s`, `_p99_ms` and `_failed`, and per N above 1 the ratio
    of its best throughput to one process's. Returns the load steps by replica count.
    """
    steps: dict[int, list[dict[str, Any]]] = {}
    for replicas in replica_counts:
        bench = _stack.start(var_dir, admin_url, db_prefix=db_prefix, replicas=replicas, fresh=False)
        try:
            steps[replicas] = [
                _measure.run_step(
                    "settle",
                    bench.gateway_url,
                    settle_work,
                    connections=level,
                    duration_s=step_s,
                    warmup_s=warmup_s,
                    # The label is in the claims' idempotency keys: each run settles claims of its own.
                    label=f"settle r{replicas} c={level}",
                    seed=300 + 10 * replicas + level,
                    ok_status=201,
                )
                for level in levels
            ]
        finally:
            bench.stop()
        for step in steps[replicas]:
            prefix, label = f"replicas{replicas}_settle_c{step['connections']}", _label(replicas, step)
            results.add(f"{prefix}_per_s", f"{label} throughput", step["per_second"], "req/s")
            results.add(f"{prefix}_p99_ms", f"{label} p99", step["p99_ms"], "ms")
            failed = step["requests"] - step["ok"] + sum(step["errors"].values())
            results.add(f"{prefix}_failed", f"{label} failed requests", failed, "", at_most=0, target="0")
    if 1 in steps:
        single = max(step["per_second"] for step in steps[1])
        for replicas, measured in steps.items():
            if replicas > 1 and single:
                best = max(step["per_second"] for step in measured)
                results.add(
                    f"replicas{replicas}_settle_scaling",
                    f"settle with {replicas} processes per service: best throughput / one process's",
                    round(best / single, 2),
                    "x",
                )
    return steps


def _label(replicas: int, step: dict[str, Any]) -> str:
    processes = "1 process" if replicas == 1 else f"{replicas} processes"
    return f"settle c={step['connections']} ({processes} per service)"
