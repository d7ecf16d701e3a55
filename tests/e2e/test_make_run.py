"""`make run` as a newcomer uses it: everything starts on SQLite with NATS from the wheel, Ctrl-C stops it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from common.embedded_nats import free_port, port_open


def test_the_whole_platform_starts_answers_through_the_gateway_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    ports = {
        name: free_port() for name in ("GATEWAY", "ENROLLMENT", "SETTLEMENT", "PRICING", "FRAUD", "NATS")
    }
    env = {key: value for key, value in os.environ.items() if not key.startswith(("NATS_URL", "TEST_"))}
    env.update({f"{name}_PORT": str(port) for name, port in ports.items()})
    env.update(
        {
            f"GATEWAY_{name}_URL": f"http://127.0.0.1:{ports[name]}"
            for name in ("ENROLLMENT", "SETTLEMENT", "PRICING", "FRAUD")
        }
    )
    env["VAR_DIR"] = str(tmp_path / "var")
    process = subprocess.Popen(
        [sys.executable, "-m", "common.devrun"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output: list[str] = []
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
        for service in ("enrollment", "settlement", "pricing", "fraud"):
            ready = httpx.get(f"{gateway}/{service}/readyz")
            assert ready.json()["checks"] == {"database": "ok", "nats": "ok"}, service
        assert sorted(path.name for path in (tmp_path / "var").glob("*.db")) == [
            "enrollment.db",
            "fraud.db",
            "gateway.db",
            "pricing.db",
            "settlement.db",
        ]
        assert (tmp_path / "var" / "nats" / "jetstream").is_dir()

        process.send_signal(signal.SIGINT)
        rest, _ = process.communicate(timeout=30)
        output.append(rest)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, "".join(output)
    assert "Stopped." in "".join(output)
    assert not any(port_open(port) for port in ports.values())
