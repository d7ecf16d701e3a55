"""`make run` as a newcomer uses it: everything starts with NATS from the wheel, Ctrl-C stops it.

On SQLite (`make run`) always; on PostgreSQL (`make run-pg`, i.e. devrun --postgres) too when
TEST_POSTGRES_URL is set, in fresh databases with a unique prefix that are dropped afterwards, so the
ybj_* databases of a developer's `make run-pg` are never touched.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from common import pgdev
from common.db import create_engine
from common.embedded_nats import free_port, port_open
from common.testing.databases import backends, postgres_admin_url

pytestmark = pytest.mark.slow  # a smoke run of a whole program: `make test-slow`, in CI

SERVICES = ("gateway", "enrollment", "settlement", "pricing", "fraud")


@pytest.mark.parametrize("backend", backends())
def test_the_whole_platform_starts_answers_through_the_gateway_and_stops_on_ctrl_c(
    tmp_path: Path, backend: str
) -> None:
    ports = {
        name: free_port() for name in ("GATEWAY", "ENROLLMENT", "SETTLEMENT", "PRICING", "FRAUD", "NATS")
    }
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("NATS_URL", "TEST_")) and not key.endswith("_DATABASE_URL")
    }
    env.update({f"{name}_PORT": str(port) for name, port in ports.items()})
    env.update(
        {
            f"GATEWAY_{name}_URL": f"http://127.0.0.1:{ports[name]}"
            for name in ("ENROLLMENT", "SETTLEMENT", "PRICING", "FRAUD")
        }
    )
    env["VAR_DIR"] = str(tmp_path / "var")
    command = [sys.executable, "-m", "common.devrun"]
    admin = postgres_admin_url() if backend == "postgres" else None
    prefix = f"ybj_e2e_{uuid.uuid4().hex[:8]}_"
    if admin is not None:
        command += ["--postgres", admin, "--db-prefix", prefix]
    output: list[str] = []
    try:
        process = subprocess.Popen(
            command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        try:
            assert process.stdout is not None
            deadline = time.monotonic() + 90
            while not any("Press Ctrl-C" in line for line in output):
                line = process.stdout.readline()
                assert line or process.poll() is None, "".join(output)
                output.append(line)
                assert time.monotonic() < deadline, "".join(output)
            printed = "".join(output)
            gateway = f"http://127.0.0.1:{ports['GATEWAY']}"
            # The docs come first in what a newcomer reads.
            assert printed.index(f"{gateway}/docs") < printed.index(f"http://127.0.0.1:{ports['ENROLLMENT']}")

            assert httpx.get(f"{gateway}/docs").status_code == 200
            overall = httpx.get(f"{gateway}/readyz")
            assert overall.json()["status"] == "ready"
            assert {
                name: overall.json()["checks"][name]
                for name in ("enrollment", "settlement", "pricing", "fraud")
            } == {"enrollment": "ok", "settlement": "ok", "pricing": "ok", "fraud": "ok"}
            # A fresh install prints its bootstrap ops key once; it opens the services through the gateway.
            key_file = tmp_path / "var" / "bootstrap-ops-key"
            key = key_file.read_text().strip()
            assert printed.count(key) == 1
            assert key_file.stat().st_mode & 0o777 == 0o600
            assert httpx.get(f"{gateway}/enrollment/readyz").status_code == 401
            for service in ("enrollment", "settlement", "pricing", "fraud"):
                ready = httpx.get(f"{gateway}/{service}/readyz", headers={"Authorization": f"Bearer {key}"})
                assert ready.json()["checks"] == {"database": "ok", "nats": "ok"}, service
            databases = sorted(path.name for path in (tmp_path / "var").glob("*.db"))
            if admin is None:
                assert databases == [
                    "enrollment.db",
                    "fraud.db",
                    "gateway.db",
                    "pricing.db",
                    "settlement.db",
                ]
            else:
                assert databases == []  # nothing fell back to SQLite
                for service in SERVICES:
                    assert f"{prefix}{service}" in printed, "the databases in use are printed"
                    url = pgdev.admin_url(admin).set(database=f"{prefix}{service}")
                    tables = asyncio.run(_tables(url.render_as_string(hide_password=False)))
                    assert {"outbox_event", "inbox_event", "alembic_version"} <= tables, service
            # `make run-pg` keeps its JetStream store and logs apart from `make run`'s.
            state = tmp_path / "var" if admin is None else tmp_path / "var" / f"pg-{prefix.rstrip('_')}"
            assert (state / "nats" / "jetstream").is_dir()
            assert (state / "logs" / "settlement.log").is_file()

            process.send_signal(signal.SIGINT)
            rest, _ = process.communicate(timeout=30)
            output.append(rest)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    finally:
        if admin is not None:
            pgdev.drop_databases(admin, prefix)
    assert process.returncode == 0, "".join(output)
    assert "Stopped." in "".join(output)
    assert not any(port_open(port) for port in ports.values())


def test_run_pg_without_a_reachable_postgres_says_so_in_one_line(tmp_path: Path) -> None:
    nowhere = free_port()  # nothing listens there
    env = {key: value for key, value in os.environ.items() if not key.startswith(("NATS_URL", "TEST_"))}
    env["VAR_DIR"] = str(tmp_path / "var")
    result = subprocess.run(
        [sys.executable, "-m", "common.devrun", "--postgres", f"postgresql://postgres@127.0.0.1:{nowhere}/x"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"Could not start: PostgreSQL at postgresql://postgres@127.0.0.1:{nowhere}")
    assert "cannot connect" in lines[0]
    assert not (tmp_path / "var").exists()  # nothing was started


async def _tables(url: str) -> set[str]:
    engine = create_engine(url, pool_size=1, max_overflow=0)
    try:
        async with engine.connect() as connection:
            rows = await connection.scalars(
                sa.text("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
            )
            return set(rows)
    finally:
        await engine.dispose()
