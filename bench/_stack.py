"""The platform `bench/bench.py` measures: embedded NATS and the five services as processes (DevStack).

On SQLite everything lives under the run's var directory; with an admin URL each service gets a fresh
PostgreSQL database `<prefix><service>` (dropped and created again on every run, unless the stack is started
again on what an earlier one left: `fresh=False`). With `replicas` above 1 (PostgreSQL only) each domain
service runs as that many processes behind the one gateway. Ports are free ones, so a `make run` on the
default ports is never disturbed.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from common import pgdev
from common.devrun import DevStack
from common.embedded_nats import free_port
from common.serve import SERVICES

SECRET = "bench-internal-secret-0123456789abcdef"  # noqa: S105 - a throwaway secret for the bench processes


@dataclass
class BenchStack:
    backend: str  # "sqlite" | "postgresql"
    var_dir: Path
    stack: DevStack
    database_urls: dict[str, str]
    ports: dict[str, int] = field(default_factory=dict)  # the first process of each service
    replicas: int = 1

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['gateway']}"

    def ops_key(self) -> str:
        return (self.var_dir / "bootstrap-ops-key").read_text().strip()

    def pids(self) -> dict[str, int]:
        return {service: process.pid for service, process in self.stack.children.items()}

    def stop(self) -> None:
        self.stack.stop()


def fresh_var_dir(path: Path) -> Path:
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    return path.resolve()


def start(
    var_dir: Path,
    admin_url: str | None,
    *,
    db_prefix: str = "ybj_benchstack_",
    extra_env: dict[str, str] | None = None,
    replicas: int = 1,
    fresh: bool = True,
) -> BenchStack:
    """Fresh databases and JetStream store, the services started and ready (migrated at start).

    `fresh=False` starts the stack again on the databases, JetStream store and keys an earlier one left in
    `var_dir` (its city, its API keys). `replicas` processes of each domain service share its database.
    """
    if replicas > 1 and admin_url is None:
        raise ValueError("replicas need PostgreSQL: SQLite is one writer per file")
    if admin_url is not None:
        if fresh:
            pgdev.drop_databases(admin_url, db_prefix)
        urls = pgdev.ensure_databases(admin_url, db_prefix).urls
    else:
        urls = {service: f"sqlite+aiosqlite:///{var_dir / f'{service}.db'}" for service in SERVICES}
    replica_ports = {
        service: [free_port() for _ in range(1 if service == "gateway" else replicas)] for service in SERVICES
    }
    ports = {service: given[0] for service, given in replica_ports.items()}
    env = {
        "VAR_DIR": str(var_dir),
        "NATS_PORT": str(free_port()),
        "INTERNAL_SECRET": SECRET,
        "LOG_LEVEL": "WARNING",
        "APP_ENV": "dev",
        # Many institutions share the load, but the --quick city has few: no client should meet the limit.
        "GATEWAY_RATE_LIMIT_PER_S": "1000000",
        "GATEWAY_RATE_LIMIT_BURST": "1000000",
        **{f"{service.upper()}_PORT": str(port) for service, port in ports.items()},
        **{f"{service.upper()}_DATABASE_URL": url for service, url in urls.items()},
        **{
            f"GATEWAY_{service.upper()}_URL": f"http://127.0.0.1:{ports[service]}"
            for service in SERVICES
            if service != "gateway"
        },
        **(extra_env or {}),
    }
    os.environ.pop("NATS_URL", None)  # DevStack starts its own NATS only when none is named
    os.environ.update(env)
    stack = DevStack(var_dir, replicas=replicas, ports=replica_ports if replicas > 1 else None)
    stack.start()
    bench = BenchStack(
        backend="sqlite" if admin_url is None else "postgresql",
        var_dir=var_dir,
        stack=stack,
        database_urls=urls,
        ports=ports,
        replicas=replicas,
    )
    try:
        stack.wait_ready()
    except BaseException:
        stack.stop()
        raise
    return bench
