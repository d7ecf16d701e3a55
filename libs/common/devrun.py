"""`make run`: NATS from the wheel and the five services on SQLite under var/, stopped cleanly on Ctrl-C.

python -m common.devrun [--postgres [ADMIN_URL] [--db-prefix ybj_]]

With --postgres (`make run-pg`) every service runs on that PostgreSQL server instead, in a database
`<prefix><service>` created when missing; the rest (NATS, logs, Ctrl-C) is the same.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import IO

from common import pgdev
from common.embedded_nats import EmbeddedNats, port_open
from common.serve import SERVICES, settings_for

READY_TIMEOUT_S = 90.0


class DevStack:
    """The processes of a local platform: an embedded NATS (unless NATS_URL points elsewhere) and services."""

    def __init__(self, var_dir: Path) -> None:
        self.var_dir = var_dir
        self.logs = var_dir / "logs"
        self.nats: EmbeddedNats | None = None
        self.children: dict[str, subprocess.Popen[bytes]] = {}
        self._log_files: list[IO[bytes]] = []

    def start(self) -> None:
        self.logs.mkdir(parents=True, exist_ok=True)
        if not os.environ.get("NATS_URL"):
            port = int(os.environ.get("NATS_PORT", "4223"))
            self.nats = EmbeddedNats(
                port=port, store_dir=self.var_dir / "nats", log_file=self.logs / "nats.log"
            )
            self.nats.start()
            os.environ["NATS_URL"] = self.nats.url
            print(f"  nats        {self.nats.url} (JetStream store {self.var_dir / 'nats'})", flush=True)
        for service in SERVICES:
            settings = settings_for(service)
            if port_open(settings.port, "127.0.0.1"):
                raise RuntimeError(
                    f"port {settings.port} for {service} is taken; set {service.upper()}_PORT to a free one"
                )
            log_file = open(self.logs / f"{service}.log", "ab")  # noqa: SIM115 - closed in stop()
            self._log_files.append(log_file)
            # Each service in its own session: Ctrl-C reaches this supervisor only, which then stops them in order.
            self.children[service] = subprocess.Popen(  # noqa: S603
                [sys.executable, "-m", "common.serve", service],
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        pending = set(SERVICES)
        while pending:
            for service in sorted(pending):
                process = self.children[service]
                if process.poll() is not None:
                    raise RuntimeError(
                        f"{service} exited with {process.returncode}; see {self.logs}/{service}.log"
                    )
                if _ready(settings_for(service).base_url):
                    pending.discard(service)
            if time.monotonic() > deadline:
                raise TimeoutError(f"not ready after {READY_TIMEOUT_S:.0f}s: {', '.join(sorted(pending))}")
            time.sleep(0.2)

    def stop(self) -> None:
        for process in self.children.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        for service, process in self.children.items():
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                print(f"  {service} did not stop in time; killing it", flush=True)
                process.kill()
                process.wait()
        if self.nats is not None:
            self.nats.stop()
        for log_file in self._log_files:
            log_file.close()

    def any_exited(self) -> str | None:
        for service, process in self.children.items():
            if process.poll() is not None:
                return service
        return None


def _describe(databases: pgdev.DevDatabases) -> str:
    names = ", ".join(databases.names.values())
    created = f" (created now: {', '.join(databases.created)})" if databases.created else ""
    return f"{databases.server}  databases {names}{created}"


def _ready(base_url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base_url}/readyz", timeout=1) as response:  # noqa: S310 - our own URL
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _show_bootstrap_key(var_dir: Path) -> None:
    """The first start of a fresh install prints the ops key the gateway created, once."""
    key_file, shown = var_dir / "bootstrap-ops-key", var_dir / "bootstrap-ops-key.shown"
    if key_file.exists() and not shown.exists():
        print(
            f"\n  Bootstrap ops API key (shown once; kept in {key_file}):\n    {key_file.read_text().strip()}\n"
            f"  Use it as 'Authorization: Bearer <key>', and issue the other keys with POST /admin/clients.",
            flush=True,
        )
        shown.touch()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m common.devrun", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--postgres",
        nargs="?",
        const=pgdev.DEFAULT_ADMIN_URL,
        metavar="ADMIN_URL",
        help=f"run every service on this PostgreSQL server (default {pgdev.DEFAULT_ADMIN_URL}); "
        "a role that may CREATE DATABASE",
    )
    parser.add_argument(
        "--db-prefix",
        metavar="PREFIX",
        help=f"with --postgres: the databases are <PREFIX><service> (default {pgdev.DEFAULT_PREFIX})",
    )
    args = parser.parse_args(argv)
    if args.db_prefix is not None and args.postgres is None:
        parser.error("--db-prefix needs --postgres")

    var_dir = Path(os.environ.get("VAR_DIR", "var")).resolve()
    os.environ["VAR_DIR"] = str(var_dir)
    prefix = args.db_prefix or pgdev.DEFAULT_PREFIX
    # On PostgreSQL the JetStream store and logs live apart from `make run`'s (var/pg-ybj/ by default):
    # durable consumer positions belong with the databases that recorded what they applied.
    stack = DevStack(var_dir if args.postgres is None else var_dir / f"pg-{prefix}".rstrip("_-"))
    stopping = False

    def request_stop(_signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    databases: pgdev.DevDatabases | None = None
    if args.postgres is not None:
        try:
            databases = pgdev.ensure_databases(args.postgres, prefix)
        except pgdev.PostgresError as exc:
            print(f"Could not start: {exc}", file=sys.stderr, flush=True)
            return 1
        except KeyboardInterrupt:
            return 130
        for service, url in databases.urls.items():
            os.environ[f"{service.upper()}_DATABASE_URL"] = url

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    if databases is None:
        print(
            "Starting the medical-insurance platform (SQLite under var/, logs in var/logs/) ...", flush=True
        )
    else:
        print(
            f"Starting the medical-insurance platform (PostgreSQL, logs in {stack.logs}/) ...",
            flush=True,
        )
        print(f"  postgres    {_describe(databases)}", flush=True)
    started = time.monotonic()
    try:
        stack.start()
        stack.wait_ready()
        gateway = settings_for("gateway").base_url
        print(f"\nReady in {time.monotonic() - started:.1f}s.\n", flush=True)
        print(f"  API docs    {gateway}/docs        <- start here", flush=True)
        print(f"  gateway     {gateway}", flush=True)
        for service in SERVICES[1:]:
            url = settings_for(service).base_url
            print(
                f"  {service:<11} {url}  (docs {url}/docs; reached through {gateway}/{service}/...)",
                flush=True,
            )
        if databases is not None:
            print(f"  postgres    {_describe(databases)}", flush=True)
        print(f"  logs        {stack.logs}/", flush=True)
        _show_bootstrap_key(Path(os.environ["VAR_DIR"]))
        print("\nPress Ctrl-C to stop.", flush=True)
        while not stopping:
            exited = stack.any_exited()
            if exited:
                print(f"{exited} exited unexpectedly; see {stack.logs}/{exited}.log. Stopping.", flush=True)
                return 1
            time.sleep(0.3)
        return 0
    except (RuntimeError, TimeoutError) as exc:
        print(f"Could not start: {exc}", file=sys.stderr, flush=True)
        return 1
    finally:
        print("\nStopping ...", flush=True)
        stack.stop()
        print("Stopped.", flush=True)


if __name__ == "__main__":
    sys.exit(main())
