"""The platform for the demo: common.devrun's DevStack on free ports in its own var dir, on a simulated clock."""

from __future__ import annotations

import os
import shutil
from datetime import datetime
from pathlib import Path

from bench.city import simclock
from common.devrun import DevStack
from common.embedded_nats import free_port
from common.serve import SERVICES

REPO = Path(__file__).resolve().parents[2]
SITE = Path(__file__).resolve().parent / "simclock_site"


class SimulatedStack:
    """NATS and the five services (SQLite under `var_dir`) whose clock the caller moves with `set_time`.

    The environment is set in this process (DevStack starts its children with it), so run it from a
    process of its own, as bench/demo.py does.
    """

    def __init__(self, var_dir: Path, *, at: datetime, review_timeout_ms: int = 2000) -> None:
        self.var_dir = var_dir.resolve()
        self.clock_file = self.var_dir / "simclock.json"
        self.at = at
        self.review_timeout_ms = review_timeout_ms
        self.ports: dict[str, int] = {}
        self.stack: DevStack | None = None

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['gateway']}"

    def start(self) -> None:
        if self.var_dir.exists():
            shutil.rmtree(self.var_dir)
        self.var_dir.mkdir(parents=True)
        simclock.set_time(self.clock_file, self.at)
        self.ports = {name: free_port() for name in (*SERVICES, "nats")}
        env = os.environ
        for name in [key for key in env if key.endswith("_DATABASE_URL") or key == "NATS_URL"]:
            del env[name]  # embedded defaults: SQLite under var_dir, NATS from the wheel
        env["VAR_DIR"] = str(self.var_dir)
        env["NATS_PORT"] = str(self.ports["nats"])
        for service in SERVICES:
            env[f"{service.upper()}_PORT"] = str(self.ports[service])
            if service != "gateway":
                env[f"GATEWAY_{service.upper()}_URL"] = f"http://127.0.0.1:{self.ports[service]}"
        # Fraud answers within the budget even on two busy cores: the planted reuse must be blocked, not skipped.
        env["SETTLEMENT_REVIEW_TIMEOUT_MS"] = str(self.review_timeout_ms)
        env[simclock.ENV] = str(self.clock_file)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, (str(SITE), str(REPO), env.get("PYTHONPATH"))))
        self.stack = DevStack(self.var_dir)
        self.stack.start()
        self.stack.wait_ready()

    def ops_key(self) -> str:
        return (self.var_dir / "bootstrap-ops-key").read_text().strip()

    def set_time(self, at: datetime) -> None:
        """Move every process's clock to `at` (it runs on from there at the real pace)."""
        self.at = at
        simclock.set_time(self.clock_file, at)

    def exited(self) -> str | None:
        return self.stack.any_exited() if self.stack else None

    def stop(self) -> None:
        if self.stack is not None:
            self.stack.stop()
            self.stack = None
