"""Real processes for fault tests: services under `python -m common.serve`, a nats-server to kill -9, and a
TCP proxy between a service and its database whose connections can be cut and restored."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import IO

import httpx

from common.embedded_nats import EmbeddedNats, _die_with_parent, free_port

READY_TIMEOUT_S = 90.0


def service_env(
    service: str,
    *,
    port: int,
    database_url: str,
    nats_url: str,
    secret: str,
    var_dir: Path,
    **settings: str | int | float | bool,
) -> dict[str, str]:
    """The environment of one service process: its port and database, the shared NATS and secret, and any
    further settings of the service given by their field name (`consumer_ack_wait_s=3`)."""
    prefix = service.upper()
    env = {
        **os.environ,
        "APP_ENV": "test",
        "LOG_LEVEL": "WARNING",
        "NATS_URL": nats_url,
        "INTERNAL_SECRET": secret,
        "VAR_DIR": str(var_dir),
        f"{prefix}_PORT": str(port),
        f"{prefix}_DATABASE_URL": database_url,
    }
    for name, value in settings.items():
        env[f"{prefix}_{name.upper()}"] = str(value).lower() if isinstance(value, bool) else str(value)
    return env


class ServiceProcess:
    """One service as production runs it (`python -m common.serve <service> --no-migrate`), on a real port."""

    def __init__(self, service: str, *, port: int, env: Mapping[str, str], log_file: Path) -> None:
        self.service = service
        self.port = port
        self.env = dict(env)
        self.log_file = log_file
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self._log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> None:
        if self.running:
            raise RuntimeError(f"{self.service} is already running")
        self._close_log()
        self._log = open(self.log_file, "ab")  # noqa: SIM115 - closed when the process is gone
        self.process = subprocess.Popen(  # noqa: S603 - this interpreter with our own arguments
            [sys.executable, "-m", "common.serve", self.service, "--no-migrate"],
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,  # never outlive the test run
        )
        self.starts += 1

    def kill(self) -> None:
        """kill -9: no shutdown code runs, whatever was in flight is cut where it stood."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()
        self._close_log()

    def stop(self, timeout_s: float = 15.0) -> None:
        """A clean stop (SIGTERM), killed if it takes longer than the timeout."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._close_log()

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    async def wait_ready(self, timeout: float = READY_TIMEOUT_S) -> None:
        """Wait until /readyz answers 200 (database and NATS reachable); fail early if the process died."""
        deadline = asyncio.get_running_loop().time() + timeout
        async with httpx.AsyncClient(timeout=2.0) as client:
            while True:
                if self.process is None or self.process.poll() is not None:
                    raise RuntimeError(f"{self.service} exited before it was ready:\n{self.log_tail()}")
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get(f"{self.url}/readyz")).status_code == 200:
                        return
                if asyncio.get_running_loop().time() > deadline:
                    raise TimeoutError(f"{self.service} not ready after {timeout:.0f}s:\n{self.log_tail()}")
                await asyncio.sleep(0.1)

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None


def kill_nats(server: EmbeddedNats) -> None:
    """kill -9 the server: nothing is flushed or closed; `server.start()` brings it back on the same port and
    JetStream store."""
    process = server.process
    if process is not None and process.poll() is None:
        process.send_signal(signal.SIGKILL)
        process.wait()
    server.process = None


class TcpProxy:
    """A TCP hop between a client and a server (a service and its PostgreSQL) that a test can cut and restore.

    Cut: the listening socket closes, so new connections are refused at once, and every open connection is
    aborted, as when the database host restarts or the network drops it. Restore: the same port listens
    again and forwards as before.
    """

    def __init__(self, target_host: str, target_port: int, *, port: int | None = None) -> None:
        self.target_host = target_host
        self.target_port = target_port
        self.port = port or free_port()
        self.connections = 0
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()
        self._pumps: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)

    async def cut(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._open):
            writer.transport.abort()
        self._open.clear()

    async def restore(self) -> None:
        if self._server is None:
            await self.start()

    async def close(self) -> None:
        await self.cut()
        for pump in list(self._pumps):
            pump.cancel()
        if self._pumps:
            await asyncio.wait(self._pumps, timeout=5)

    async def _accept(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            server_reader, server_writer = await asyncio.open_connection(self.target_host, self.target_port)
        except OSError:
            client_writer.transport.abort()
            return
        self.connections += 1
        pair = (client_writer, server_writer)
        self._open.update(pair)
        for reader, writer in ((client_reader, server_writer), (server_reader, client_writer)):
            pump = asyncio.create_task(self._pump(reader, writer, pair))
            self._pumps.add(pump)
            pump.add_done_callback(self._pumps.discard)

    async def _pump(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        pair: tuple[asyncio.StreamWriter, asyncio.StreamWriter],
    ) -> None:
        try:
            while chunk := await reader.read(65536):
                writer.write(chunk)
                await writer.drain()
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            # One side gone: the whole connection goes, as it would without the hop.
            for side in pair:
                side.transport.abort()
                self._open.discard(side)
