"""`make run`: NATS from the wheel and the five services on SQLite under var/, stopped cleanly on Ctrl-C.

python -m common.devrun [--postgres [ADMIN_URL] [--db-prefix ybj_] [--replicas N]]

With --postgres (`make run-pg`) every service runs on that PostgreSQL server instead, in a database
`<prefix><service>` created when missing; the rest (NATS, logs, Ctrl-C) is the same. With --replicas N
(`make run-pg ARGS="--replicas 2"`) each of the four domain services runs as N processes on one database,
replica k on the service's port + 100 × (k − 1), and the one gateway spreads the requests over them.
SQLite is refused: it has one writer per file, so a second process would only queue behind the first.
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
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO

from common import pgdev
from common.embedded_nats import EmbeddedNats, port_open
from common.serve import SERVICES, settings_for

READY_TIMEOUT_S = 90.0
REPLICA_PORT_STEP = 100  # replica k of a service listens on its port + 100 × (k − 1): 8002, 8102, ...
MAX_REPLICAS = 9


def replica_name(service: str, index: int) -> str:
    """The first replica goes by the service's name (its log is <service>.log), the others <service>-<k>."""
    return service if index == 1 else f"{service}-{index}"


class DevStack:
    """The processes of a local platform: an embedded NATS (unless NATS_URL points elsewhere) and services.

    With `replicas` above 1 each domain service runs as that many processes (they share its database, which
    must then be PostgreSQL), on the ports given in `ports` (service -> one per replica) or else on the
    service's port + 100 × (k − 1); the gateway, one process, is told every replica's URL.
    """

    def __init__(
        self, var_dir: Path, *, replicas: int = 1, ports: Mapping[str, Sequence[int]] | None = None
    ) -> None:
        if not 1 <= replicas <= MAX_REPLICAS:
            raise ValueError(f"replicas must be between 1 and {MAX_REPLICAS}, not {replicas}")
        self.var_dir = var_dir
        self.logs = var_dir / "logs"
        self.replicas = replicas
        self.nats: EmbeddedNats | None = None
        self.children: dict[str, subprocess.Popen[bytes]] = {}
        self.urls: dict[str, str] = {}  # process name (settlement, settlement-2, ...) -> its base URL
        self._ports = {service: list(given) for service, given in (ports or {}).items()}
        self._log_files: list[IO[bytes]] = []

    def replica_urls(self, service: str) -> list[str]:
        """The base URLs of the service's processes, the first replica first."""
        count = 1 if service == "gateway" else self.replicas
        return [self.urls[replica_name(service, index)] for index in range(1, count + 1)]

    def _plan(self) -> list[tuple[str, str, int, str]]:
        """(process name, service, port, base URL) of every process, the gateway first."""
        planned = []
        for service in SERVICES:
            settings = settings_for(service)
            count = 1 if service == "gateway" else self.replicas
            ports = self._ports.get(service) or [
                settings.port + REPLICA_PORT_STEP * index for index in range(count)
            ]
            if len(ports) != count:
                raise ValueError(f"{service}: {len(ports)} ports given for {count} replicas")
            for index, port in enumerate(ports, start=1):
                url = settings.model_copy(update={"port": port}).base_url
                planned.append((replica_name(service, index), service, port, url))
        return planned

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
        planned = self._plan()
        for name, service, port, _url in planned:
            if port_open(port, "127.0.0.1"):
                hint = (
                    f"set {service.upper()}_PORT to a free one"
                    if name == service
                    else f"replica k listens on {service.upper()}_PORT + {REPLICA_PORT_STEP} × (k − 1)"
                )
                raise RuntimeError(f"port {port} for {name} is taken; {hint}")
        self.urls = {name: url for name, _service, _port, url in planned}
        for name, service, port, _url in planned:
            env = None
            if self.replicas > 1:
                env = {**os.environ, f"{service.upper()}_PORT": str(port)}
                if service == "gateway":
                    env.update(
                        {
                            f"GATEWAY_{upstream.upper()}_URL": ",".join(self.replica_urls(upstream))
                            for upstream in SERVICES[1:]
                        }
                    )
            log_file = open(self.logs / f"{name}.log", "ab")  # noqa: SIM115 - closed in stop()
            self._log_files.append(log_file)
            # Each service in its own session: Ctrl-C reaches this supervisor only, which then stops them in order.
            self.children[name] = subprocess.Popen(  # noqa: S603
                [sys.executable, "-m", "common.serve", service],
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env=env,
            )

    def wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        pending = set(self.children)
        while pending:
            for name in sorted(pending):
                process = self.children[name]
                if process.poll() is not None:
                    raise RuntimeError(f"{name} exited with {process.returncode}; see {self.logs}/{name}.log")
                if _ready(self.urls[name]):
                    pending.discard(name)
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
    parser.add_argument(
        "--replicas",
        type=int,
        default=1,
        metavar="N",
        help="with --postgres: N processes of each domain service on one database (replica k on the port "
        f"+ {REPLICA_PORT_STEP} × (k − 1)), one gateway spreading the requests over them (default 1)",
    )
    args = parser.parse_args(argv)
    if args.db_prefix is not None and args.postgres is None:
        parser.error("--db-prefix needs --postgres")
    if not 1 <= args.replicas <= MAX_REPLICAS:
        parser.error(f"--replicas takes 1 to {MAX_REPLICAS}")
    if args.replicas > 1 and args.postgres is None:
        parser.error(
            '--replicas needs --postgres (make run-pg ARGS="--replicas 2"): SQLite has one writer per file, '
            "so a second process of a service would only wait for the first one's lock"
        )

    var_dir = Path(os.environ.get("VAR_DIR", "var")).resolve()
    os.environ["VAR_DIR"] = str(var_dir)
    prefix = args.db_prefix or pgdev.DEFAULT_PREFIX
    # On PostgreSQL the JetStream store and logs live apart from `make run`'s (var/pg-ybj/ by default):
    # durable consumer positions belong with the databases that recorded what they applied.
    stack = DevStack(
        var_dir if args.postgres is None else var_dir / f"pg-{prefix}".rstrip("_-"), replicas=args.replicas
    )
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
        replicas = f", {args.replicas} processes of each service" if args.replicas > 1 else ""
        print(
            f"Starting the medical-insurance platform (PostgreSQL{replicas}, logs in {stack.logs}/) ...",
            flush=True,
        )
        print(f"  postgres    {_describe(databases)}", flush=True)
    started = time.monotonic()
    try:
        stack.start()
        stack.wait_ready()
        gateway = stack.urls["gateway"]
        print(f"\nReady in {time.monotonic() - started:.1f}s.\n", flush=True)
        print(f"  API docs    {gateway}/docs        <- start here", flush=True)
        print(f"  gateway     {gateway}", flush=True)
        for service in SERVICES[1:]:
            url, *others = stack.replica_urls(service)
            print(
                f"  {service:<11} {url}  (docs {url}/docs; reached through {gateway}/{service}/...)",
                flush=True,
            )
            for index, other in enumerate(others, start=2):
                print(
                    f"  {'':<11} {other}  (replica {index}, {replica_name(service, index)}.log)", flush=True
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
