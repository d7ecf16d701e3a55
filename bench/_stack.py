"""The platform `bench/bench.py` measures: embedded NATS and the five services as processes (DevStack).

On SQLite everything lives under the run's var directory; with an admin URL each service gets a fresh
PostgreSQL database `<prefix><service>` (dropped and created again on every run). Ports are free ones, so
a `make run` on the default ports is never disturbed.
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
    ports: dict[str, int] = field(default_factory=dict)

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
) -> BenchStack:
    """Fresh databases and JetStream store, the services started and ready (migrated at start)."""
    if admin_url is not None:
        pgdev.drop_databases(admin_url, db_prefix)
        urls = pgdev.ensure_databases(admin_url, db_prefix).urls
    else:
        urls = {service: f"sqlite+aiosqlite:///{var_dir / f'{service}.db'}" for service in SERVICES}
    ports = {service: free_port() for service in SERVICES}
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
    stack = DevStack(var_dir)
    stack.start()
    bench = BenchStack(
        backend="sqlite" if admin_url is None else "postgresql",
        var_dir=var_dir,
        stack=stack,
        database_urls=urls,
        ports=ports,
    )
    try:
        stack.wait_ready()
    except BaseException:
        stack.stop()
        raise
    return bench
